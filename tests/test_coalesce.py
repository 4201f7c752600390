"""Calls of one loop turn sent as one batch: results, failures, cancellation, draining."""

from __future__ import annotations

import asyncio
import contextvars

import pytest

from wirebridge.coalesce import Coalescer


class Recorder:
    """A batch function that records each batch and answers each argument doubled."""

    def __init__(self, gate: asyncio.Event | None = None) -> None:
        self.batches: list[list[int]] = []
        self.gate = gate

    async def __call__(self, args: list[int]) -> list[int | BaseException]:
        self.batches.append(list(args))
        if self.gate is not None:
            await self.gate.wait()
        return [ValueError(f"bad {a}") if a < 0 else 2 * a for a in args]


async def test_the_calls_of_one_turn_go_as_one_batch_each_with_its_own_result() -> None:
    run = Recorder()
    batch = Coalescer(run)
    assert await asyncio.gather(*(batch(n) for n in range(5))) == [0, 2, 4, 6, 8]
    assert run.batches == [[0, 1, 2, 3, 4]]
    assert await batch(7) == 14  # alone, it still goes at the next turn
    assert run.batches[1:] == [[7]]
    assert (batch.calls, batch.batches) == (6, 2)


async def test_a_full_batch_goes_at_once_and_the_rest_follows() -> None:
    run = Recorder()
    batch = Coalescer(run, max_batch=2)
    assert await asyncio.gather(*(batch(n) for n in range(5))) == [0, 2, 4, 6, 8]
    assert run.batches == [[0, 1], [2, 3], [4]]


async def test_a_failing_batch_fails_every_caller_and_a_failed_result_only_its_own() -> None:
    async def broken(args: list[int]) -> list[int]:
        raise ConnectionError("gone")

    failing = Coalescer(broken)
    results = await asyncio.gather(failing(1), failing(2), return_exceptions=True)
    assert [type(r) for r in results] == [ConnectionError, ConnectionError]

    batch = Coalescer(Recorder())
    results = await asyncio.gather(batch(1), batch(-1), batch(3), return_exceptions=True)
    assert results[0] == 2 and results[2] == 6
    assert isinstance(results[1], ValueError) and str(results[1]) == "bad -1"


async def test_a_batch_giving_the_wrong_number_of_results_fails_its_callers() -> None:
    async def short(args: list[int]) -> list[int]:
        return args[:-1]

    batch = Coalescer(short)
    results = await asyncio.wait_for(
        asyncio.gather(batch(1), batch(2), return_exceptions=True), timeout=5
    )
    assert all(isinstance(r, RuntimeError) for r in results)


async def test_a_cancelled_caller_leaves_the_batch_to_the_others() -> None:
    gate = asyncio.Event()
    run = Recorder(gate)
    batch = Coalescer(run)
    first = asyncio.ensure_future(batch(1))
    second = asyncio.ensure_future(batch(2))
    while not run.batches:
        await asyncio.sleep(0)
    first.cancel()
    gate.set()
    assert await second == 4
    with pytest.raises(asyncio.CancelledError):
        await first
    assert run.batches == [[1, 2]]  # the cancelled caller's part was sent all the same


async def test_a_cancelled_batch_fails_its_callers_as_a_lost_connection() -> None:
    run = Recorder(asyncio.Event())  # never set: the batch waits until cancelled
    batch = Coalescer(run)
    callers = [asyncio.ensure_future(batch(n)) for n in (1, 2)]
    while not run.batches:
        await asyncio.sleep(0)
    for task in asyncio.all_tasks():
        if task.get_coro().__qualname__ == "Coalescer._send":  # type: ignore[union-attr]
            task.cancel()
    results = await asyncio.wait_for(asyncio.gather(*callers, return_exceptions=True), 5)
    assert [type(r) for r in results] == [ConnectionError, ConnectionError]


async def test_drain_waits_for_the_batches_sent_and_the_one_about_to_be() -> None:
    gate = asyncio.Event()
    run = Recorder(gate)
    batch = Coalescer(run)
    caller = asyncio.ensure_future(batch(5))
    await asyncio.sleep(0)  # the caller queued its call; the batch is not sent yet
    drained = asyncio.ensure_future(batch.drain())
    await asyncio.sleep(0.01)
    assert run.batches == [[5]] and not drained.done()
    gate.set()
    await asyncio.wait_for(drained, 5)
    assert caller.done() and caller.result() == 10


async def test_the_batch_does_not_run_in_the_first_callers_context() -> None:
    request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
    seen: list[str] = []

    async def run(args: list[int]) -> list[int]:
        seen.append(request_id.get())
        return args

    batch = Coalescer(run)

    async def caller(n: int) -> int:
        request_id.set(f"req-{n}")
        return await batch(n)

    assert await asyncio.gather(caller(1), caller(2)) == [1, 2]
    assert seen == ["-"]  # one request's id must not label the others' work
