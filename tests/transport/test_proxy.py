"""Proxies are resolved once per upstream URL from the environment (or the provider's own)."""

from __future__ import annotations

import pytest

from wirebridge.config.model import Config, ProviderConfig
from wirebridge.transport.proxy import env_proxy, with_proxies

ENV = {"HTTPS_PROXY": "http://p:1", "HTTP_PROXY": "http://p:2", "NO_PROXY": "localhost,.internal"}


@pytest.mark.parametrize(
    ("url", "env", "expected"),
    [
        pytest.param("https://api.example.com/v1", ENV, "http://p:1", id="https_uses_https_proxy"),
        pytest.param("http://api.example.com/v1", ENV, "http://p:2", id="http_uses_http_proxy"),
        pytest.param("http://localhost:9/v1", ENV, None, id="no_proxy_host"),
        pytest.param("https://llm.internal/v1", ENV, None, id="no_proxy_domain_suffix"),
        pytest.param("https://a.example/v1", {}, None, id="nothing_set"),
        pytest.param(
            "https://a.example/v1", {"ALL_PROXY": "http://p:3"}, "http://p:3", id="all_proxy"
        ),
    ],
)
def test_env_proxy(url: str, env: dict[str, str], expected: str | None) -> None:
    assert env_proxy(url, env) == expected


def test_a_providers_own_proxy_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://env:1")
    config = Config(
        providers={
            "own": ProviderConfig("own", "https://a.example/v1", proxy="http://mine:2"),
            "env": ProviderConfig("env", "https://b.example/v1"),
        }
    )
    resolved = with_proxies(config).providers
    assert resolved["own"].proxy == "http://mine:2"
    assert resolved["env"].proxy == env_proxy("https://b.example/v1")
