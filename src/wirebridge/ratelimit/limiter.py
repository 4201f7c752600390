"""Counting requests and tokens against ``server.rate_limits``.

Every limit is a **fixed window** that opens at the first request counted in it and lasts a
minute or a day: one counter per limit and client, and exact counts (the Nth request of a limit
of N passes, the N+1th does not), at the price of allowing up to twice the limit across a
window's edge. The counters (``counters.py``) live in this process's memory for one instance, or
in Redis so that every instance counts in the same place.

A request is admitted in one operation on every limit that applies: a request any of them has no
room for is refused without counting anywhere, else it counts against each request limit. In
Redis that operation is one atomic script, so instances sharing Redis never admit more than the
limit together, in one round trip.

Tokens per minute cannot be known before the answer: a request passes while the key's window
has any tokens left, and when the turn finishes its usage is charged (``charge``) — so the
request that crosses the limit completes, and the next ones wait for the window to reset. In
Redis a charge goes with this instance's next admission, or alone 50 ms later: other instances
may see it that late.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

from wirebridge.config.model import RateLimitConfig, RateLimits
from wirebridge.errors import GatewayError, RateLimited
from wirebridge.ratelimit.counters import Counters, MemoryCounters, RedisCounters, Slot
from wirebridge.store.base import redact_url
from wirebridge.transport.resp import RespClient, RespError

log = logging.getLogger("wirebridge")

REDIS_TIMEOUT = 5.0

Kind = Literal["requests", "tokens"]
_UNITS = {"rpm": ("requests", "minute"), "rpd": ("requests", "day"), "tpm": ("tokens", "minute")}
_PERIODS = {"rpm": 60, "rpd": 86_400, "tpm": 60}


@dataclass(frozen=True, slots=True)
class Check:
    """One limit applied to one subject: ``("key", "key:abc")`` or ``("ip", "10.0.0.7")``."""

    name: str  # rpm | rpd | tpm
    limit: int
    subject: tuple[str, str]
    slot: Slot  # its counter

    @property
    def kind(self) -> Kind:
        return "tokens" if self.name == "tpm" else "requests"


class Window(NamedTuple):  # a tuple: built for every limit of every request
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


@functools.lru_cache(maxsize=4096)  # the same few keys and addresses, request after request
def checks_for(limits: RateLimits, subject: tuple[str, str], *, tokens: bool) -> tuple[Check, ...]:
    found = [("rpm", limits.rpm), ("rpd", limits.rpd)]
    if tokens:
        found.append(("tpm", limits.tpm))
    return tuple(_check(name, amount, subject) for name, amount in found if amount)


def _check(name: str, limit: int, subject: tuple[str, str]) -> Check:
    # The subject's id last in the key: it is the only part that may hold a ":" (IPv6).
    key = f"{name}:{subject[0]}:{subject[1]}"
    return Check(name, limit, subject, Slot(key, limit, _PERIODS[name], name != "tpm"))


class Limiter:
    """``start()`` before use (checks Redis answers), ``close()`` at the end."""

    def __init__(self, cfg: RateLimitConfig) -> None:
        self.cfg = cfg
        self._counters: Counters
        if cfg.storage == "redis":
            assert cfg.redis_url is not None
            self._counters = RedisCounters(redis_client(cfg.redis_url))
            self._failures: tuple[type[BaseException], ...] = (RespError, OSError)
        else:
            self._counters = MemoryCounters()
            self._failures = ()

    async def start(self) -> None:
        try:
            await self._counters.start()
        except self._failures as exc:
            where = redact_url(self.cfg.redis_url or "")
            raise RateLimitStorageError(
                f"rate limit storage: redis at {where} does not answer: {exc or type(exc).__name__}"
            ) from None

    async def close(self) -> None:
        await self._counters.close()

    async def admit(self, checks: Sequence[Check]) -> dict[str, str]:
        """Count one request against ``checks`` (token limits are only read); the rate limit
        headers to send, or ``RateLimited`` carrying them. A storage failure lets the request
        through (logged): an unreachable Redis must not take the gateway down."""
        try:
            reading = await self._counters.admit([check.slot for check in checks])
        except self._failures as exc:
            log.warning("rate limit storage failed, request let through: %s", exc)
            return {}
        if reading.refused is not None:
            windows = [
                Window(c.limit, max(0, c.limit - used), reset)
                for c, used, reset in zip(checks, reading.used, reading.reset, strict=True)
            ]
            n = reading.refused
            raise _refusal(checks[n], windows[n], checks, windows)
        after = [  # this request counted in the requests windows
            Window(c.limit, max(0, c.limit - used - c.slot.counts), reset)
            for c, used, reset in zip(checks, reading.used, reading.reset, strict=True)
        ]
        return headers(checks, after)

    async def charge(self, check: Check, tokens: int) -> None:
        """Add ``tokens`` to a tpm window, past its limit if it comes to that."""
        if tokens <= 0:
            return
        try:
            await self._counters.charge(check.slot, tokens)
        except self._failures as exc:
            log.warning("rate limit storage failed, %d tokens not counted: %s", tokens, exc)


def redis_client(url: str) -> RespClient:
    return RespClient.from_url(url, timeout=REDIS_TIMEOUT, connect_timeout=REDIS_TIMEOUT)


def _refusal(
    check: Check, window: Window, checks: Sequence[Check], windows: list[Window]
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
    checks: Sequence[Check], windows: list[Window], refused: tuple[Check, Window] | None = None
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
