"""TokenManager against the fake token endpoint: when it refreshes, single-flight, failures."""

from __future__ import annotations

import asyncio
import json
import logging
import stat
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.support.fake_chatgpt import FakeChatGPT
from wirebridge.auth.chatgpt import CODEX_CLIENT_ID, ChatGPTAuthError, TokenManager
from wirebridge.auth.jwt import jwt_expiry


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def manager(fake: FakeChatGPT, path: Path, margin: float = 300.0) -> TokenManager:
    return TokenManager(path, token_url=fake.token_url, refresh_margin=margin)


async def test_far_from_expiry_no_refresh(
    fake: FakeChatGPT, tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    path = tmp_path / "auth.json"
    issued = fake.write_auth_file(path, ttl=3600)
    tokens = await manager(fake, path).current(session)
    assert tokens.access_token == issued["access_token"]
    assert tokens.account_id == fake.account_id
    assert fake.refresh_calls == []


async def test_near_expiry_refreshes_and_writes_the_file_back(
    fake: FakeChatGPT, tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    path = tmp_path / "auth.json"
    issued = fake.write_auth_file(path, ttl=120)  # inside the 300 s margin
    before = json.loads(path.read_text())
    tm = manager(fake, path)
    tokens = await tm.current(session)
    assert tokens.access_token != issued["access_token"]
    assert tokens.expires_at is not None and tokens.expires_at > time.time() + 3000
    assert len(fake.refresh_calls) == 1
    call = fake.refresh_calls[0]
    assert call.headers["content-type"].startswith("application/json")  # as Codex sends it
    assert call.body == {
        "client_id": CODEX_CLIENT_ID,
        "grant_type": "refresh_token",
        "refresh_token": issued["refresh_token"],
    }
    after = json.loads(path.read_text())
    assert after["tokens"]["access_token"] == tokens.access_token
    assert after["tokens"]["refresh_token"] != issued["refresh_token"]  # rotated
    assert after["tokens"]["account_id"] == fake.account_id
    assert after["OPENAI_API_KEY"] is None
    assert after["last_refresh"] != before["last_refresh"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # the next request uses the refreshed token without another refresh
    assert (await tm.current(session)).access_token == tokens.access_token
    assert len(fake.refresh_calls) == 1


async def test_margin_is_configurable(
    fake: FakeChatGPT, tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    path = tmp_path / "auth.json"
    fake.write_auth_file(path, ttl=120)
    await manager(fake, path, margin=60).current(session)
    assert fake.refresh_calls == []
    await manager(fake, path, margin=180).current(session)
    assert len(fake.refresh_calls) == 1


async def test_concurrent_requests_share_one_refresh(
    fake: FakeChatGPT, tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    path = tmp_path / "auth.json"
    fake.write_auth_file(path, ttl=30)
    fake.refresh_delay = 0.3
    tm = manager(fake, path)
    results = await asyncio.gather(*(tm.current(session) for _ in range(25)))
    assert len(fake.refresh_calls) == 1
    assert len({t.access_token for t in results}) == 1
    assert tm.refreshes == 1


async def test_concurrent_401s_share_one_refresh_and_late_ones_reuse_it(
    fake: FakeChatGPT, tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    path = tmp_path / "auth.json"
    fake.write_auth_file(path, ttl=3600)
    fake.refresh_delay = 0.2
    tm = manager(fake, path)
    stale = await tm.current(session)
    fresh = await asyncio.gather(*(tm.refresh(session, stale) for _ in range(10)))
    assert len({t.access_token for t in fresh}) == 1
    assert fresh[0].access_token != stale.access_token
    # a request that was answered 401 for the old token after the refresh landed
    late = await tm.refresh(session, stale)
    assert late.access_token == fresh[0].access_token
    assert len(fake.refresh_calls) == 1


async def test_a_waiter_that_leaves_does_not_cancel_the_refresh(
    fake: FakeChatGPT, tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    path = tmp_path / "auth.json"
    fake.write_auth_file(path, ttl=10)
    fake.refresh_delay = 0.3
    tm = manager(fake, path)
    leaver = asyncio.create_task(tm.current(session))
    stayer = asyncio.create_task(tm.current(session))
    await asyncio.sleep(0.1)
    leaver.cancel()
    tokens = await stayer
    assert jwt_expiry(tokens.access_token) is not None
    assert len(fake.refresh_calls) == 1
    assert json.loads(path.read_text())["tokens"]["access_token"] == tokens.access_token


async def test_a_refresh_made_by_another_process_is_picked_up(
    fake: FakeChatGPT, tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    path = tmp_path / "auth.json"
    fake.write_auth_file(path, ttl=3600)
    tm = manager(fake, path)
    stale = await tm.current(session)
    other = fake.write_auth_file(path, ttl=3600)  # e.g. Codex refreshed the same file
    tokens = await tm.refresh(session, stale)
    assert tokens.access_token == other["access_token"]
    assert fake.refresh_calls == []


async def test_a_reused_refresh_token_is_permanent(
    fake: FakeChatGPT, tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    path = tmp_path / "auth.json"
    fake.write_auth_file(path, ttl=-5)  # expired: a failed refresh cannot fall back
    old = path.read_text()
    tm = manager(fake, path)
    await tm.current(session)  # spends the refresh token in the file
    path.write_text(old)  # a stale copy (restored backup) still names the spent token
    with pytest.raises(ChatGPTAuthError) as e:
        await manager(fake, path).current(session)
    assert e.value.permanent
    assert "already used" in e.value.message
    assert "wirebridge login chatgpt" in e.value.message


async def test_failed_refresh_keeps_a_still_valid_token(
    fake: FakeChatGPT,
    tmp_path: Path,
    session: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = tmp_path / "auth.json"
    issued = fake.write_auth_file(path, ttl=100)
    fake.fail_refresh(503, "temporarily_unavailable")
    with caplog.at_level(logging.WARNING, "wirebridge.auth"):
        tokens = await manager(fake, path).current(session)
    assert tokens.access_token == issued["access_token"]
    assert "refresh failed" in caplog.text


async def test_failed_refresh_of_an_expired_token_raises(
    fake: FakeChatGPT, tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    path = tmp_path / "auth.json"
    fake.write_auth_file(path, ttl=-10)
    fake.fail_refresh(503, "temporarily_unavailable", "try later")
    with pytest.raises(ChatGPTAuthError) as e:
        await manager(fake, path).current(session)
    assert "HTTP 503" in e.value.message and "try later" in e.value.message
    assert not e.value.permanent


async def test_unreachable_token_endpoint(tmp_path: Path, session: aiohttp.ClientSession) -> None:
    fake = FakeChatGPT().start()
    path = tmp_path / "auth.json"
    fake.write_auth_file(path, ttl=-1)
    url = fake.token_url
    fake.close()
    tm = TokenManager(path, token_url=url, timeout=5)
    with pytest.raises(ChatGPTAuthError, match="Could not reach the token endpoint"):
        await tm.current(session)


async def test_file_changes_are_seen_without_restart(
    fake: FakeChatGPT, tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    path = tmp_path / "auth.json"
    fake.write_auth_file(path, ttl=3600)
    tm = manager(fake, path)
    first = await tm.current(session)
    second = fake.write_auth_file(path, ttl=3600, account_id="acct-other")  # a new sign-in
    tokens = await tm.current(session)
    assert tokens.access_token == second["access_token"] != first.access_token
    assert tokens.account_id == "acct-other"


async def test_tokens_shorter_lived_than_the_margin_do_not_cause_a_refresh_storm(
    fake: FakeChatGPT,
    tmp_path: Path,
    session: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = tmp_path / "auth.json"
    fake.write_auth_file(path, ttl=100)
    fake.token_ttl = 120  # every token the endpoint issues is due at once (margin 300)
    tm = manager(fake, path)
    first = await tm.current(session)
    with caplog.at_level(logging.WARNING, "wirebridge.auth"):
        for _ in range(5):
            assert (await tm.current(session)).access_token == first.access_token
    assert len(fake.refresh_calls) == 1
    assert caplog.text.count("lower refresh_margin_seconds") == 1
