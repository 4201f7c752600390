"""The limiter without a server: settings, effective limits, counting, headers."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from tests.support.redis_db import empty_db
from tests.support.servers import start_redis
from wirebridge.config.errors import ConfigError, Where
from wirebridge.config.load import config_from_tree
from wirebridge.config.model import RateLimitConfig, RateLimits
from wirebridge.errors import RateLimited
from wirebridge.ratelimit.counters import CHARGE_DELAY
from wirebridge.ratelimit.limiter import (
    Limiter,
    RateLimitStorageError,
    checks_for,
    duration,
    effective,
)


def server(rate_limits: object) -> RateLimitConfig:
    tree = {"server": {"rate_limits": rate_limits}}
    return config_from_tree(tree, Where("c.yaml"), Path("."), None).server.rate_limits


def test_settings() -> None:
    assert server(None) == RateLimitConfig()
    cfg = server({"per_key": {"rpm": 3, "tpm": "1000"}, "per_ip": {"rpd": 9}})
    assert cfg.per_key == RateLimits(rpm=3, tpm=1000) and cfg.per_ip == RateLimits(rpd=9)
    assert cfg.storage == "memory"
    cfg = server({"storage": "redis", "redis_url": "redis://127.0.0.1:6379/2"})
    assert cfg.redis_url == "redis://127.0.0.1:6379/2"


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"per_ip": {"tpm": 5}}, "per_ip.tpm: tokens are counted per key only"),
        ({"per_key": {"rpm": 0}}, "per_key.rpm: must be an integer of at least 1"),
        ({"per_key": {"rph": 1}}, "unknown key 'rph'"),
        ({"storage": "redis"}, "redis_url: required for storage: redis"),
        ({"redis_url": "redis://x"}, "redis_url: only for storage: redis"),
        ({"storage": "redis", "redis_url": "http://x"}, "must be a redis://"),
        ({"storage": "redis", "redis_url": "redis://x/db1"}, "database must be a number"),
        ({"storage": "redis", "redis_url": "redis://x?timeout=1"}, "unknown option 'timeout'"),
        ({"storage": "memcached"}, "storage: must be one of memory, redis"),
    ],
)
def test_settings_errors(bad: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        server(bad)


def test_a_keys_own_limits_replace_the_servers() -> None:
    base = RateLimits(rpm=10, rpd=100, tpm=1000)
    assert effective(base, RateLimits()) == base
    assert effective(base, RateLimits(rpm=3, tpm=0)) == RateLimits(rpm=3, rpd=100, tpm=None)
    assert effective(RateLimits(), RateLimits(rpd=5)) == RateLimits(rpd=5)


def test_duration() -> None:
    assert duration(0.25) == "250ms"
    assert duration(1) == "1s" and duration(59.2) == "1m0s"
    assert duration(90) == "1m30s" and duration(86_400) == "24h0m0s"


@pytest.mark.parametrize("storage", ["memory", "redis"])
async def test_counting(storage: str, request: pytest.FixtureRequest) -> None:
    cfg = RateLimitConfig()
    if storage == "redis":
        async with empty_db(request.getfixturevalue("redis_url"), 8) as (url, _):
            cfg = RateLimitConfig(storage="redis", redis_url=url)
    limiter = Limiter(cfg)
    await limiter.start()
    try:
        checks = checks_for(RateLimits(rpm=2, rpd=10, tpm=100), ("key", "k"), tokens=True)
        assert [c.name for c in checks] == ["rpm", "rpd", "tpm"]
        first = await limiter.admit(checks)
        assert first["x-ratelimit-remaining-requests"] == "1"  # the tighter of 1/2 and 9/10
        assert first["x-ratelimit-limit-tokens"] == "100"
        await limiter.admit(checks)
        with pytest.raises(RateLimited) as refused:
            await limiter.admit(checks)
        assert refused.value.headers["x-ratelimit-limit-requests"] == "2"
        assert refused.value.headers["Retry-After"] == "60"
        # A refused request is not counted against the day.
        day = checks_for(RateLimits(rpd=10), ("key", "k"), tokens=False)
        assert (await limiter.admit(day))["x-ratelimit-remaining-requests"] == "7"
        # Other subjects have counters of their own; requests and tokens too.
        assert await limiter.admit(checks_for(RateLimits(rpm=2), ("key", "j"), tokens=False))
        await limiter.charge(checks[2], 150)
        with pytest.raises(RateLimited) as tokens:
            await limiter.admit([checks[2]])
        assert tokens.value.headers["x-ratelimit-remaining-tokens"] == "0"
        assert "100 tokens per minute" in tokens.value.message
    finally:
        await limiter.close()


async def test_a_redis_gone_away_lets_requests_through_and_counts_again_once_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url, stop = start_redis(tmp_path)
    limiter = Limiter(RateLimitConfig(storage="redis", redis_url=url))
    try:
        await limiter.start()
        checks = checks_for(RateLimits(rpm=1, tpm=10), ("key", "k"), tokens=True)
        assert (await limiter.admit(checks))["x-ratelimit-remaining-requests"] == "0"
        stop()
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="wirebridge"):
            assert await limiter.admit(checks) == {}  # counted, it would be refused
            await limiter.charge(checks[1], 5)  # held, then sent alone: it fails
            await asyncio.sleep(CHARGE_DELAY * 4)
        assert time.monotonic() - started < 5
        assert "rate limit storage failed, request let through" in caplog.text
        assert "5 tokens not counted" in caplog.text
        # Back (empty, on the same port): the next admission connects again and counts.
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        _, stop_again = start_redis(tmp_path / "again", port=port)
        try:
            assert (await limiter.admit(checks))["x-ratelimit-remaining-requests"] == "0"
            with pytest.raises(RateLimited):
                await limiter.admit(checks)
        finally:
            stop_again()
    finally:
        stop()
        await limiter.close()


async def test_a_redis_that_does_not_answer_stops_the_start(tmp_path: Path) -> None:
    url, stop = start_redis(tmp_path)
    stop()
    limiter = Limiter(RateLimitConfig(storage="redis", redis_url=url))
    try:
        with pytest.raises(RateLimitStorageError, match="does not answer"):
            await limiter.start()
    finally:
        await limiter.close()
