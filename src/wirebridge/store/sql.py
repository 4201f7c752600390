"""SQL shared by the SQLite and PostgreSQL stores, and the row → record helpers both use.

Statements are written once, with PostgreSQL's ``$1`` placeholders; ``for_sqlite`` turns them
into SQLite's numbered ``?1``, which binds the same way. Times are compared as integers (the
columns are BIGINT and asyncpg will not bind a float to one): for an integer column ``t``,
``t > now`` is ``t > floor(now)`` and ``t < x`` is ``t < ceil(x)``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from wirebridge.store.base import MAX_CHAIN, RECOVER_GRACE, KeyRecord, StoredResponse, Window

# A big position bound instead of NULL keeps one statement for every window shape.
_NO_LIMIT = 2**31 - 1

UPSERT_RESPONSE = """
INSERT INTO responses
    (id, owner, status, previous_response_id, created_at, expires_at, response)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (id) DO UPDATE SET
    owner = excluded.owner,
    status = excluded.status,
    previous_response_id = excluded.previous_response_id,
    created_at = excluded.created_at,
    expires_at = excluded.expires_at,
    response = excluded.response
"""

DELETE_ITEMS = "DELETE FROM response_items WHERE response_id = $1"

INSERT_ITEM = """
INSERT INTO response_items (response_id, position, item_id, item) VALUES ($1, $2, $3, $4)
"""

_VISIBLE = "owner = $2 AND (expires_at IS NULL OR expires_at > $3)"

SELECT_RESPONSE = f"""
SELECT previous_response_id, created_at, expires_at, response
FROM responses WHERE id = $1 AND {_VISIBLE}
"""

SELECT_ITEMS = "SELECT item FROM response_items WHERE response_id = $1 ORDER BY position"

DELETE_RESPONSE = f"DELETE FROM responses WHERE id = $1 AND {_VISIBLE}"

# Whether the response is visible, and where the two cursors are (NULL when absent).
SELECT_CURSORS = f"""
SELECT
    (SELECT MIN(position) FROM response_items WHERE response_id = $1 AND item_id = $4),
    (SELECT MIN(position) FROM response_items WHERE response_id = $1 AND item_id = $5)
FROM responses WHERE id = $1 AND {_VISIBLE}
"""

_SELECT_PAGE = """
SELECT item FROM response_items
WHERE response_id = $1 AND position > $2 AND position < $3
ORDER BY position {direction} LIMIT $4
"""

# The chain from $1 back to its root in one statement. A link that is missing, expired or
# someone else's stops the recursion, which the caller sees as a chain whose oldest turn still
# has a previous_response_id. Rows: every turn's items, then its response, oldest turn first.
HISTORY = f"""
WITH RECURSIVE chain (id, prev, depth) AS (
    SELECT id, previous_response_id, 0 FROM responses WHERE id = $1 AND {_VISIBLE}
    UNION ALL
    SELECT r.id, r.previous_response_id, c.depth + 1
    FROM chain c JOIN responses r ON r.id = c.prev
    WHERE r.owner = $2 AND (r.expires_at IS NULL OR r.expires_at > $3) AND c.depth < $4
)
SELECT c.depth, c.prev, 0 AS kind, i.position, i.item AS doc
FROM chain c JOIN response_items i ON i.response_id = c.id
UNION ALL
SELECT c.depth, c.prev, 1 AS kind, 0 AS position, r.response AS doc
FROM chain c JOIN responses r ON r.id = c.id
ORDER BY 1 DESC, 3, 4
"""

APPEND_EVENT = """
INSERT INTO response_events (response_id, seq, event)
SELECT $1, CAST($2 AS BIGINT), $3 WHERE EXISTS (SELECT 1 FROM responses WHERE id = $1)
ON CONFLICT (response_id, seq) DO UPDATE SET event = excluded.event
"""

SELECT_EVENTS = """
SELECT event FROM response_events WHERE response_id = $1 AND seq > $2 ORDER BY seq
"""

SET_LEASE = "UPDATE responses SET lease_owner = $2, lease_until = $3 WHERE id = $1"

REQUEST_CANCEL = "UPDATE responses SET cancel_requested = 1 WHERE id = $1"

SELECT_CANCEL = "SELECT cancel_requested FROM responses WHERE id = $1"

# $1: now (float, compared with a DOUBLE PRECISION column); $2: ceil(now - grace).
SELECT_STALE = """
SELECT id, status, lease_until, created_at, response FROM responses
WHERE status IN ('queued', 'in_progress')
  AND ((lease_until IS NOT NULL AND lease_until < $1)
       OR (lease_until IS NULL AND created_at < $2))
