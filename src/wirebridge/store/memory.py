"""The in-process store: dicts, for unit tests and ``backend: memory`` (lost on restart).

Records are kept JSON-encoded, as every other backend keeps them, so a test on this store fails
the same way a real one would when something unserialisable is stored, and a caller mutating a
dict after ``put`` cannot change what was stored.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from wirebridge.store.base import (
    MAX_CHAIN,
    ItemPage,
    KeyRecord,
    NumberedEvent,
    Order,
    StoredResponse,
    is_stale,
    mark_failed,
    paginate,
    visible,
)


@dataclass(slots=True)
class _Row:
    owner: str
    previous_response_id: str | None
    created_at: int
    expires_at: int | None
    response: bytes
    items: bytes
    status: str
    lease_until: float | None = None
    lease_owner: str | None = None
    cancel: bool = False
    events: dict[int, bytes] = field(default_factory=dict)


class MemoryStore:
    def __init__(self) -> None:
        self._rows: dict[str, _Row] = {}
        self._keys: dict[str, KeyRecord] = {}  # frozen records: stored as they are

    def _visible(self, id: str, owner: str) -> _Row | None:
        row = self._rows.get(id)
        if row is None or not visible(row.owner, row.expires_at, owner, time.time()):
            return None
        return row

    async def put(self, rec: StoredResponse) -> None:
        response, items = orjson.dumps(rec.response), orjson.dumps(rec.input_items)
        old = self._rows.get(rec.id)
        row = _Row(
            rec.owner,
            rec.previous_response_id,
            rec.created_at,
            rec.expires_at,
            response,
            items,
            rec.status,
        )
        if old is not None:  # a replacement keeps the background bookkeeping
            row.lease_until, row.lease_owner = old.lease_until, old.lease_owner
            row.cancel, row.events = old.cancel, old.events
        self._rows[rec.id] = row

    async def get(self, id: str, owner: str) -> StoredResponse | None:
        row = self._visible(id, owner)
        if row is None:
            return None
        return StoredResponse(
            id=id,
            owner=row.owner,
            response=orjson.loads(row.response),
            input_items=orjson.loads(row.items),
            previous_response_id=row.previous_response_id,
            created_at=row.created_at,
            expires_at=row.expires_at,
        )

    async def delete(self, id: str, owner: str) -> bool:
        if self._visible(id, owner) is None:
            return False
        del self._rows[id]
        return True

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
        row = self._visible(id, owner)
        if row is None:
            return None
        items = orjson.loads(row.items)
        return paginate(items, limit=limit, order=order, after=after, before=before)

    async def history(self, id: str, owner: str) -> list[dict[str, Any]] | None:
        turns: list[_Row] = []
        current: str | None = id
        while current is not None:
            row = self._visible(current, owner)
            if row is None or len(turns) >= MAX_CHAIN:
                return None
            turns.append(row)
            current = row.previous_response_id
        out: list[dict[str, Any]] = []
        for row in reversed(turns):
            out.extend(orjson.loads(row.items))
            out.extend(orjson.loads(row.response).get("output") or [])
        return out

    async def append_events(self, id: str, events: Sequence[NumberedEvent]) -> None:
        row = self._rows.get(id)
        if row is not None:
            for seq, event in events:
                row.events[seq] = orjson.dumps(event)

    async def events(self, id: str, after: int) -> list[dict[str, Any]]:
        row = self._rows.get(id)
        if row is None:
            return []
        return [orjson.loads(row.events[seq]) for seq in sorted(row.events) if seq > after]

    async def set_lease(self, id: str, instance_id: str, until: float) -> None:
        row = self._rows.get(id)
        if row is not None:
            row.lease_owner, row.lease_until = instance_id, until

    async def recover(self, now: float) -> list[str]:
        recovered = []
        for id, row in self._rows.items():
            if is_stale(row.status, row.lease_until, row.created_at, now):
                row.response = orjson.dumps(mark_failed(orjson.loads(row.response)))
                row.status = "failed"
                recovered.append(id)
        return recovered

    async def request_cancel(self, id: str) -> None:
        row = self._rows.get(id)
        if row is not None:
            row.cancel = True

    async def cancel_requested(self, id: str) -> bool:
        row = self._rows.get(id)
        return row is not None and row.cancel

    async def gc(self, now: float) -> int:
        expired = [
            id
            for id, row in self._rows.items()
            if row.expires_at is not None and row.expires_at <= now
        ]
        for id in expired:
            del self._rows[id]
        return len(expired)

    async def ping(self) -> None:
        return None

    async def put_key(self, key: KeyRecord) -> None:
        self._keys[key.id] = key

    async def get_key(self, key_id: str) -> KeyRecord | None:
        return self._keys.get(key_id)

    async def list_keys(self) -> list[KeyRecord]:
        return sorted(self._keys.values(), key=lambda key: (key.created_at, key.id))

    async def revoke_key(self, key_id: str, at: int | None = None) -> bool:
        key = self._keys.get(key_id)
        if key is None:
            return False
        if key.revoked_at is None:
            when = int(time.time()) if at is None else at
            self._keys[key_id] = replace(key, revoked_at=when)
        return True

    async def close(self) -> None:
        self._rows.clear()
        self._keys.clear()
