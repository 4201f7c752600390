"""Calls made in one turn of the event loop, sent as one.

A round trip to Redis or PostgreSQL costs the gateway a fixed amount of CPU whatever the command
carries (a write, the wake-up when the answer comes, a read and a parse: 55 µs for one Redis
command on the bench's VM with the gateway's own client, several times that through a pool), and
under load many requests reach the same call in the same turn of the loop: they were read from
their sockets together. ``Coalescer`` collects the calls of one turn and, at
the start of the next, runs ``run`` once for all of them (one Lua script over every caller's
keys, say); each caller gets its own result. A caller alone waits that one turn and no more.
The idea is the SQLite writer's group commit, for servers across a socket. With Redis over the
gateway's own pipelined client (``transport/resp.py``) the gateway's CPU no longer shows the
gain; the batch still halves the commands that Redis, shared by every instance, runs.

A batch that fails fails each of its callers with the same exception; ``run`` may also return an
exception in a caller's place, which fails that caller alone. A caller cancelled while
it waits leaves the batch running for the others, so its own part may still be done, as with
any write cancelled in flight.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

A = TypeVar("A")
R = TypeVar("R")

MAX_BATCH = 64  # bounds one command's size (a Lua script's key list, one reply)


class Coalescer(Generic[A, R]):
    """``await coalescer(arg)`` → ``run([...arg...])[i]``, for calls made in one loop turn
    (raised, if that is an exception)."""

    def __init__(
        self,
        run: Callable[[list[A]], Awaitable[Sequence[R | BaseException]]],
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._run = run
        self._max = max_batch
        self._args: list[A] = []
        self._waiters: list[asyncio.Future[R]] = []
        self._flushing: set[asyncio.Task[None]] = set()
        self.batches = 0  # what the tests and the bench count
        self.calls = 0

    async def __call__(self, arg: A) -> R:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        if not self._args:
            # An empty context: the batch's task must not carry the first caller's request id.
            loop.call_soon(self._flush, context=contextvars.Context())
        self._args.append(arg)
        self._waiters.append(future)
        if len(self._args) >= self._max:
            self._flush()
        return await future

    def _flush(self) -> None:
        if not self._args:
            return  # flushed early, when the batch filled up
        args, waiters = self._args, self._waiters
        self._args, self._waiters = [], []
        self.batches += 1
        self.calls += len(args)
        task = asyncio.get_running_loop().create_task(self._send(args, waiters))
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def _send(self, args: list[A], waiters: list[asyncio.Future[R]]) -> None:
        try:
            results = await self._run(args)
            if len(results) != len(args):
                raise RuntimeError(f"a batch of {len(args)} calls gave {len(results)} results")
        except BaseException as exc:  # the callers' failure, whatever it is
            failure = exc
            if isinstance(exc, asyncio.CancelledError):
                failure = ConnectionError("the batch was cancelled")
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(failure)
            if failure is not exc:
                raise
            return
        for waiter, result in zip(waiters, results, strict=True):
            if waiter.done():  # its caller was cancelled
                continue
            if isinstance(result, BaseException):
                waiter.set_exception(result)
            else:
                waiter.set_result(result)

    async def drain(self) -> None:
        """Wait for the batches sent or about to be: before the connection they use closes."""
        await asyncio.sleep(0)  # a flush scheduled for this turn is sent first
        while self._flushing:
            await asyncio.gather(*self._flushing, return_exceptions=True)
