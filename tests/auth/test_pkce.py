"""The PKCE sign-in: challenge, authorize URL, and the whole flow against the fake issuer."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from tests.support.fake_chatgpt import FakeChatGPT
from wirebridge.auth.chatgpt import CODEX_CLIENT_ID, ChatGPTAuthError
from wirebridge.auth.pkce import (
    LoginFlow,
    LoginSettings,
    authorize_url,
    code_challenge,
    generate_pkce,
    generate_state,
    login,
)


def test_s256_challenge_matches_rfc7636_appendix_b() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert code_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_generated_verifier_is_valid_and_fresh() -> None:
    a, b = generate_pkce(), generate_pkce()
    assert a.verifier != b.verifier
    assert 43 <= len(a.verifier) <= 128
    assert set(a.verifier) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
    )
    assert a.challenge == code_challenge(a.verifier)
    assert len(a.challenge) == 43 and "=" not in a.challenge
    assert generate_state() != generate_state()


def test_authorize_url_carries_what_codex_sends() -> None:
    url = authorize_url(
        "https://auth.example/oauth/authorize",
        client_id="app_x",
        redirect_uri="http://localhost:1455/auth/callback",
        challenge="CH",
        state="ST",
    )
    parts = urlsplit(url)
    assert parts.netloc == "auth.example" and parts.path == "/oauth/authorize"
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert q == {
        "response_type": "code",
        "client_id": "app_x",
        "redirect_uri": "http://localhost:1455/auth/callback",
        "scope": "openid profile email offline_access",
        "code_challenge": "CH",
        "code_challenge_method": "S256",
        "id_token_add_organizations": "true",
        "codex_cli_simplified_flow": "true",
        "state": "ST",
        "originator": "codex_cli_rs",
    }
    assert "%20" in parts.query and "+" not in parts.query  # spaces as %20, not +


def settings(fake: FakeChatGPT, path: Path, **kw: object) -> LoginSettings:
    return LoginSettings(auth_file=path, issuer=fake.issuer, port=0, timeout=10, **kw)  # type: ignore[arg-type]


async def test_login_flow_writes_a_codex_auth_file(fake: FakeChatGPT, tmp_path: Path) -> None:
    path = tmp_path / "home" / "auth.json"
    shown: list[str] = []

    async with aiohttp.ClientSession() as browser:

        def show(url: str, flow: LoginFlow) -> None:
            shown.append(url)
            assert flow.redirect_uri == f"http://localhost:{flow.port}/auth/callback"

            async def click() -> None:  # the user signs in; the issuer redirects back
                async with browser.get(url) as resp:
                    assert resp.status == 200, await resp.text()
                    assert "Signed in" in await resp.text()

            asyncio.get_running_loop().create_task(click())

        data = await login(settings(fake, path), show)

    assert shown and shown[0].startswith(fake.issuer + "/oauth/authorize?")
    assert json.loads(path.read_text()) == data
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert set(data) == {"OPENAI_API_KEY", "tokens", "last_refresh"}
    assert data["OPENAI_API_KEY"] is None
    assert set(data["tokens"]) == {"id_token", "access_token", "refresh_token", "account_id"}
    assert data["tokens"]["account_id"] == fake.account_id
    (exchange,) = fake.code_exchanges
    assert exchange.status == 200
    assert exchange.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert exchange.body["client_id"] == CODEX_CLIENT_ID
    assert exchange.body["grant_type"] == "authorization_code"


async def test_wrong_state_is_refused_and_the_flow_keeps_waiting(
    fake: FakeChatGPT, tmp_path: Path
) -> None:
    async with aiohttp.ClientSession() as http:
        flow = LoginFlow(settings(fake, tmp_path / "auth.json"), http)
        url = await flow.start()
        try:
            cb = flow.redirect_uri.replace("localhost", "127.0.0.1")
            async with http.get(cb, params={"code": "x", "state": "forged"}) as resp:
                assert resp.status == 400
            async with http.get(url) as resp:  # the real sign-in still completes
                assert resp.status == 200
            data = await flow.wait()
        finally:
            await flow.close()
    assert data["tokens"]["account_id"] == fake.account_id


async def test_issuer_error_ends_the_flow(fake: FakeChatGPT, tmp_path: Path) -> None:
    async with aiohttp.ClientSession() as http:
        flow = LoginFlow(settings(fake, tmp_path / "auth.json"), http)
        await flow.start()
        try:
            cb = flow.redirect_uri.replace("localhost", "127.0.0.1")
            params = {"state": flow.state, "error": "access_denied", "error_description": "no"}
            async with http.get(cb, params=params) as resp:
                assert resp.status == 400
            with pytest.raises(ChatGPTAuthError, match="refused: no"):
                await flow.wait()
        finally:
            await flow.close()
    assert not (tmp_path / "auth.json").exists()


async def test_bad_code_fails_the_exchange(fake: FakeChatGPT, tmp_path: Path) -> None:
    async with aiohttp.ClientSession() as http:
        flow = LoginFlow(settings(fake, tmp_path / "auth.json"), http)
        await flow.start()
        try:
            cb = flow.redirect_uri.replace("localhost", "127.0.0.1")
            async with http.get(cb, params={"state": flow.state, "code": "bogus"}) as resp:
                assert resp.status == 500
            with pytest.raises(ChatGPTAuthError, match="HTTP 400"):
                await flow.wait()
        finally:
            await flow.close()


async def test_timeout(fake: FakeChatGPT, tmp_path: Path) -> None:
    s = LoginSettings(auth_file=tmp_path / "a.json", issuer=fake.issuer, port=0, timeout=0.2)
    with pytest.raises(ChatGPTAuthError, match="No sign-in arrived"):
        await login(s, lambda url, flow: None)


async def test_busy_port_is_a_clear_error(fake: FakeChatGPT, tmp_path: Path) -> None:
    async with aiohttp.ClientSession() as http:
        first = LoginFlow(settings(fake, tmp_path / "a.json"), http)
        await first.start()
        try:
            s = LoginSettings(auth_file=tmp_path / "b.json", issuer=fake.issuer, port=first.port)
            with pytest.raises(ChatGPTAuthError, match=f"127.0.0.1:{first.port}"):
                await LoginFlow(s, http).start()
        finally:
            await first.close()
