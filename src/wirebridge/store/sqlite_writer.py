"""Group commit for the SQLite store: one writer thread, one transaction per batch of writes.

With ``synchronous=FULL`` every COMMIT waits for an fsync of the WAL, which takes from a tenth of
a millisecond to several on a busy disk. One transaction per write made that fsync the ceiling
of the whole gateway (16 clients storing responses waited in line for it), and every write cost
its own thread hop and its own wake-up of the event loop. Here a write is a job on a queue; the
writer thread takes every job waiting, commits them in one transaction (``sqlite_batch``: each
job still fails alone) and then wakes the loop once to resolve every job of the batch. Under
load a batch holds as many writes as arrived during the previous commit, so fsyncs and wake-ups
per write fall as load grows, while one write alone still commits at once.

The durability contract holds per job: a job's future resolves only after the COMMIT that
contains it returned, so a caller never sees success for a write that is not on disk.
``stop()`` lets every job submitted before it run and commit; a job submitted after it fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from wirebridge.store.sqlite_batch import Job, Merge, commit

T = TypeVar("T")

MAX_BATCH = 256  # bounds one transaction's size (and the WAL growth between commits)


class WriterClosed(Exception):
    """The writer was closed before this job could run."""


_STOP = object()


class GroupWriter:
    """Owns ``conn`` from ``start()`` on: nothing else may use it until ``stop()`` returns."""

    def __init__(self, conn: sqlite3.Connection, name: str = "wirebridge-sqlite-w") -> None:
        self._conn = conn
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._closed = False
        self._started = False
        self.batches = 0  # transactions committed or attempted: what the tests count

    def start(self) -> None:
        self._thread.start()
        self._started = True

    def submit(
        self, work: Callable[..., T], *args: Any, merge: Merge | None = None
    ) -> asyncio.Future[T]:
        """Queue ``work(conn, *args)``; the future resolves once its batch committed. Waiting
        jobs with the same ``merge`` run as one ``merge(conn, [args, …])`` (see
        ``sqlite_batch``). Call from the event loop's thread (``stop`` relies on nothing being
        queued after its marker)."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        if self._closed:
            future.set_exception(WriterClosed())
        else:
            self._queue.put(Job(work, args, future, merge))
        return future

    async def stop(self) -> None:
        """Run and commit every job already queued, then end the thread."""
        if self._closed:
            return
        self._closed = True
        if not self._started:
            return
        self._queue.put(_STOP)
        done = asyncio.get_running_loop().run_in_executor(None, self._thread.join)
        await asyncio.shield(done)

    # -- the writer thread ---------------------------------------------------------------------

    def _run(self) -> None:
        stopping = False
        while not stopping:
            jobs, stopping = self._take()
            if jobs:
                commit(self._conn, jobs)
                self.batches += 1
                _deliver(jobs)
        self._refuse_leftovers()

    def _take(self) -> tuple[list[Job], bool]:
        """Wait for one job, then take whatever else is already waiting."""
        first = self._queue.get()
        if first is _STOP:
            return [], True
        jobs = [first]
        while len(jobs) < MAX_BATCH:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                return jobs, True
            jobs.append(item)
        return jobs, False

    def _refuse_leftovers(self) -> None:
        leftovers = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                item.fail(WriterClosed())
                leftovers.append(item)
        _deliver(leftovers)


def _deliver(jobs: list[Job]) -> None:
    """Resolve the jobs' futures: one wake-up of each event loop for the whole batch."""
    by_loop: dict[asyncio.AbstractEventLoop, list[Job]] = {}
    for job in jobs:
        by_loop.setdefault(job.future.get_loop(), []).append(job)
    for loop, mine in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
            loop.call_soon_threadsafe(_resolve, mine)


def _resolve(jobs: list[Job]) -> None:
    for job in jobs:
        if job.future.done():
            continue  # the caller was cancelled; its write still ran
        if job.ok:
            job.future.set_result(job.value)
        else:
            assert job.error is not None
            job.future.set_exception(job.error)
