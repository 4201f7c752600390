"""Opening the SQLite store while another process holds the file: it waits, it does not fail.

Regression: two ``serve --workers`` processes opening a new store file at once could deadlock
on their shared locks while switching it to WAL mode, and SQLite answered one of them "database
is locked" at once, without waiting: that worker failed to start. A connection holding a write
transaction on a file still in rollback mode makes the switch hit the same answer every time.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from wirebridge.store.sqlite import SQLiteStore, use_wal


def _writer_holding(path: Path) -> sqlite3.Connection:
    """Another process's connection, in the middle of a write on a rollback-journal file."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("CREATE TABLE other (x)")
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO other VALUES (1)")
    return conn


def _commit_later(conn: sqlite3.Connection, delay: float) -> threading.Timer:
    timer = threading.Timer(delay, lambda: conn.execute("COMMIT"))
    timer.start()
    return timer


def test_switching_to_wal_waits_for_a_writer_instead_of_failing(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    other = _writer_holding(path)
    mine = sqlite3.connect(path, isolation_level=None, timeout=5)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        mine.execute("PRAGMA journal_mode = WAL")  # SQLite's own answer: at once, no waiting
    timer = _commit_later(other, 0.2)
    started = time.monotonic()
    use_wal(mine)
    assert time.monotonic() - started >= 0.15
    assert mine.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    timer.join()
    mine.close()
    other.close()


def test_switching_to_wal_gives_up_after_the_timeout(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    other = _writer_holding(path)
    mine = sqlite3.connect(path, isolation_level=None, timeout=5)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        use_wal(mine, timeout=0.2)
    mine.close()
    other.close()


async def test_the_store_opens_once_the_other_writer_commits(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    other = _writer_holding(path)
    timer = _commit_later(other, 0.3)
    store = await SQLiteStore.open(path)
    try:
        assert await store.get("resp_missing", "owner") is None
    finally:
        await store.close()
        await asyncio.to_thread(timer.join)
        other.close()
