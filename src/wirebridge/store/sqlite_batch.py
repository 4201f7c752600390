"""How the SQLite writer commits one batch of jobs: all of them in one transaction, each failing
alone.

The fast path runs the batch as it is: ``BEGIN IMMEDIATE``, every job (consecutive jobs that
share a ``merge`` function as one call of it, e.g. many puts as one multi-row INSERT), COMMIT.
Every statement releases and retakes the GIL, and on a busy event loop retaking it is what a
write waits for, so the fast path runs as few statements as it can: no savepoints.

When any job raises, the whole transaction is rolled back and the batch runs again the careful
way: each job on its own, in its own SAVEPOINT, so the one that fails is rolled back alone and
the others still commit. A job is therefore a function of the connection and its arguments that
may run twice (after a rollback it sees the same database again).

Errors that make SQLite abandon the whole transaction (I/O error, disk full), or a failed COMMIT,
fail every job of the batch that had not failed already: none of them was written.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

Work = Callable[..., Any]  # work(conn, *args)
Merge = Callable[[sqlite3.Connection, list[tuple[Any, ...]]], None]  # merge(conn, [args, …])


@dataclass(slots=True)
class Job:
    work: Work
    args: tuple[Any, ...]
    future: asyncio.Future[Any]
    merge: Merge | None = None  # does what ``work`` does for a run of such jobs at once
    ok: bool = False
    value: Any = None
    error: BaseException | None = field(default=None)

    def succeed(self, value: Any) -> None:
        self.ok, self.value, self.error = True, value, None

    def fail(self, error: BaseException) -> None:
        self.ok, self.value, self.error = False, None, error


def commit(conn: sqlite3.Connection, jobs: list[Job]) -> None:
    """Run and commit ``jobs``, leaving each one's outcome on it."""
    if not _fast(conn, jobs):
        _careful(conn, jobs)


def _fast(conn: sqlite3.Connection, jobs: list[Job]) -> bool:
    """False when a job raised: nothing was written, the batch must go the careful way."""
    if not _begin(conn, jobs):
        return True
    try:
        for run in _runs(jobs):
            _run_together(conn, run)
    except BaseException:
        _rollback(conn)
        return False
    _finish(conn, jobs)
    return True


def _run_together(conn: sqlite3.Connection, run: list[Job]) -> None:
    merge = run[0].merge
    if merge is not None and len(run) > 1:
        merge(conn, [job.args for job in run])
        for job in run:
            job.succeed(None)
        return
    for job in run:
        job.succeed(job.work(conn, *job.args))


def _runs(jobs: list[Job]) -> Iterator[list[Job]]:
    """Consecutive jobs that can be merged, in order; any other job alone."""
    run: list[Job] = []
    for job in jobs:
        if run and (job.merge is None or job.merge is not run[0].merge):
            yield run
            run = []
        run.append(job)
    if run:
        yield run


def _careful(conn: sqlite3.Connection, jobs: list[Job]) -> None:
    if not _begin(conn, jobs):
        return
    for n, job in enumerate(jobs):
        if not _in_savepoint(conn, job):
            lost = job.error or sqlite3.OperationalError("transaction rolled back")
            _fail_all(jobs[:n], lost, only_ok=True)
            _fail_all(jobs[n + 1 :], lost)
            return
    _finish(conn, jobs)


def _in_savepoint(conn: sqlite3.Connection, job: Job) -> bool:
    """Run ``job`` in its own savepoint. False when the transaction itself is lost (SQLite
    rolled it back, or the savepoint could not be undone): the batch cannot commit."""
    try:
        conn.execute("SAVEPOINT job")
        job.succeed(job.work(conn, *job.args))
        conn.execute("RELEASE job")
        return True
    except BaseException as exc:
        job.fail(exc)
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK TO job")
            conn.execute("RELEASE job")
            return True
        except sqlite3.Error:
            _rollback(conn)
    return False


def _begin(conn: sqlite3.Connection, jobs: list[Job]) -> bool:
    try:
        conn.execute("BEGIN IMMEDIATE")  # the write lock up front: waits, never half-fails
        return True
    except BaseException as exc:
        _fail_all(jobs, exc)
        return False


def _finish(conn: sqlite3.Connection, jobs: list[Job]) -> None:
    try:
        conn.execute("COMMIT")
    except BaseException as exc:
        _rollback(conn)
        _fail_all(jobs, exc, only_ok=True)


def _fail_all(jobs: list[Job], error: BaseException, *, only_ok: bool = False) -> None:
    for job in jobs:
        if not only_ok or job.ok:
            job.fail(error)


def _rollback(conn: sqlite3.Connection) -> None:
    # A ROLLBACK that fails leaves nothing more to undo: the next BEGIN starts clean or fails.
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
