"""Writing stored responses to SQLite: one at a time, or a run of them in three statements.

``put_many`` is what the group commit runs for puts that wait together: one multi-row upsert of
the responses, one DELETE of their old items, one multi-row INSERT of the new ones — three
statements however many puts, where one at a time costs three each (and every statement is a
round trip for the GIL, see ``sqlite_batch``). When two puts in a run replace the same
response, the later one is what a one-at-a-time run would have left, so only it is written.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

from wirebridge.store import sql

Row = tuple[Any, ...]
Put = tuple[Row, list[Row]]  # the responses row (id first), its response_items rows

# SQLite binds at most 32766 parameters per statement (since 3.32): rows per statement below it.
_RESPONSE_ROWS = 1000  # 7 parameters each
_ITEM_ROWS = 2000  # 4 parameters each

_RESPONSE_COLUMNS = "(id, owner, status, previous_response_id, created_at, expires_at, response)"
_UPSERT_TAIL = sql.UPSERT_RESPONSE[sql.UPSERT_RESPONSE.index("ON CONFLICT") :]


@functools.lru_cache(maxsize=8)
def _q(statement: str) -> str:
    return sql.for_sqlite(statement)


def put_one(w: sqlite3.Connection, row: Row, items: list[Row]) -> None:
    w.execute(_q(sql.UPSERT_RESPONSE), row)
    w.execute(_q(sql.DELETE_ITEMS), (row[0],))
    w.executemany(_q(sql.INSERT_ITEM), items)


def put_many(w: sqlite3.Connection, puts: list[tuple[Any, ...]]) -> None:
    """``puts``: the arguments of ``put_one`` calls, in the order they were made."""
    last: dict[str, Put] = {}
    for row, items in puts:
        last.pop(row[0], None)  # a later put of the same id replaces the earlier one wholly
        last[row[0]] = (row, items)
    rows = [row for row, _ in last.values()]
    for chunk in _chunks(rows, _RESPONSE_ROWS):
        w.execute(_upsert(len(chunk)), [v for row in chunk for v in row])
    for chunk in _chunks([row[0] for row in rows], _RESPONSE_ROWS):
        w.execute(_delete_items(len(chunk)), chunk)
    items = [item for _, its in last.values() for item in its]
    for chunk in _chunks(items, _ITEM_ROWS):
        w.execute(_insert_items(len(chunk)), [v for item in chunk for v in item])


def _chunks(rows: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


@functools.lru_cache(maxsize=64)
def _upsert(n: int) -> str:
    values = ",".join(["(?,?,?,?,?,?,?)"] * n)
    return f"INSERT INTO responses {_RESPONSE_COLUMNS} VALUES {values} {_UPSERT_TAIL}"


@functools.lru_cache(maxsize=64)
def _delete_items(n: int) -> str:
    return f"DELETE FROM response_items WHERE response_id IN ({','.join(['?'] * n)})"


@functools.lru_cache(maxsize=64)
def _insert_items(n: int) -> str:
    values = ",".join(["(?,?,?,?)"] * n)
    return f"INSERT INTO response_items (response_id, position, item_id, item) VALUES {values}"
