"""``wirebridge doctor`` in process: one ``ok``/``FAIL`` line per check, exit 1 on any FAIL."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.cli.keyed_upstream import KeyedUpstream
from tests.support.fake_chat import FakeChat
from tests.support.gateway import free_port
from wirebridge.cli import doctor, probe
from wirebridge.config.model import ProviderConfig
from wirebridge.upstreams.azure import AzureSettings

LINE = re.compile(r"^(ok|FAIL) (\S+(?: \S+)?) — .+$")


@pytest.fixture
def keyed() -> Iterator[KeyedUpstream]:
    with KeyedUpstream("sk-good-key") as up:
        yield up


def _lines(out: str) -> dict[str, str]:
    """check name -> "ok" / "FAIL", asserting every check line has the documented shape."""
    found = {}
    for line in out.splitlines():
        if line.startswith(("ok ", "FAIL ")):
            m = LINE.match(line)
            assert m, f"malformed check line: {line!r}"
            found[m[2]] = m[1]
    return found


def _config(tmp_path: Path, providers: dict[str, Any], port: int) -> dict[str, Any]:
    return {
        "server": {"host": "127.0.0.1", "port": port},
        "store": {"backend": "sqlite", "path": str(tmp_path / "doctor.db")},
        "providers": providers,
    }


def test_good_setup_passes_every_check(
    cli, write_config, tmp_path: Path, fake_chat: FakeChat, keyed: KeyedUpstream
) -> None:
    providers = {
        "fake": {"base_url": fake_chat.base_url, "api_key": "sk-anything"},
        "keyed": {"base_url": keyed.base_url, "api_key": "sk-good-key"},
    }
    code, out, _ = cli(
        "doctor", "--config", write_config(_config(tmp_path, providers, free_port()))
    )
    assert code == 0, out
    assert _lines(out) == {
        "config": "ok",
        "client-auth": "ok",
        "provider fake": "ok",
        "credentials fake": "ok",
        "provider keyed": "ok",
        "credentials keyed": "ok",
        "store": "ok",
        "port": "ok",
    }
    assert "all 8 checks passed" in out
    assert keyed.seen == ["Bearer sk-good-key"]


def test_broken_setup_names_each_failure(
    cli, write_config, tmp_path: Path, keyed: KeyedUpstream
) -> None:
    dead = free_port()  # nothing listens there
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        providers = {
            "badkey": {"base_url": keyed.base_url, "api_key": "sk-wrong-key"},
            "nokey": {"base_url": keyed.base_url},
            "dead": {"base_url": f"http://127.0.0.1:{dead}/v1", "api_key": "k"},
        }
        config = _config(tmp_path, providers, port)
        config["store"] = {"backend": "redis", "url": "redis://127.0.0.1:1"}
        code, out, _ = cli("doctor", "--config", write_config(config), "--timeout", "3")
    assert code == 1
    lines = _lines(out)
    assert lines == {
        "config": "ok",
        "client-auth": "ok",
        "provider badkey": "FAIL",
        "credentials badkey": "ok",
        "provider nokey": "FAIL",
        "credentials nokey": "FAIL",
        "provider dead": "FAIL",
        "credentials dead": "ok",
        "store": "FAIL",
        "port": "FAIL",
    }
    text = {line.split(" — ")[0]: line for line in out.splitlines() if " — " in line}
    assert "rejected" in text["FAIL provider badkey"] and "401" in text["FAIL provider badkey"]
    assert "set a valid api_key for badkey" in text["FAIL provider badkey"]
    assert "wants one" in text["FAIL credentials nokey"]
    assert "cannot reach" in text["FAIL provider dead"]
    assert "in use" in text["FAIL port"].lower()
    assert "6 of 10 checks failed" in out


def test_unloadable_config_says_what_was_not_checked(cli, write_config) -> None:
    code, out, _ = cli("doctor", "--config", write_config({"providers": {"x": {"api_key": "k"}}}))
    assert code == 1
    assert _lines(out) == {"config": "FAIL", "not-checked": "FAIL"}
    assert "providers.x.base_url" in out


def test_no_provider_is_a_failure(cli, write_config, tmp_path: Path) -> None:
    config = _config(tmp_path, {}, free_port())
    code, out, _ = cli("doctor", "--config", write_config(config))
    assert code == 1
    assert _lines(out)["providers"] == "FAIL"


def test_public_host_without_keys_fails_client_auth(
    cli, write_config, tmp_path: Path, fake_chat: FakeChat
) -> None:
    config = _config(tmp_path, {"fake": {"base_url": fake_chat.base_url}}, free_port())
    path = write_config(config)
    code, out, _ = cli("doctor", "--config", path, "--host", "0.0.0.0")
    assert code == 1 and _lines(out)["client-auth"] == "FAIL"
    code, out, _ = cli("doctor", "--config", path, "--host", "0.0.0.0", "--api-key", "k")
    assert code == 0, out


def test_chatgpt_provider_checks_the_sign_in_file(
    cli, write_config, tmp_path: Path, fake_chat: FakeChat
) -> None:
    missing = tmp_path / "no-auth.json"
    providers = {
        "plan": {
            "api": "chatgpt",
            "base_url": fake_chat.base_url,
            "chatgpt": {"auth_file": str(missing)},
        }
    }
    code, out, _ = cli(
        "doctor", "--config", write_config(_config(tmp_path, providers, free_port()))
    )
    assert code == 1
    lines = _lines(out)
    assert lines["credentials plan"] == "FAIL"
    assert lines["provider plan"] == "ok"  # reachable; the sign-in is the credentials line
    assert "wirebridge login chatgpt" in out


def test_models_request_per_api() -> None:
    chat = ProviderConfig(name="c", base_url="http://h/v1", api_key="k", headers={"X-A": "1"})
    assert probe.models_request(chat, "k") == (
        "http://h/v1/models",
        {"X-A": "1", "Authorization": "Bearer k"},
    )
    messages = ProviderConfig(name="m", base_url="http://h/v1", api="messages")
    url, headers = probe.models_request(messages, "k")
    assert url == "http://h/v1/models"
    assert headers["x-api-key"] == "k" and "anthropic-version" in headers
    azure = ProviderConfig(
        name="a",
        base_url="https://r.openai.azure.com",
        sections={"azure": AzureSettings(api_version="2024-10-21")},
    )
    url, headers = probe.models_request(azure, "k")
    assert url == "https://r.openai.azure.com/openai/models?api-version=2024-10-21"
    assert headers == {"api-key": "k"}


async def test_probe_reports_status_and_models(fake_chat: FakeChat) -> None:
    p = ProviderConfig(name="f", base_url=fake_chat.base_url, api_key="k")
    async with aiohttp.ClientSession() as session:
        probe = await doctor.probe_models(session, p, "k", 5)
        assert probe.ok and probe.listed and probe.models == ["upstream-model"]
        missing = ProviderConfig(name="f", base_url=fake_chat.base_url + "/nope")
        probe = await doctor.probe_models(session, missing, None, 5)
        assert probe.status == 404 and not probe.ok
        dead = ProviderConfig(name="d", base_url=f"http://127.0.0.1:{free_port()}/v1")
        probe = await doctor.probe_models(session, dead, None, 5)
        assert probe.status is None and probe.error


def test_doctor_uses_saved_start_options_when_given_none(
    cli, write_config, tmp_path: Path, home: Path, fake_chat: FakeChat
) -> None:
    from wirebridge.cli.options import ServeOptions
    from wirebridge.cli.process import write_state

    path = write_config(_config(tmp_path, {"fake": {"base_url": fake_chat.base_url}}, free_port()))
    write_state(home / "wirebridge.state.json", {"options": ServeOptions(config=path).to_json()})
    code, out, _ = cli("doctor")
    assert code == 0, out
    assert "checking the options the last start saved" in out
