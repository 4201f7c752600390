"""Group commit in the SQLite store: fewer transactions than writes, yet every write is on disk
and alone in its failure when its call returns.

``GroupWriter`` is driven on a real SQLite file. To put chosen jobs into one batch, a first job
holds the writer thread on a ``threading.Event`` while the others queue up behind it.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from wirebridge.store import StoredResponse, StoreError
from wirebridge.store.sqlite import SQLiteStore
from wirebridge.store.sqlite_writer import GroupWriter, WriterClosed

OWNER = "owner-alice"


def _rec(id: str, **changes: Any) -> StoredResponse:
    now = int(time.time())
    rec = StoredResponse(
        id=id,
        owner=OWNER,
        response={"id": id, "object": "response", "status": "completed", "output": []},
        input_items=[{"id": f"msg_{id}", "type": "message", "role": "user", "content": []}],
        previous_response_id=None,
        created_at=now,
        expires_at=None,
    )
    for name, value in changes.items():
        setattr(rec, name, value)
    return rec


def _count(path: Path, where: str = "1") -> int:
    """Rows as another connection (another process) sees them: only committed ones."""
    with sqlite3.connect(path) as conn:
        (n,) = conn.execute(f"SELECT COUNT(*) FROM t WHERE {where}").fetchone()
    return int(n)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[tuple[Path, sqlite3.Connection]]:
    path = tmp_path / "w.db"
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
    yield path, conn
    conn.close()


@pytest.fixture
async def writer(db: tuple[Path, sqlite3.Connection]) -> AsyncIterator[GroupWriter]:
    w = GroupWriter(db[1])
    w.start()
    yield w
    await w.stop()


def _insert(conn: sqlite3.Connection, id: int, v: str | None = "x") -> int:
    conn.execute("INSERT INTO t (id, v) VALUES (?, ?)", (id, v))
    return id


async def _hold(writer: GroupWriter) -> tuple[threading.Event, asyncio.Future[Any]]:
    """Keep the writer thread busy until the event is set; jobs submitted meanwhile form the
    next batch."""
    release, started = threading.Event(), threading.Event()

    def wait(conn: sqlite3.Connection) -> None:
        started.set()
        release.wait(10)

    held = writer.submit(wait)
    await asyncio.to_thread(started.wait, 10)
    return release, held


async def test_waiting_writes_share_one_commit(
    db: tuple[Path, sqlite3.Connection], writer: GroupWriter
) -> None:
    path, _ = db
    release, held = await _hold(writer)
    jobs = [writer.submit(_insert, n) for n in range(50)]
    release.set()
    await held
    assert await asyncio.gather(*jobs) == list(range(50))
    assert _count(path) == 50
    assert writer.batches == 2  # the holding job's, then all 50 together


async def test_each_write_is_committed_when_it_returns(
    db: tuple[Path, sqlite3.Connection], writer: GroupWriter
) -> None:
    path, _ = db

    async def one(n: int) -> int:
        await writer.submit(_insert, n)
        return _count(path, f"id = {n}")  # read at once, by another connection

    assert await asyncio.gather(*(one(n) for n in range(200))) == [1] * 200
    assert writer.batches < 200


async def test_a_failing_write_fails_alone(
    db: tuple[Path, sqlite3.Connection], writer: GroupWriter
) -> None:
    path, _ = db
    release, held = await _hold(writer)
    jobs = [writer.submit(_insert, n, None if n == 3 else "x") for n in range(8)]
    release.set()
    await held
    results = await asyncio.gather(*jobs, return_exceptions=True)
    assert isinstance(results[3], sqlite3.IntegrityError)
    assert [r for n, r in enumerate(results) if n != 3] == [0, 1, 2, 4, 5, 6, 7]
    assert _count(path) == 7 and _count(path, "id = 3") == 0


async def test_a_lost_transaction_fails_the_whole_batch(
    db: tuple[Path, sqlite3.Connection], writer: GroupWriter
) -> None:
    """When SQLite abandons the transaction (as on an I/O error), nothing of the batch was
    written, so no write of it may report success."""
    path, _ = db

    def abandon(conn: sqlite3.Connection) -> None:
        conn.execute("ROLLBACK")
        raise sqlite3.OperationalError("disk I/O error")

    release, held = await _hold(writer)
    before = [writer.submit(_insert, n) for n in range(3)]
    lost = writer.submit(abandon)
    after = [writer.submit(_insert, n) for n in range(3, 6)]
    release.set()
    await held
    results = await asyncio.gather(*before, lost, *after, return_exceptions=True)
    assert all(isinstance(r, sqlite3.OperationalError) for r in results)
    assert _count(path) == 0
    assert await writer.submit(_insert, 9) == 9  # the writer goes on with a clean connection
    assert _count(path) == 1


async def test_stop_commits_what_was_queued_then_refuses(
    db: tuple[Path, sqlite3.Connection], writer: GroupWriter
) -> None:
    path, _ = db
    release, held = await _hold(writer)
    jobs = [writer.submit(_insert, n) for n in range(20)]
    stopping = asyncio.ensure_future(writer.stop())
    await asyncio.sleep(0.05)
    assert not stopping.done()  # waits for the held job and the queue behind it
    release.set()
    await stopping
    await held
    assert await asyncio.gather(*jobs) == list(range(20))
    assert _count(path) == 20
    with pytest.raises(WriterClosed):
        await writer.submit(_insert, 99)


async def test_a_cancelled_caller_does_not_lose_its_write(
    db: tuple[Path, sqlite3.Connection], writer: GroupWriter
) -> None:
    path, _ = db
    release, held = await _hold(writer)
    job = writer.submit(_insert, 1)
    job.cancel()
    release.set()
    await held
    assert await writer.submit(_insert, 2) == 2  # after the cancelled one, in queue order
    assert _count(path) == 2


# -- through the store ----------------------------------------------------------------------


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    opened = await SQLiteStore.open(tmp_path / "s.db")
    yield opened
    await opened.close()


def _writer_of(store: SQLiteStore) -> GroupWriter:
    assert store._writer is not None
    return store._writer


async def test_store_puts_waiting_together_share_one_commit(store: SQLiteStore) -> None:
    release, held = await _hold(_writer_of(store))
    puts = [asyncio.ensure_future(store.put(_rec(f"resp_{n}"))) for n in range(30)]
    await asyncio.sleep(0)
    release.set()
    await held
    await asyncio.gather(*puts)
    assert _writer_of(store).batches == 2
    for n in range(30):
        got = await store.get(f"resp_{n}", OWNER)
        assert got is not None and got.input_items[0]["id"] == f"msg_resp_{n}"


async def test_store_puts_in_one_batch_fail_alone(store: SQLiteStore) -> None:
    release, held = await _hold(_writer_of(store))
    bad = _rec("resp_bad", created_at=None)  # NOT NULL: refused by SQLite itself
    puts = [store.put(_rec(f"resp_{n}")) for n in range(10)]
    pending = asyncio.gather(*puts[:5], store.put(bad), *puts[5:], return_exceptions=True)
    await asyncio.sleep(0)
    release.set()
    await held
    results = await pending
    assert isinstance(results[5], StoreError)
    assert "NOT NULL" in str(results[5])
    assert results[:5] + results[6:] == [None] * 10
    for n in range(10):
        assert await store.get(f"resp_{n}", OWNER) is not None
    assert await store.get("resp_bad", OWNER) is None


async def test_store_replacing_twice_in_one_batch_keeps_the_later(store: SQLiteStore) -> None:
    first = _rec("resp_1")
    first.input_items = [
        {"id": f"msg_{n}", "type": "message", "role": "user", "content": []} for n in range(3)
    ]
    second = _rec("resp_1", response={"id": "resp_1", "status": "incomplete", "output": []})
    release, held = await _hold(_writer_of(store))
    puts = [store.put(first), store.put(_rec("resp_2")), store.put(second)]
    pending = asyncio.gather(*puts)
    await asyncio.sleep(0)
    release.set()
    await held
    await pending
    got = await store.get("resp_1", OWNER)
    assert got is not None
    assert got.response["status"] == "incomplete"
    assert [i["id"] for i in got.input_items] == ["msg_resp_1"]
    assert await store.get("resp_2", OWNER) is not None


async def test_store_writes_keep_their_order_in_a_batch(store: SQLiteStore) -> None:
    """An event appended right after its response's put lands in the same batch, after it."""
    release, held = await _hold(_writer_of(store))
    ops = [
        store.put(_rec("resp_1")),
        store.append_events("resp_1", [(1, {"n": 1})]),
        store.put(_rec("resp_2")),
        store.delete("resp_1", OWNER),
    ]
    pending = asyncio.gather(*ops)
    await asyncio.sleep(0)
    release.set()
    await held
    assert await pending == [None, None, None, True]
    assert await store.get("resp_1", OWNER) is None
    assert await store.get("resp_2", OWNER) is not None


