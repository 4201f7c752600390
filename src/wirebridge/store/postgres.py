"""The PostgreSQL store: an asyncpg pool over the schema in ``migrations/``.

Several gateway instances may share one database, so every write is atomic: ``put`` writes the
response and its items in one statement (the puts of one turn of the event loop go in one round
trip, ``Coalescer``), what reads then writes runs in one transaction, ``recover`` locks the rows
it fails (``FOR UPDATE SKIP LOCKED``: two instances recovering at once split the work rather
than wait on each other), and migrations run under an advisory lock so instances starting
together apply each one once. The DSN may carry server settings as query parameters
(``?search_path=tenant_a``), which asyncpg passes through.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator, Sequence
from typing import Any

import asyncpg
import orjson

from wirebridge.coalesce import Coalescer
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
    redact_url,
    window,
)
from wirebridge.store.migrations import VERSION_TABLE, migrations, pending

CONNECT_TIMEOUT = 10.0
COMMAND_TIMEOUT = 30.0
CLOSE_TIMEOUT = 10.0
_MIGRATION_LOCK = 0x7769726562726467  # "wirebrdg": one advisory lock for schema changes

_GET = """
SELECT r.previous_response_id, r.created_at, r.expires_at, r.response,
       ARRAY(SELECT i.item FROM response_items i WHERE i.response_id = r.id ORDER BY i.position)
