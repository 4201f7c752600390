"""Who may listen where: loopback always, anything else only with client authentication."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from wirebridge.cli import serve
from wirebridge.cli.options import ServeOptions
from wirebridge.config.model import Config, ServerConfig, StoreConfig


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "LOCALHOST", "::ffff:127.0.0.1"],
)
def test_loopback_hosts(host: str) -> None:
    assert serve.is_loopback(host)


@pytest.mark.parametrize(
    "host", ["0.0.0.0", "::", "10.1.2.3", "192.168.0.1", "example.com", "fe80::1"]
)
def test_other_hosts_are_not_loopback(host: str) -> None:
    assert not serve.is_loopback(host)


def _config(tmp_path: Path, host: str, keys: tuple[str, ...] = ()) -> Config:
    store = StoreConfig(backend="sqlite", path=tmp_path / "store.db")
    return Config(server=ServerConfig(host=host, api_keys=keys), store=store)


def test_loopback_needs_no_keys(tmp_path: Path) -> None:
    assert serve.bind_refusal(_config(tmp_path, "127.0.0.1")) is None


def test_public_host_without_keys_is_refused(tmp_path: Path) -> None:
    refusal = serve.bind_refusal(_config(tmp_path, "0.0.0.0"))
    assert refusal is not None
    assert "refusing to listen on 0.0.0.0:8765 without client authentication" in refusal
    assert "--api-key" in refusal


def test_public_host_with_a_static_key_is_allowed(tmp_path: Path) -> None:
    assert serve.bind_refusal(_config(tmp_path, "0.0.0.0", ("k",))) is None


def test_public_host_with_managed_keys_is_allowed(tmp_path: Path) -> None:
    from wirebridge.auth.keys import create_key
    from wirebridge.store import open_store

    config = _config(tmp_path, "0.0.0.0")

    async def make_key() -> None:
        store = await open_store(config.store)
        try:
            await create_key(store, name="ci")
        finally:
            await store.close()

    asyncio.run(make_key())
    assert serve.bind_refusal(config) is None


def test_unreachable_store_counts_as_no_managed_keys(tmp_path: Path) -> None:
    config = replace(
        _config(tmp_path, "0.0.0.0"), store=StoreConfig(backend="redis", url="redis://127.0.0.1:1")
    )
    refusal = serve.bind_refusal(config)
    assert refusal is not None and "unreachable" in refusal


def test_prepare_refuses_and_serve_exits_2(cli, write_config) -> None:
    path = write_config({"server": {"host": "0.0.0.0"}, "store": {"backend": "memory"}})
    with pytest.raises(serve.Refused):
        serve.prepare(ServeOptions(config=path))
    code, _, err = cli("serve", "--config", path)
    assert code == 2
    assert "refusing to listen on 0.0.0.0" in err


def test_serve_with_a_bad_config_exits_2(cli, write_config) -> None:
    code, _, err = cli("serve", "--config", write_config({"server": {"bogus": 1}}))
    assert code == 2
    assert "config error" in err and "server.bogus" in err


def test_models_cache_ttl_reaches_the_catalog() -> None:
    from wirebridge.engine.gateway import Gateway

    config = Config(server=ServerConfig(models_cache_ttl=7.5, secret_key="s" * 32))
    assert Gateway(config).catalog._ttl == 7.5