"""

MARK_FAILED = "UPDATE responses SET status = 'failed', response = $2 WHERE id = $1"

GC = "DELETE FROM responses WHERE expires_at IS NOT NULL AND expires_at <= $1"

_KEY_COLUMNS = "id, name, key_hash, created_at, revoked_at, models, rpm, rpd, tpm"

UPSERT_KEY = f"""
INSERT INTO client_keys ({_KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (id) DO UPDATE SET
    name = excluded.name,
    key_hash = excluded.key_hash,
    created_at = excluded.created_at,
    revoked_at = excluded.revoked_at,
    models = excluded.models,
    rpm = excluded.rpm,
    rpd = excluded.rpd,
    tpm = excluded.tpm
"""

SELECT_KEY = f"SELECT {_KEY_COLUMNS} FROM client_keys WHERE id = $1"

SELECT_KEYS = f"SELECT {_KEY_COLUMNS} FROM client_keys ORDER BY created_at, id"

REVOKE_KEY = "UPDATE client_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1"

SELECT_VERSION = "SELECT MAX(version) FROM wirebridge_schema"

RECORD_VERSION = "INSERT INTO wirebridge_schema (version, name, applied_at) VALUES ($1, $2, $3)"


def for_sqlite(sql: str) -> str:
    return re.sub(r"\$(\d+)", r"?\1", sql)


def select_page(w: Window) -> str:
    ascending = w.ascending != w.from_end  # read from the edge the page starts at
    return _SELECT_PAGE.format(direction="ASC" if ascending else "DESC")


def page_args(id: str, w: Window, limit: int) -> tuple[str, int, int, int]:
    lo = -1 if w.lo is None else w.lo
    hi = _NO_LIMIT if w.hi is None else w.hi
    return id, lo, hi, limit + 1


def now_arg(now: float) -> int:
    """``now`` for ``expires_at > $n`` / ``expires_at <= $n`` against an integer column."""
    return math.floor(now)


def stale_args(now: float) -> tuple[float, int]:
    return now, math.ceil(now - RECOVER_GRACE)


def history_args(id: str, owner: str, now: float) -> tuple[str, str, int, int]:
    return id, owner, now_arg(now), MAX_CHAIN - 1


def response_row(rec: StoredResponse) -> tuple[Any, ...]:
    """``UPSERT_RESPONSE``'s seven parameters for ``rec``, its response JSON-encoded."""
    return (
        rec.id,
        rec.owner,
        rec.status,
        rec.previous_response_id,
        rec.created_at,
        rec.expires_at,
        dumps(rec.response),
    )


def item_rows(id: str, items: Sequence[dict[str, Any]]) -> list[tuple[str, int, str | None, str]]:
    """``response_items`` rows for ``items``, JSON-encoded."""
    rows = []
    for position, item in enumerate(items):
        item_id = item.get("id")
        rows.append(
            (
                id,
                position,
                item_id if isinstance(item_id, str) else None,
                dumps(item),
            )
        )
    return rows


def assemble_history(rows: Iterable[Sequence[Any]]) -> list[dict[str, Any]] | None:
    """Rows of ``HISTORY`` (depth, prev, kind, position, doc) → the conversation, or ``None``
    when the chain is empty or its oldest turn still points further back."""
    out: list[dict[str, Any]] = []
    root_checked = False
    for depth, prev, kind, _position, doc in rows:
        del depth
        if not root_checked:
            if prev is not None:
                return None
            root_checked = True
        if kind == 0:
            out.append(orjson.loads(doc))
        else:
            out.extend(orjson.loads(doc).get("output") or [])
    return out if root_checked else None


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def key_row(key: KeyRecord) -> tuple[Any, ...]:
    """``client_keys`` row for ``key``, in ``_KEY_COLUMNS`` order."""
    models = None if key.models is None else dumps(list(key.models))
    return (
        key.id,
        key.name,
        key.key_hash,
        key.created_at,
        key.revoked_at,
        models,
        key.rpm,
        key.rpd,
        key.tpm,
    )


def key_from_row(row: Sequence[Any]) -> KeyRecord:
    id, name, key_hash, created_at, revoked_at, models, rpm, rpd, tpm = row
    return KeyRecord(
        id=id,
        name=name,
        key_hash=key_hash,
        created_at=created_at,
        revoked_at=revoked_at,
        models=None if models is None else tuple(orjson.loads(models)),
        rpm=rpm,
        rpd=rpd,
        tpm=tpm,
    )
