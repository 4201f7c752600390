"""The Messages stream's ping wrapper: a quiet upstream gets pings, and a finished stream is freed
as soon as it ends."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import weakref
from collections.abc import AsyncIterator

from wirebridge.http.messages import with_pings
from wirebridge.hub.items import Event


class _Request:
    """Stands for what a request's context holds (the request middleware sets it per request)."""


_CURRENT: contextvars.ContextVar[_Request | None] = contextvars.ContextVar("current", default=None)


async def test_a_finished_stream_is_freed_without_the_collector() -> None:
    # regression: the end of the stream was raised through with_pings' frame, and the frame,
    # the task waiting for the next batch and the exception held each other, with the task's
    # copy of the request's context; so the whole request (a megabyte for a Claude Code turn)
    # stayed alive until a collection, and 64 streams took the gateway past 160 MB
    held = _Request()
    alive = weakref.ref(held)

    async def batches() -> AsyncIterator[list[Event]]:
        yield []
        await asyncio.sleep(0)
        yield []

    gc.disable()
    try:
        token = _CURRENT.set(held)
        del held
        seen = [batch async for batch in with_pings(batches(), 10.0)]
        _CURRENT.reset(token)
        assert seen == [[], []]
        assert alive() is None
    finally:
        gc.enable()


async def test_a_quiet_upstream_gets_a_ping_between_batches() -> None:
    async def batches() -> AsyncIterator[list[Event]]:
        await asyncio.sleep(0.15)
        yield []

    seen = [batch async for batch in with_pings(batches(), 0.05)]
    assert seen[0] is None and seen[-1] == []
    assert seen.count(None) >= 2
