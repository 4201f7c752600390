"""A stream's keepalive: a frame written whenever the upstream has been quiet for a while.

The stream's own loop calls ``beat()`` for each upstream batch, which only notes the loop's
clock; one timer per stream looks at that note when it comes due and, if nothing came for
``interval`` seconds, writes the frame from a short task of its own. So an upstream that sends
a token per read costs a clock read per token. (The first design raced every batch against a
timeout, a task and an ``asyncio.wait`` per batch: about 10 µs each.)

The frame goes through the response's own ``write``, whose bytes reach the transport before it
yields, so it lands between two of the stream's writes, never inside one.
"""

from __future__ import annotations

import asyncio
from types import TracebackType

from aiohttp import web


class Keepalive:
    """``async with Keepalive(out, frame, interval) as alive:`` … ``alive.beat()`` per batch,
    and ``alive.end(data)`` for the last one.

    Leaving the block stops the timer and waits for a frame being written, so nothing is
    written after it; a client gone while a frame is written is left for the stream's next
    write to report."""

    __slots__ = (
        "__weakref__",
        "_ended",
        "_frame",
        "_interval",
        "_last",
        "_loop",
        "_out",
        "_timer",
        "_writing",
    )

    def __init__(self, out: web.StreamResponse, frame: bytes, interval: float) -> None:
        self._out = out
        self._frame = frame
        self._interval = interval
        self._loop = asyncio.get_running_loop()
        self._last = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._writing: asyncio.Task[None] | None = None
        self._ended = False

    async def __aenter__(self) -> Keepalive:
        self._last = self._loop.time()
        self._timer = self._loop.call_at(self._last + self._interval, self._due)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop()
        writing, self._writing = self._writing, None
        if writing is not None:
            writing.cancel()
            await asyncio.wait((writing,))  # not `await writing`: its cancel is not ours to raise

    @property
    def ended(self) -> bool:
        return self._ended

    async def end(self, data: bytes) -> None:
        """Write the stream's last bytes and the end of the body, in one write (with [DONE]
        and the chunked body's end as writes of their own, a stream made three system calls
        where one does). No frame follows: one being written has put its bytes on the transport
        already, one due but not yet written is not written."""
        self._ended = True
        self._stop()
        await self._out.write_eof(data)

    def _stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def beat(self) -> None:
        """The upstream sent something: the quiet interval starts again."""
        self._last = self._loop.time()

    def _due(self) -> None:
        now = self._loop.time()
        if now - self._last < self._interval:  # a beat since the timer was set
            self._timer = self._loop.call_at(self._last + self._interval, self._due)
            return
        if self._writing is None:  # a client too slow to take the last frame gets no second
            self._writing = self._loop.create_task(self._write())
        self._last = now
        self._timer = self._loop.call_at(now + self._interval, self._due)

    async def _write(self) -> None:
        try:
            if not self._ended:  # (a task started before end() and run after it)
                await self._out.write(self._frame)
        except ConnectionResetError:
            pass  # the client went away; the stream's own next write says so and ends it
        finally:
            self._writing = None