FROM responses r
WHERE r.id = $1 AND r.owner = $2 AND (r.expires_at IS NULL OR r.expires_at > $3)
"""

# A whole put in one statement, so one round trip where BEGIN, three statements and COMMIT
# took five: the response upserted, its items upserted by position (an array per column,
# unnested back into rows), and the items past the new last position deleted. The two item
# statements touch disjoint rows, as the sub-statements of one statement must. Two puts of one
# response racing could leave the longer item list's tail only if their items differed, and a
# response's input items are fixed when it is created.
_PUT = f"""
WITH response AS ({sql.UPSERT_RESPONSE}),
stale AS (
    DELETE FROM response_items WHERE response_id = $1 AND position >= cardinality($8::integer[])
)
INSERT INTO response_items (response_id, position, item_id, item)
SELECT $1::text, * FROM unnest($8::integer[], $9::text[], $10::text[])
ON CONFLICT (response_id, position) DO UPDATE SET item_id = excluded.item_id, item = excluded.item
"""


async def _keep_session(conn: asyncpg.Connection) -> None:
    """A connection goes back to the pool as it is. asyncpg's default reset is a round trip
    (``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``) after every query made
    through the pool, for session state the store never creates: it takes no session-level
    locks (the migration lock ends with its transaction), sets nothing, listens to nothing and
    opens no cursor outside a transaction. An open transaction is still rolled back first."""


class PostgresStore:
    """Open with ``await PostgresStore.open(dsn)``; ``close()`` when done."""

    def __init__(self, pool: asyncpg.Pool, dsn: str) -> None:
        self._pool = pool
        self._where = redact_url(dsn)
        self._puts: Coalescer[tuple[Any, ...], None] = Coalescer(self._put_many)

    @classmethod
    async def open(cls, dsn: str, *, min_size: int = 1, max_size: int = 10) -> PostgresStore:
        where = redact_url(dsn)
        with _errors(where, "connect"):
            pool = await asyncpg.create_pool(
                dsn,
                min_size=min_size,
                max_size=max_size,
                timeout=CONNECT_TIMEOUT,
                command_timeout=COMMAND_TIMEOUT,
                reset=_keep_session,
            )
        store = cls(pool, dsn)
        try:
            with _errors(where, "migrate"):
                await store._migrate()
        except BaseException:
            await pool.close()
            raise
        return store

    async def _migrate(self) -> None:
        known = migrations("postgres")
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            await conn.execute(VERSION_TABLE)
            current = await conn.fetchval(sql.SELECT_VERSION)
            try:
                todo = pending(known, current)
            except ValueError as exc:
                raise StoreError(f"postgres store {self._where}: {exc}") from None
            for migration in todo:
                for statement in migration.statements:
                    await conn.execute(statement)
                await conn.execute(
                    sql.RECORD_VERSION, migration.version, migration.name, int(time.time())
                )

    # -- the contract --------------------------------------------------------------------------

    async def put(self, rec: StoredResponse) -> None:
        row = sql.response_row(rec)
        rows = sql.item_rows(rec.id, rec.input_items)
        _, positions, ids, items = zip(*rows, strict=True) if rows else ((), (), (), ())
        if not _nameable(*ids):
            ids = tuple(_or_none(i) for i in ids)  # kept in the item, lost only as a cursor
        with _errors(self._where, "put"):
            await self._puts((*row, positions, ids, items))

    async def _put_many(self, puts: list[tuple[Any, ...]]) -> list[BaseException | None]:
        """The puts of one loop turn in one round trip (``executemany`` pipelines them in one
        transaction). One that fails takes the others with it, so they are then tried one by
        one, and only the failing put fails."""
        if len(puts) == 1:
            await self._pool.execute(_PUT, *puts[0])
            return [None]
        # A timeout or a socket error (OSError) fails them all: one by one would only wait as
        # long again.
        try:
            await self._pool.executemany(_PUT, puts)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, ValueError):
            results = await asyncio.gather(
                *(self._pool.execute(_PUT, *put) for put in puts), return_exceptions=True
            )
            return [None if isinstance(r, str) else r for r in results]
        return [None] * len(puts)

    async def get(self, id: str, owner: str) -> StoredResponse | None:
        if not _nameable(id):
            return None
        with _errors(self._where, "get"):
            row = await self._pool.fetchrow(_GET, id, owner, sql.now_arg(time.time()))
        if row is None:
            return None
        prev, created_at, expires_at, response, items = row
        return StoredResponse(
            id=id,
            owner=owner,
            response=orjson.loads(response),
            input_items=[orjson.loads(item) for item in items],
            previous_response_id=prev,
            created_at=created_at,
            expires_at=expires_at,
        )

    async def delete(self, id: str, owner: str) -> bool:
        if not _nameable(id):
            return False
        with _errors(self._where, "delete"):
            status = await self._pool.execute(
                sql.DELETE_RESPONSE, id, owner, sql.now_arg(time.time())
            )
        return _count(status) > 0

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
        if not _nameable(id):
            return None
        now = sql.now_arg(time.time())
        with _errors(self._where, "input_items"):
            async with self._pool.acquire() as conn:
                # A cursor that names nothing is looked up as NULL, which matches no item.
                cursor_args = (_or_none(after), _or_none(before))
                cursors = await conn.fetchrow(sql.SELECT_CURSORS, id, owner, now, *cursor_args)
                if cursors is None:
                    return None
                after_pos, before_pos = cursors
                if (after is not None and after_pos is None) or (
                    before is not None and before_pos is None
                ):
                    return ItemPage([], None, None, False)
                w = window(order, after_pos, before_pos, before_given=before is not None)
                rows = await conn.fetch(sql.select_page(w), *sql.page_args(id, w, limit))
        return make_page([orjson.loads(row[0]) for row in rows], limit, w.from_end)

    async def history(self, id: str, owner: str) -> list[dict[str, Any]] | None:
        if not _nameable(id):
            return None
        with _errors(self._where, "history"):
            rows = await self._pool.fetch(sql.HISTORY, *sql.history_args(id, owner, time.time()))
        return sql.assemble_history(rows)

    async def append_events(self, id: str, events: Sequence[NumberedEvent]) -> None:
        if not events:
            return
        rows = [(id, seq, sql.dumps(event)) for seq, event in events]
        with _errors(self._where, "append_events"):
            await self._pool.executemany(sql.APPEND_EVENT, rows)

    async def events(self, id: str, after: int) -> list[dict[str, Any]]:
        with _errors(self._where, "events"):
            rows = await self._pool.fetch(sql.SELECT_EVENTS, id, after)
        return [orjson.loads(row[0]) for row in rows]

    async def set_lease(self, id: str, instance_id: str, until: float) -> None:
        with _errors(self._where, "set_lease"):
            await self._pool.execute(sql.SET_LEASE, id, instance_id, until)

    async def recover(self, now: float) -> list[str]:
        recovered = []
        with _errors(self._where, "recover"):
            async with self._pool.acquire() as conn, conn.transaction():
                rows = await conn.fetch(
                    sql.SELECT_STALE + " FOR UPDATE SKIP LOCKED", *sql.stale_args(now)
                )
                for id, status, lease_until, created_at, response in rows:
                    if not is_stale(status, lease_until, created_at, now):
                        continue
                    failed = sql.dumps(mark_failed(orjson.loads(response)))
                    await conn.execute(sql.MARK_FAILED, id, failed)
                    recovered.append(id)
        return recovered

    async def request_cancel(self, id: str) -> None:
        with _errors(self._where, "request_cancel"):
            await self._pool.execute(sql.REQUEST_CANCEL, id)

    async def cancel_requested(self, id: str) -> bool:
        with _errors(self._where, "cancel_requested"):
            return bool(await self._pool.fetchval(sql.SELECT_CANCEL, id))

    async def gc(self, now: float) -> int:
        with _errors(self._where, "gc"):
            return _count(await self._pool.execute(sql.GC, sql.now_arg(now)))

    async def ping(self) -> None:
        with _errors(self._where, "ping"):
            await self._pool.fetchval("SELECT 1")

    async def put_key(self, key: KeyRecord) -> None:
        with _errors(self._where, "put_key"):
            await self._pool.execute(sql.UPSERT_KEY, *sql.key_row(key))

    async def get_key(self, key_id: str) -> KeyRecord | None:
        with _errors(self._where, "get_key"):
            row = await self._pool.fetchrow(sql.SELECT_KEY, key_id)
        return None if row is None else sql.key_from_row(tuple(row))

    async def list_keys(self) -> list[KeyRecord]:
        with _errors(self._where, "list_keys"):
            rows = await self._pool.fetch(sql.SELECT_KEYS)
        return [sql.key_from_row(tuple(row)) for row in rows]

    async def revoke_key(self, key_id: str, at: int | None = None) -> bool:
        when = int(time.time()) if at is None else at
        with _errors(self._where, "revoke_key"):
            return _count(await self._pool.execute(sql.REVOKE_KEY, key_id, when)) > 0

    async def close(self) -> None:
        """Wait for connections in use to come back, then close; past ``CLOSE_TIMEOUT`` (a
        connection stuck in a query) drop them."""
        await self._puts.drain()
        try:
            await asyncio.wait_for(self._pool.close(), CLOSE_TIMEOUT)
        except TimeoutError:
            self._pool.terminate()


def _count(status: str) -> int:
    """Rows affected, from a command tag such as ``DELETE 3``."""
    return int(status.rsplit(" ", 1)[-1])


def _nameable(*texts: str | None) -> bool:
    """Whether these ids can name something stored. PostgreSQL's text holds no NUL character,
    so an id with one (a client's, from a path or a body) names nothing here; sent as it is,
    PostgreSQL would refuse the whole statement, and the client would see the store as down."""
    return not any(text is not None and "\x00" in text for text in texts)


def _or_none(text: str | None) -> str | None:
    return text if _nameable(text) else None


@contextlib.contextmanager
def _errors(where: str, op: str) -> Iterator[None]:
    try:
        yield
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise StoreError(f"postgres store {where}: {op}: {exc}") from exc
    except (OSError, TimeoutError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise StoreError(f"postgres store {where}: {op}: {reason}") from exc
