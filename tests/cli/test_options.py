"""Shared serve/start options: parsing, merging over saved ones, laying them over a config."""

from __future__ import annotations

import argparse

import pytest

from wirebridge.cli import options
from wirebridge.cli.options import ServeOptions
from wirebridge.config import ConfigError
from wirebridge.config.model import Config, ServerConfig


def _parse(*argv: str) -> ServeOptions:
    p = argparse.ArgumentParser()
    options.add_server_options(p)
    return ServeOptions.from_args(p.parse_args(list(argv)))


def test_flags_parse_into_options() -> None:
    opts = _parse(
        *("--host", "0.0.0.0", "--port", "9000", "--api-key", "k1", "--api-key", "k2"),
        *("--proxy", "http://proxy:3128", "--log-level", "debug", "--log-format", "json"),
        *("--models-cache-ttl", "60", "--workers", "3", "--config", "c.yaml"),
    )
    assert opts == ServeOptions(
        config="c.yaml",
        host="0.0.0.0",
        port=9000,
        api_keys=("k1", "k2"),
        proxy="http://proxy:3128",
        log_level="debug",
        log_format="json",
        models_cache_ttl=60.0,
        workers=3,
    )


def test_nothing_given_is_all_unset() -> None:
    assert _parse() == ServeOptions()


def test_given_options_win_over_saved_ones() -> None:
    saved = ServeOptions(config="/a.yaml", port=9000, api_keys=("old",), workers=2)
    merged = ServeOptions(port=9100).over(saved)
    assert merged == ServeOptions(config="/a.yaml", port=9100, api_keys=("old",), workers=2)
    assert ServeOptions(api_keys=("new",)).over(saved).api_keys == ("new",)


def test_json_round_trip_ignores_unknown_keys() -> None:
    opts = ServeOptions(config="/a.yaml", api_keys=("k",), models_cache_ttl=0.0)
    data = opts.to_json()
    data["from_the_future"] = True
    assert ServeOptions.from_json(data) == opts
    assert ServeOptions.from_json(None) == ServeOptions()


def test_serve_argv_never_carries_api_keys() -> None:
    opts = ServeOptions(config="/a.yaml", port=9000, api_keys=("sk-secret",), workers=2)
    argv = opts.serve_argv()
    assert argv == ["--config", "/a.yaml", "--port", "9000", "--workers", "2"]
    assert "sk-secret" not in " ".join(argv)
    assert "sk-secret" not in str(opts.redacted())


def test_api_keys_travel_through_the_environment() -> None:
    env = {options.API_KEYS_ENV: "k1\nk2"}
    assert options.take_api_keys(env) == ("k1", "k2")
    assert options.API_KEYS_ENV not in env
    assert options.take_api_keys({}) == ()


def test_apply_lays_flags_over_the_config() -> None:
    config = Config(server=ServerConfig(api_keys=("from-file",), port=8765))
    opts = ServeOptions(
        host="::1",
        port=9000,
        api_keys=("from-flag", "from-file"),
        log_format="json",
        models_cache_ttl=5.0,
        log_level="error",
    )
    server = options.apply(config, opts).server
    assert (server.host, server.port, server.log_format, server.log_level) == (
        "::1",
        9000,
        "json",
        "error",
    )
    assert server.api_keys == ("from-file", "from-flag")
    assert server.models_cache_ttl == 5.0
    assert options.apply(config, ServeOptions()) is config


@pytest.mark.parametrize(
    ("opts", "flag"),
    [
        (ServeOptions(port=70000), "--port"),
        (ServeOptions(host="a b"), "--host"),
        (ServeOptions(proxy="socks://x"), "--proxy"),
        (ServeOptions(workers=0), "--workers"),
        (ServeOptions(models_cache_ttl=-1), "--models-cache-ttl"),
        (ServeOptions(api_keys=("has space",)), "--api-key"),
    ],
)
def test_bad_flags_are_config_errors_naming_the_flag(opts: ServeOptions, flag: str) -> None:
    with pytest.raises(ConfigError) as e:
        opts.check()
    assert e.value.key_path == flag


def test_proxy_becomes_the_process_default() -> None:
    env: dict[str, str] = {"https_proxy": "http://old:1"}
    options.apply_proxy("http://proxy:3128", env)
    assert env == {
        "HTTPS_PROXY": "http://proxy:3128",
        "HTTP_PROXY": "http://proxy:3128",
        "https_proxy": "http://proxy:3128",
        "http_proxy": "http://proxy:3128",
    }
    untouched: dict[str, str] = {}
    options.apply_proxy(None, untouched)
    assert untouched == {}


def test_server_section_reads_the_new_keys(write_config) -> None:
    from wirebridge.config import load_config

    path = write_config(
        {"server": {"api_keys": ["a", "b"], "log_format": "json", "models_cache_ttl": 0}}
    )
    server = load_config(path).server
    assert (server.api_keys, server.log_format, server.models_cache_ttl) == (("a", "b"), "json", 0)
    with pytest.raises(ConfigError, match="log_format"):
        load_config(write_config({"server": {"log_format": "xml"}}, "bad.yaml"))


def test_listen_url_and_probe_host() -> None:
    assert options.listen_url("::1", 80) == "http://[::1]:80"
    assert options.probe_host("0.0.0.0") == "127.0.0.1"
    assert options.probe_host("::") == "::1"
    assert options.probe_host("10.0.0.1") == "10.0.0.1"
