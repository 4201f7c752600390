"""Counting requests and tokens against ``server.rate_limits`` with the ``limits`` library.

Every limit is a **fixed window** (``FixedWindowRateLimiter``) that opens at the first request
counted in it and lasts a minute or a day: one counter per limit and client, one ``INCRBY`` on
Redis, and exact counts (the Nth request of a limit of N passes, the N+1th does not), at the
price of allowing up to twice the limit across a window's edge. The storage is ``limits``'
``MemoryStorage`` for one instance, or its async ``RedisStorage`` (redis-py) so that every
instance counts in the same place.

A request is admitted in two rounds: first every limit that applies is read, and a request any
of them has no room for is refused without counting anywhere; then the request counts against
each request limit, and a limit another request filled in between still refuses it (the
increment decides, so instances sharing Redis never admit more than the limit together).

Tokens per minute cannot be known before the answer: a request passes while the key's window
has any tokens left, and when the turn finishes its usage is charged (``charge``) — so the
request that crosses the limit completes, and the next ones wait for the window to reset.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from limits import RateLimitItem, RateLimitItemPerDay, RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.errors import StorageError

from wirebridge.config.model import RateLimitConfig, RateLimits
from wirebridge.errors import GatewayError, RateLimited
from wirebridge.store.base import redact_url

log = logging.getLogger("wirebridge")

NAMESPACE = "wirebridge"
REDIS_PREFIX = "wirebridge:ratelimit"
REDIS_TIMEOUT = 5.0
REDIS_CONNECTIONS = 64

T = TypeVar("T")
Kind = Literal["requests", "tokens"]
_UNITS = {"rpm": ("requests", "minute"), "rpd": ("requests", "day"), "tpm": ("tokens", "minute")}


@dataclass(frozen=True, slots=True)
class Check:
    """One limit applied to one subject: ``("key", "key:abc")`` or ``("ip", "10.0.0.7")``."""

    name: str  # rpm | rpd | tpm
    item: RateLimitItem
    subject: tuple[str, str]

    @property
    def kind(self) -> Kind:
        return "tokens" if self.name == "tpm" else "requests"

    @property
    def ids(self) -> tuple[str, str, str]:
        return (*self.subject, self.kind)  # requests and tokens of one amount: two counters


@dataclass(frozen=True, slots=True)
class Window:
    limit: int
    remaining: int
    reset: float  # seconds until the window closes


class RateLimitStorageError(GatewayError):
    """The rate limit storage cannot be reached at start-up."""


def effective(server: RateLimits, own: RateLimits) -> RateLimits:
    """A key's own limits over the server's ``per_key`` ones: ``None`` keeps the server's,
    ``0`` means no limit for this key."""

    def pick(mine: int | None, default: int | None) -> int | None:
        if mine is None:
            return default
        return mine or None

    return RateLimits(
        rpm=pick(own.rpm, server.rpm), rpd=pick(own.rpd, server.rpd), tpm=pick(own.tpm, server.tpm)
    )


@functools.lru_cache(maxsize=1024)
def _item(name: str, amount: int) -> RateLimitItem:
    if name == "rpd":
        return RateLimitItemPerDay(amount, namespace=NAMESPACE)
    return RateLimitItemPerMinute(amount, namespace=NAMESPACE)


def checks_for(limits: RateLimits, subject: tuple[str, str], *, tokens: bool) -> list[Check]:
    found = [("rpm", limits.rpm), ("rpd", limits.rpd)]
    if tokens:
        found.append(("tpm", limits.tpm))
    return [Check(name, _item(name, amount), subject) for name, amount in found if amount]


class Limiter:
    """``start()`` before use (checks Redis answers), ``close()`` at the end."""

    def __init__(self, cfg: RateLimitConfig) -> None:
        self.cfg = cfg
        self._pool: Any = None
        self._storage: Storage
        if cfg.storage == "redis":
            assert cfg.redis_url is not None
            # Our own pool, so that close() can release it (limits' storages have no close).
            self._pool = _redis_pool(cfg.redis_url)
            options: dict[str, Any] = {"connection_pool": self._pool}
            self._storage = RedisStorage(
                "async+redis://",
                implementation="redispy",
                key_prefix=REDIS_PREFIX,
                wrap_exceptions=True,
                **options,
            )
        else:
            self._storage = _SweptMemoryStorage(wrap_exceptions=True)
        self._limiter = FixedWindowRateLimiter(self._storage)

    async def start(self) -> None:
        if self.cfg.storage == "redis" and not await self._storage.check():
            where = redact_url(self.cfg.redis_url or "")
            raise RateLimitStorageError(f"rate limit storage: redis at {where} does not answer")

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()

    async def admit(self, checks: list[Check]) -> dict[str, str]:
        """Count one request against ``checks`` (token limits are only read); the rate limit
        headers to send, or ``RateLimited`` carrying them. A storage failure lets the request
        through (logged): an unreachable Redis must not take the gateway down."""
        try:
            return await self._admit(checks)
        except StorageError as exc:
            log.warning("rate limit storage failed, request let through: %s", exc.storage_error)
            return {}

    async def _all(self, steps: list[Awaitable[T]]) -> list[T]:
        """Round trips to Redis in parallel; in memory, one after the other (no tasks)."""
        if self._pool is not None:
            return list(await asyncio.gather(*steps))
        return [await step for step in steps]

    async def _admit(self, checks: list[Check]) -> dict[str, str]:
        windows = await self._all([self._window(c) for c in checks])
        for check, window in zip(checks, windows, strict=True):
            if window.remaining < 1:
                raise _refusal(check, window, checks, windows)
        counted = [(c, w) for c, w in zip(checks, windows, strict=True) if c.kind == "requests"]
        hits = await self._all([self._limiter.hit(c.item, *c.ids) for c, _ in counted])
        for (check, window), ok in zip(counted, hits, strict=True):
            if not ok:  # another request took the last one meanwhile
                raise _refusal(check, Window(window.limit, 0, window.reset), checks, windows)
        after = [
            Window(w.limit, max(0, w.remaining - (c.kind == "requests")), w.reset)
            for c, w in zip(checks, windows, strict=True)
        ]
        return headers(checks, after)

    async def charge(self, check: Check, tokens: int) -> None:
        """Add ``tokens`` to a tpm window, past its limit if it comes to that."""
        if tokens <= 0:
            return
        try:
            await self._limiter.hit(check.item, *check.ids, cost=tokens)
        except StorageError as exc:
            log.warning(
                "rate limit storage failed, %d tokens not counted: %s", tokens, exc.storage_error
            )

    async def _window(self, check: Check) -> Window:
        reset_at, remaining = await self._limiter.get_window_stats(check.item, *check.ids)
        now = time.time()
        # A window nobody counted in yet opens with the next request: it lasts a full period.
        reset = reset_at - now if reset_at > now else float(check.item.get_expiry())
        return Window(check.item.amount, remaining, reset)


class _SweptMemoryStorage(MemoryStorage):
    """``MemoryStorage`` sweeping expired counters at most every ``SWEEP_SECONDS``: it sweeps
    every counter on each increment, a cost that grows with the number of clients (9 ms a
    request at 10,000 addresses). Reads expire what they touch either way."""

    SWEEP_SECONDS = 10.0
    _swept = float("-inf")

    async def _MemoryStorage__schedule_expiry(self) -> None:  # replaces the private hook
        now = time.monotonic()
        if now - self._swept < self.SWEEP_SECONDS:
            return
        self._swept = now
        if self.timer is None or self.timer.done():
            self.timer = asyncio.create_task(self._MemoryStorage__expire_events())  # type: ignore[attr-defined]


def _redis_pool(url: str) -> Any:
    import redis.asyncio as aioredis

    # Blocking: past the limit a request waits for a connection rather than failing.
    return aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=REDIS_CONNECTIONS,
        timeout=REDIS_TIMEOUT,
        socket_connect_timeout=REDIS_TIMEOUT,
        socket_timeout=REDIS_TIMEOUT,
    )


def _refusal(
    check: Check, window: Window, checks: list[Check], windows: list[Window]
) -> RateLimited:
    retry = max(1, math.ceil(window.reset))
    kind, period = _UNITS[check.name]
    whose = "this API key" if check.subject[0] == "key" else "this client address"
    out = headers(checks, windows, refused=(check, window))
    out["Retry-After"] = str(retry)
    return RateLimited(
        f"Rate limit reached for {whose}: {window.limit} {kind} per {period}. "
        f"Try again in {duration(retry)}.",
        headers=out,
    )


def headers(
    checks: list[Check], windows: list[Window], refused: tuple[Check, Window] | None = None
) -> dict[str, str]:
    """OpenAI's ``x-ratelimit-{limit,remaining,reset}-{requests,tokens}``: for each kind, the
    limit that refused the request, else the one with the least room left."""
    out: dict[str, str] = {}
    for kind in ("requests", "tokens"):
        pairs = [(c, w) for c, w in zip(checks, windows, strict=True) if c.kind == kind]
        if refused is not None and refused[0].kind == kind:
            pairs = [refused]
        if not pairs:
            continue
        _, tightest = min(pairs, key=lambda cw: (cw[1].remaining, -cw[1].reset))
        out[f"x-ratelimit-limit-{kind}"] = str(tightest.limit)
        out[f"x-ratelimit-remaining-{kind}"] = str(tightest.remaining)
        out[f"x-ratelimit-reset-{kind}"] = duration(tightest.reset)
    return out


def duration(seconds: float) -> str:
    """OpenAI's spelling of a wait: ``850ms``, ``12s``, ``1m30s``, ``23h59m0s``."""
    if seconds < 1:
        return f"{max(0, math.ceil(seconds * 1000))}ms"
    total = math.ceil(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"
