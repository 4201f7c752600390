"""Which HTTP(S) proxy a request to an upstream goes through.

The environment (``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``, ``NO_PROXY``) is read once per
upstream URL, not per request: aiohttp's ``trust_env`` re-reads the environment and ``~/.netrc``
on every request, which cost a quarter of the gateway's CPU on the JSON hot path
(bench/results). A provider's own ``proxy:`` setting wins over the environment.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Mapping
from dataclasses import replace
from functools import lru_cache
from urllib.parse import urlsplit

from wirebridge.config.model import Config


def env_proxy(url: str, env: Mapping[str, str] | None = None) -> str | None:
    """The proxy the environment names for ``url``, or None (none set, or ``NO_PROXY``)."""
    if env is not None:
        return _lookup(url, tuple(sorted(env.items())))
    return _env_proxy_cached(url)


@lru_cache(maxsize=256)
def _env_proxy_cached(url: str) -> str | None:
    return _lookup(url, None)


def _lookup(url: str, env: tuple[tuple[str, str], ...] | None) -> str | None:
    if env is None:
        proxies = urllib.request.getproxies_environment()
    else:
        proxies = {k.lower()[:-6]: v for k, v in env if k.lower().endswith("_proxy") and v}
    parts = urlsplit(url)
    host = parts.hostname or ""
    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    if not proxies or bypass(host, proxies):
        return None
    return proxies.get(parts.scheme) or proxies.get("all")


def with_proxies(config: Config) -> Config:
    """``config`` with every provider's proxy resolved (its own, else the environment's)."""
    providers = {
        name: p if p.proxy else replace(p, proxy=env_proxy(p.base_url))
        for name, p in config.providers.items()
    }
    return replace(config, providers=providers)
