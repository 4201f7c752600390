"""Idle upstream connections, per endpoint.

The most recently used connection is handed out first (its upstream is the least likely to
have timed it out). An endpoint keeps at most ``max_idle`` of them: past that, the one idle
longest is closed, so a burst of thousands of streams does not leave thousands of sockets
open. A sweep, every half keep-alive while any are idle, closes those idle longer than the
keep-alive; a connection the upstream closed leaves the pool at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable

from wirebridge.transport.connection import Connection

MAX_IDLE = 20  # as httpx keeps; a burst's thousands of connections are not kept for later


class Pool:
    def __init__(self, keepalive: float, max_idle: int = MAX_IDLE) -> None:
        self.keepalive = keepalive
        self.max_idle = max_idle
        # per endpoint, in the order they became idle (dicts keep insertion order): oldest first
        self._idle: dict[Hashable, dict[Connection, None]] = {}
        self._sweep: asyncio.TimerHandle | None = None

    def take(self, key: Hashable, now: float) -> Connection | None:
        idle = self._idle.get(key)
        while idle:
            conn, _ = idle.popitem()  # the newest
            if not conn.closed and conn.idle_since > now - self.keepalive:
                return conn
            conn.close()
        return None

    def put(self, key: Hashable, conn: Connection) -> None:
        idle = self._idle.setdefault(key, {})
        idle[conn] = None
        if len(idle) > self.max_idle:
            oldest = next(iter(idle))
            del idle[oldest]
            oldest.close()
        if self._sweep is None:
            self._sweep = conn.loop.call_later(self.keepalive / 2, self._expire, conn.loop)

    def discard(self, key: Hashable, conn: Connection) -> None:
        idle = self._idle.get(key)
        if idle is not None:
            idle.pop(conn, None)

    def idle(self, key: Hashable) -> int:
        return len(self._idle.get(key) or ())

    def close(self) -> None:
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()

    def _expire(self, loop: asyncio.AbstractEventLoop) -> None:
        self._sweep = None
        cutoff = loop.time() - self.keepalive
        for key, idle in list(self._idle.items()):
            stale = []
            for conn in idle:  # oldest first: stop at the first that is still fresh
                if conn.idle_since > cutoff:
                    break
                stale.append(conn)
            for conn in stale:
                del idle[conn]
                conn.close()
            if not idle:
                del self._idle[key]
        if self._idle:
            self._sweep = loop.call_later(self.keepalive / 2, self._expire, loop)
