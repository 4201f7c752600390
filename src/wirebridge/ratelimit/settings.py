"""``server.rate_limits`` in a config file → ``RateLimitConfig``::

    server:
      rate_limits:
        per_key: {rpm: 60, rpd: 10000, tpm: 200000}   # each authenticated client key
        per_ip: {rpm: 120, rpd: 20000}                # each client address
        storage: redis                                # memory (default) | redis
        redis_url: redis://127.0.0.1:6379/0           # for storage: redis

Every limit is optional and off when absent; tokens are counted per key only. A managed key's
own limits (``wirebridge keys create --rpm N``) replace ``per_key``'s, limit by limit.
"""

from __future__ import annotations

from wirebridge.config.errors import Where
from wirebridge.config.model import RateLimitConfig, RateLimits
from wirebridge.config.values import check_keys, choice, integer, mapping, optional, string
from wirebridge.transport.redis_url import parse_url

STORAGES = ("memory", "redis")
_KEYS = ("per_key", "per_ip", "storage", "redis_url")
_PER_KEY = ("rpm", "rpd", "tpm")
_PER_IP = ("rpm", "rpd")
_REDIS_SCHEMES = ("redis", "rediss", "unix")


def parse_rate_limits(value: object, at: Where) -> RateLimitConfig:
    data = mapping(value, at)
    check_keys(data, at, _KEYS)
    storage = optional(data, at, "storage", lambda v, w: choice(v, w, STORAGES), "memory")
    url = optional(data, at, "redis_url", _redis_url, None)
    if storage == "redis" and url is None:
        raise at.key("redis_url").error("required for storage: redis")
    if storage != "redis" and url is not None:
        raise at.key("redis_url").error("only for storage: redis")
    return RateLimitConfig(
        per_key=_limits(data.get("per_key"), at.key("per_key"), _PER_KEY),
        per_ip=_limits(data.get("per_ip"), at.key("per_ip"), _PER_IP),
        storage=storage,
        redis_url=url,
    )


def _limits(value: object, at: Where, allowed: tuple[str, ...]) -> RateLimits:
    data = mapping(value, at)
    if "tpm" in data and "tpm" not in allowed:
        raise at.key("tpm").error("tokens are counted per key only (per_key.tpm)")
    check_keys(data, at, allowed)
    return RateLimits(
        rpm=optional(data, at, "rpm", limit, None),
        rpd=optional(data, at, "rpd", limit, None),
        tpm=optional(data, at, "tpm", limit, None),
    )


def limit(value: object, at: Where) -> int:
    return integer(value, at, 1)


def _redis_url(value: object, at: Where) -> str:
    text = string(value, at).strip()
    scheme = text.partition("://")[0].lower() if "://" in text else ""
    if scheme not in _REDIS_SCHEMES:
        got = f"{scheme}://" if scheme else "no scheme"  # not the URL: it may hold a password
        raise at.error(f"must be a redis://, rediss:// or unix:// URL, got {got}")
    try:
        parse_url(text)
    except ValueError as exc:
        raise at.error(str(exc)) from None
    return text