async def test_many_items_in_one_batch(store: SQLiteStore) -> None:
    """More rows than one statement binds: split, none lost."""
    recs = []
    for r in range(30):
        rec = _rec(f"resp_{r}")
        rec.input_items = [
            {"id": f"msg_{r}_{n}", "type": "message", "role": "user", "content": []}
            for n in range(200)
        ]
        recs.append(rec)
    release, held = await _hold(_writer_of(store))
    pending = asyncio.gather(*(store.put(rec) for rec in recs))
    await asyncio.sleep(0)
    release.set()
    await held
    await pending
    for r in range(30):
        page = await store.input_items(f"resp_{r}", OWNER, limit=100, order="asc")
        assert page is not None and page.data[0]["id"] == f"msg_{r}_0" and page.has_more


async def test_store_close_drains_pending_puts(tmp_path: Path) -> None:
    store = await SQLiteStore.open(tmp_path / "s.db")
    puts = [asyncio.ensure_future(store.put(_rec(f"resp_{n}"))) for n in range(50)]
    await asyncio.sleep(0)  # every put is queued
    await store.close()
    assert await asyncio.gather(*puts) == [None] * 50
    with pytest.raises(StoreError):
        await store.put(_rec("resp_late"))
    again = await SQLiteStore.open(tmp_path / "s.db")
    try:
        got = await asyncio.gather(*(again.get(f"resp_{n}", OWNER) for n in range(50)))
        assert all(r is not None for r in got)
    finally:
        await again.close()


async def test_store_writes_with_synchronous_full(store: SQLiteStore) -> None:
    def synchronous(conn: sqlite3.Connection) -> int:
        return int(conn.execute("PRAGMA synchronous").fetchone()[0])

    assert await store._write(synchronous) == 2  # FULL
