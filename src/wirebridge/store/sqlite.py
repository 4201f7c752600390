"""The default store: one SQLite file, WAL mode, driven by ``sqlite3`` on dedicated threads.

Why threads of our own rather than an async driver: every operation here is one Python function
that runs on the connection's thread, so no other coroutine's statement can land inside someone
else's transaction. Writes go to a single writer thread (``sqlite_writer.GroupWriter``) — one
writer connection, so the gateway never contends with itself for SQLite's write lock and never
sees "database is locked" (other processes sharing the file are absorbed by ``busy_timeout``).
It commits writes in groups: each write in its own savepoint, one COMMIT (one fsync) for all
the writes waiting, one wake-up of the event loop for their answers. Reads go to a small pool of
reader threads with their own connections; in WAL mode they run alongside the writer.

``synchronous=FULL``: a write's COMMIT is on disk when ``put`` returns, as the contract requires.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import orjson

from wirebridge.store import sql
from wirebridge.store.base import (
    ItemPage,
    KeyRecord,
    NumberedEvent,
    Order,
    StoredResponse,
    StoreError,
    is_stale,
    make_page,
    mark_failed,
    window,
)
from wirebridge.store.migrations import VERSION_TABLE, migrations, pending
from wirebridge.store.sqlite_batch import Merge
from wirebridge.store.sqlite_put import put_many, put_one
from wirebridge.store.sqlite_writer import GroupWriter, WriterClosed

T = TypeVar("T")

BUSY_TIMEOUT_MS = 5000
READERS = 2


@functools.lru_cache(maxsize=64)
def _q(statement: str) -> str:
    return sql.for_sqlite(statement)  # a regex substitution: once per statement, not per call


class SQLiteStore:
    """Open with ``await SQLiteStore.open(path)``; ``close()`` when done."""

    def __init__(self, path: Path, readers: int = READERS) -> None:
        self.path = path
        self._writer: GroupWriter | None = None
        self._readers = ThreadPoolExecutor(readers, thread_name_prefix="wirebridge-sqlite-r")
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._closed = False

    @classmethod
    async def open(cls, path: Path, readers: int = READERS) -> SQLiteStore:
        store = cls(Path(path), readers)
        try:
            loop = asyncio.get_running_loop()
            conn = await store._guard("open", loop.run_in_executor(None, store._open_writer))
            store._writer = GroupWriter(conn)
            store._writer.start()
        except BaseException:
            await store.close()
            raise
        return store

    # -- plumbing ------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,  # autocommit; transactions are explicit BEGIN … COMMIT
            check_same_thread=False,  # used on one thread, but closed from the loop's
        )
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        with self._conns_lock:
            self._conns.append(conn)
        return conn

    def _open_writer(self) -> sqlite3.Connection:
        """The writer connection, set up and migrated; handed to the writer thread after."""
        _prepare_file(self.path)
        conn = self._connect()
        use_wal(conn)
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        # The merged multi-row writes need temporary B-trees: in memory, not a file created
        # and unlinked in /var/tmp for every batch (strace: 6 system calls a commit).
        conn.execute("PRAGMA temp_store = MEMORY")
        _migrate(conn, self.path)
        return conn

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only = ON")
            self._local.conn = conn
        return conn

    async def _write(self, fn: Callable[..., T], *args: Any, merge: Merge | None = None) -> T:
        """Run ``fn(conn, *args)`` in the writer's next group commit; returns once committed."""
        if self._closed or self._writer is None:
            raise StoreError(f"sqlite store {self.path} is closed")
        return await self._guard(fn.__name__, self._writer.submit(fn, *args, merge=merge))

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise StoreError(f"sqlite store {self.path} is closed")
        loop = asyncio.get_running_loop()
        return await self._guard(fn.__name__, loop.run_in_executor(self._readers, fn, *args))

    async def _guard(self, what: str, pending: Awaitable[T]) -> T:
        """``pending``'s result, with SQLite's and the OS's errors as ``StoreError``."""
        try:
            return await pending
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite store {self.path}: {what}: {exc}") from exc
        except OSError as exc:
            raise StoreError(f"sqlite store {self.path}: {exc.strerror or exc}") from exc
        except WriterClosed:
            raise StoreError(f"sqlite store {self.path} is closed") from None

    # -- the contract --------------------------------------------------------------------------

    async def put(self, rec: StoredResponse) -> None:
        row = sql.response_row(rec)
        items = sql.item_rows(rec.id, rec.input_items)  # encoded here: a TypeError stays one
        await self._write(put_one, row, items, merge=put_many)

    async def get(self, id: str, owner: str) -> StoredResponse | None:
        return await self._read(self._get, id, owner, time.time())

    def _get(self, id: str, owner: str, now: float) -> StoredResponse | None:
        conn = self._reader()
        with _transaction(conn, "BEGIN"):  # one snapshot for the response and its items
            row = conn.execute(_q(sql.SELECT_RESPONSE), (id, owner, sql.now_arg(now))).fetchone()
            if row is None:
                return None
            items = conn.execute(_q(sql.SELECT_ITEMS), (id,)).fetchall()
        prev, created_at, expires_at, response = row
        return StoredResponse(
            id=id,
            owner=owner,
            response=orjson.loads(response),
            input_items=[orjson.loads(item) for (item,) in items],
            previous_response_id=prev,
            created_at=created_at,
            expires_at=expires_at,
        )

    async def delete(self, id: str, owner: str) -> bool:
        return await self._write(self._delete, id, owner, time.time())

    @staticmethod
    def _delete(w: sqlite3.Connection, id: str, owner: str, now: float) -> bool:
        return w.execute(_q(sql.DELETE_RESPONSE), (id, owner, sql.now_arg(now))).rowcount > 0

    async def input_items(
        self,
        id: str,
        owner: str,
        *,
        limit: int = 20,
        order: Order = "desc",
        after: str | None = None,
        before: str | None = None,
    ) -> ItemPage | None:
        return await self._read(self._input_items, id, owner, limit, order, after, before)

    def _input_items(
        self, id: str, owner: str, limit: int, order: Order, after: str | None, before: str | None
    ) -> ItemPage | None:
        conn = self._reader()
        with _transaction(conn, "BEGIN"):
            args = (id, owner, sql.now_arg(time.time()), after, before)
            cursors = conn.execute(_q(sql.SELECT_CURSORS), args).fetchone()
            if cursors is None:
                return None
            after_pos, before_pos = cursors
            if (after is not None and after_pos is None) or (
                before is not None and before_pos is None
            ):
                return ItemPage([], None, None, False)
            w = window(order, after_pos, before_pos, before_given=before is not None)
            rows = conn.execute(_q(sql.select_page(w)), sql.page_args(id, w, limit)).fetchall()
        return make_page([orjson.loads(item) for (item,) in rows], limit, w.from_end)

    async def history(self, id: str, owner: str) -> list[dict[str, Any]] | None:
        return await self._read(self._history, id, owner, time.time())

    def _history(self, id: str, owner: str, now: float) -> list[dict[str, Any]] | None:
        rows = self._reader().execute(_q(sql.HISTORY), sql.history_args(id, owner, now))
        return sql.assemble_history(rows)

    async def append_events(self, id: str, events: Sequence[NumberedEvent]) -> None:
        if events:
            rows = [(id, seq, sql.dumps(event)) for seq, event in events]
            await self._write(self._exec_many, sql.APPEND_EVENT, rows)

    @staticmethod
    def _exec_many(w: sqlite3.Connection, statement: str, rows: list[tuple[Any, ...]]) -> None:
        w.executemany(_q(statement), rows)

    @staticmethod
    def _exec(w: sqlite3.Connection, statement: str, args: tuple[Any, ...]) -> None:
        w.execute(_q(statement), args)

    async def events(self, id: str, after: int) -> list[dict[str, Any]]:
        rows = await self._read(self._fetch, sql.SELECT_EVENTS, (id, after))
        return [orjson.loads(event) for (event,) in rows]

    def _fetch(self, statement: str, args: tuple[Any, ...]) -> list[Any]:
        return self._reader().execute(_q(statement), args).fetchall()

    async def set_lease(self, id: str, instance_id: str, until: float) -> None:
        await self._write(self._exec, sql.SET_LEASE, (id, instance_id, until))

    async def recover(self, now: float) -> list[str]:
        return await self._write(self._recover, now)

    @staticmethod
    def _recover(w: sqlite3.Connection, now: float) -> list[str]:
        recovered = []
        rows = w.execute(_q(sql.SELECT_STALE), sql.stale_args(now)).fetchall()
        for id, status, lease_until, created_at, response in rows:
            if not is_stale(status, lease_until, created_at, now):
                continue
            failed = sql.dumps(mark_failed(orjson.loads(response)))
            w.execute(_q(sql.MARK_FAILED), (id, failed))
            recovered.append(id)
        return recovered

    async def request_cancel(self, id: str) -> None:
        await self._write(self._exec, sql.REQUEST_CANCEL, (id,))

    async def cancel_requested(self, id: str) -> bool:
        rows = await self._read(self._fetch, sql.SELECT_CANCEL, (id,))
        return bool(rows and rows[0][0])

    async def gc(self, now: float) -> int:
        return await self._write(self._gc, now)

    @staticmethod
    def _gc(w: sqlite3.Connection, now: float) -> int:
        return int(w.execute(_q(sql.GC), (sql.now_arg(now),)).rowcount)

    async def ping(self) -> None:
        await self._read(self._fetch, "SELECT 1", ())

    async def put_key(self, key: KeyRecord) -> None:
        await self._write(self._exec, sql.UPSERT_KEY, sql.key_row(key))

    async def get_key(self, key_id: str) -> KeyRecord | None:
        rows = await self._read(self._fetch, sql.SELECT_KEY, (key_id,))
        return sql.key_from_row(rows[0]) if rows else None

    async def list_keys(self) -> list[KeyRecord]:
        rows = await self._read(self._fetch, sql.SELECT_KEYS, ())
        return [sql.key_from_row(row) for row in rows]

    async def revoke_key(self, key_id: str, at: int | None = None) -> bool:
        when = int(time.time()) if at is None else at
        return await self._write(self._revoke_key, key_id, when)

    @staticmethod
    def _revoke_key(w: sqlite3.Connection, key_id: str, at: int) -> bool:
        return w.execute(_q(sql.REVOKE_KEY), (key_id, at)).rowcount > 0

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        # Let queued writes commit (a put in flight must not be lost), then close every
        # connection once no thread can touch it.
        if self._writer is not None:
            await self._writer.stop()
        await loop.run_in_executor(None, self._readers.shutdown, True)
        with self._conns_lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            conn.close()


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection, begin: str = "BEGIN IMMEDIATE") -> Iterator[None]:
    """``BEGIN IMMEDIATE`` takes the write lock up front, so a write transaction waits (up to
    ``busy_timeout``) at its start instead of failing half-way when another process writes."""
    conn.execute(begin)
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def use_wal(conn: sqlite3.Connection, timeout: float = BUSY_TIMEOUT_MS / 1000) -> None:
    """Put the database in WAL mode. Processes opening a new file at once (``serve --workers``)
    each hold a shared lock while they ask to switch it; SQLite sees the deadlock and answers one
    of them "database is locked" at once, without its busy handler, so that one tries again."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            busy = getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY
            if not busy or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def _prepare_file(path: Path) -> None:
    """Create the database's directory private (0700) and the file 0600 (SQLite gives its WAL
    and shared-memory files the same mode): stored conversations are private data. An existing
    directory keeps its mode; it may be shared on purpose."""
    directory = path.parent
    if not directory.exists():
        directory.mkdir(parents=True, mode=0o700)
        directory.chmod(0o700)  # mkdir's mode is filtered by the umask
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, stat.S_IRUSR | stat.S_IWUSR)
        os.close(fd)


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    known = migrations("sqlite")
    with _transaction(conn):
        conn.execute(VERSION_TABLE)
        (current,) = conn.execute(sql.SELECT_VERSION).fetchone()
        try:
            todo = pending(known, current)
        except ValueError as exc:
            raise StoreError(f"sqlite store {path}: {exc}") from None
        for migration in todo:
            for statement in migration.statements:
                conn.execute(statement)
            conn.execute(
                _q(sql.RECORD_VERSION), (migration.version, migration.name, int(time.time()))
            )
