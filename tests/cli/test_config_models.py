"""``wirebridge config check`` and ``wirebridge models`` in process."""

from __future__ import annotations

from typing import Any

from tests.cli.keyed_upstream import KeyedUpstream
from tests.support.fake_chat import FakeChat
from tests.support.gateway import free_port

GOOD: dict[str, Any] = {
    "server": {"listen_addr": "127.0.0.1:9123", "api_keys": ["client-key"]},
    "store": {"backend": "memory"},
    "providers": {"deepseek": {"base_url": "http://127.0.0.1:9/v1", "api_key": "k"}},
    "models": [
        {"model": "gpt-5.5", "provider": "deepseek", "downstream_model": "deepseek-reasoner"},
        {"model": "fast", "provider": "deepseek", "fallbacks": ["gpt-5.5"]},
    ],
    "aliases": {"quick": "deepseek@deepseek-chat"},
    "claude": {"big": "gpt-5.5"},
}


def test_config_check_summarises_a_good_config(cli: Any, write_config: Any) -> None:
    path = write_config(GOOD)
    code, out, err = cli("config", "check", "--config", path)
    assert code == 0, err
    assert out.splitlines()[0] == f"config {path} is valid"
    assert "listen:    http://127.0.0.1:9123" in out
    assert "deepseek: api chat, http://127.0.0.1:9/v1, profile generic, 1 key" in out
    assert "gpt-5.5 -> deepseek/deepseek-reasoner" in out
    assert "fast -> deepseek/fast (fallbacks: gpt-5.5)" in out
    assert "quick -> deepseek@deepseek-chat" in out
    assert "client keys: 1 static" in out


def test_config_check_reports_the_error_and_exits_2(cli: Any, write_config: Any) -> None:
    path = write_config({"server": {"port": "nope"}})
    code, out, err = cli("config", "check", "--config", path)
    assert code == 2
    assert out == ""
    expected = "must be an integer between 1 and 65535, got 'nope'"
    assert err.strip() == f"wirebridge: config error: {path}: server.port: {expected}"


def test_config_check_of_a_missing_file(cli: Any, tmp_path: Any) -> None:
    code, _, err = cli("config", "check", "--config", str(tmp_path / "none.yaml"))
    assert code == 2 and "file not found" in err


def test_config_check_notes_an_unprotected_public_host(cli: Any, write_config: Any) -> None:
    code, out, _ = cli("config", "check", "--config", write_config({"server": {"host": "0.0.0.0"}}))
    assert code == 0
    assert "note: 0.0.0.0 is not loopback" in out
    assert "note: no provider" in out


def test_models_lists_what_clients_may_ask_for(cli: Any, write_config: Any) -> None:
    code, out, _ = cli("models", "--config", write_config(GOOD))
    assert code == 0
    lines = [line.split() for line in out.splitlines()]
    assert ["gpt-5.5", "->", "deepseek@deepseek-reasoner"] in lines
    assert ["fast", "->", "deepseek@fast", "(fallbacks:", "gpt-5.5)"] in lines
    assert ["quick", "->", "deepseek@deepseek-chat"] in lines
    assert ["*opus*", "->", "gpt-5.5"] in lines
    assert "deepseek@<model>" in out


def test_models_remote_asks_each_provider(cli: Any, write_config: Any, fake_chat: FakeChat) -> None:
    with KeyedUpstream("sk-good") as keyed:
        config = {
            "providers": {
                "fake": {"base_url": fake_chat.base_url},
                "keyed": {"base_url": keyed.base_url, "api_key": "sk-good"},
            }
        }
        code, out, _ = cli("models", "--config", write_config(config), "--remote")
    assert code == 0, out
    assert "  fake@upstream-model" in out.splitlines()
    assert "  keyed@keyed-model" in out.splitlines()


def test_models_remote_reports_a_provider_it_cannot_ask(cli: Any, write_config: Any) -> None:
    config = {"providers": {"dead": {"base_url": f"http://127.0.0.1:{free_port()}/v1"}}}
    code, out, _ = cli("models", "--config", write_config(config), "--remote", "--timeout", "2")
    assert code == 1
    assert "dead: could not list models at" in out
