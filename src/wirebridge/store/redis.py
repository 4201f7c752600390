"""The Redis store: one hash per response, Lua where a read decides a write.

Keys (``P`` = the prefix, ``wirebridge:`` by default):

* ``P resp:<id>`` — hash: ``owner``, ``prev``, ``created``, ``expires``, ``status``,
  ``response`` (JSON), ``items`` (JSON list), ``lease_owner``, ``lease_until``, ``cancel``.
  Absent values are stored as ``""``. ``EXPIREAT`` is the response's ``expires_at``, so Redis
  drops expired responses by itself.
* ``P events:<id>`` — sorted set of ``"<seq>:<event JSON>"`` scored by ``seq``, with the
  response's expiry.
* ``P expiry`` — sorted set of ids by ``expires_at``, for ``gc(now)`` at any ``now``.
* ``P active`` — set of ids that are queued or in progress, for ``recover``.
* ``P key:<id>`` — hash of a managed client key: ``hash``, ``name``, ``created``, ``revoked``,
  ``models`` (JSON list; ``""`` = every model), ``rpm``, ``rpd``, ``tpm``; no expiry.
* ``P keys`` — sorted set of client key ids by ``created``, for ``list_keys``.

``history`` walks the chain inside one Lua script (one round trip for any length), and every
check-then-write (delete, events, lease, cancel, recover) is a script, so it is atomic. Scripts
touch keys they compute, which standalone Redis allows and Redis Cluster does not: this store
is for a single Redis (or a primary with replicas). The puts made in one turn of the event loop
go as one script (``Coalescer``). Durability is what the server is configured for
(``appendonly``/``appendfsync``); ``put`` returns once Redis has applied the write.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from typing import Any

import orjson

from wirebridge.coalesce import Coalescer
from wirebridge.store import redis_scripts as scripts
from wirebridge.store.base import (
    ACTIVE_STATUSES,
    MAX_CHAIN,
    RECOVER_GRACE,
    ItemPage,
    KeyRecord,
    NumberedEvent,
    Order,
    StoredResponse,
    StoreError,
    mark_failed,
    paginate,
    redact_url,
)
from wirebridge.transport.resp import RespClient, RespError, Script

PREFIX = "wirebridge:"
CONNECT_TIMEOUT = 5.0
SOCKET_TIMEOUT = 30.0
GC_BATCH = 500

_KEY_FIELDS = ("hash", "name", "created", "revoked", "models", "rpm", "rpd", "tpm")


class RedisStore:
    """Open with ``await RedisStore.open(url)``; ``close()`` when done."""

    def __init__(self, client: RespClient, url: str, prefix: str = PREFIX) -> None:
        self._r = client
        self._where = redact_url(url)
        self.prefix = prefix
        self._expiry = f"{prefix}expiry"
        self._active = f"{prefix}active"
        self._puts: Coalescer[tuple[list[str], list[Any]], None] = Coalescer(self._put_many)
        self._keys = f"{prefix}keys"

    @classmethod
    async def open(cls, url: str, *, prefix: str = PREFIX) -> RedisStore:
        try:
            client = RespClient.from_url(
                url, timeout=SOCKET_TIMEOUT, connect_timeout=CONNECT_TIMEOUT
            )
        except ValueError as exc:
            raise StoreError(f"redis store {redact_url(url)}: invalid URL: {exc}") from None
        store = cls(client, url, prefix)
        try:
            await store.ping()
        except BaseException:
            await client.close()
            raise
        return store

    def _resp(self, id: str) -> str:
        return f"{self.prefix}resp:{id}"

    def _events(self, id: str) -> str:
        return f"{self.prefix}events:{id}"

    # -- the contract --------------------------------------------------------------------------

    async def put(self, rec: StoredResponse) -> None:
        args = [
            rec.id,
            "" if rec.expires_at is None else rec.expires_at,
            "1" if rec.status in ACTIVE_STATUSES else "",
            rec.owner,
            rec.previous_response_id or "",
            rec.created_at,
            rec.status,
            orjson.dumps(rec.response),  # encoded here: a TypeError stays this put's
            orjson.dumps(rec.input_items),
        ]
        keys = [self._resp(rec.id), self._events(rec.id), self._expiry, self._active]
        with self._errors("put"):
            await self._puts((keys, args))

    async def _put_many(self, puts: list[tuple[list[str], list[Any]]]) -> list[None]:
        # One script for every put of a loop turn, not a MULTI of six commands each: one
        # command packed, one reply parsed (bench/README.md).
        keys = [key for put_keys, _ in puts for key in put_keys]
        args = [arg for _, put_args in puts for arg in put_args]
        await self._r.run(_PUT, keys, args)
        return [None] * len(puts)

    async def get(self, id: str, owner: str) -> StoredResponse | None:
        with self._errors("get"):
            f = await self._r.call(
                "HMGET", self._resp(id), "owner", "prev", "created", "expires", "response", "items"
            )
        got_owner, prev, created, expires, response, items = f
        if not self._visible(got_owner, expires, owner):
            return None
        return StoredResponse(
            id=id,
            owner=owner,
            response=orjson.loads(response),
            input_items=orjson.loads(items),
            previous_response_id=prev.decode() or None,
            created_at=int(created),
            expires_at=int(expires) if expires else None,
        )

    @staticmethod
    def _visible(got_owner: bytes | None, expires: bytes | None, owner: str) -> bool:
        if got_owner is None or got_owner.decode() != owner:
            return False
        return not expires or int(expires) > time.time()

    async def delete(self, id: str, owner: str) -> bool:
        keys = [self._resp(id), self._events(id), self._expiry, self._active]
        with self._errors("delete"):
            done = await self._r.run(_DELETE, keys, [owner, repr(time.time()), id])
        return bool(done)

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
        with self._errors("input_items"):
            got_owner, expires, items = await self._r.call(
                "HMGET", self._resp(id), "owner", "expires", "items"
            )
        if not self._visible(got_owner, expires, owner):
            return None
        return paginate(orjson.loads(items), limit=limit, order=order, after=after, before=before)

    async def history(self, id: str, owner: str) -> list[dict[str, Any]] | None:
        args: list[str | int] = [self.prefix, id, owner, repr(time.time()), MAX_CHAIN]
        with self._errors("history"):
            turns = await self._r.run(_HISTORY, [], args)
        if turns is None:
            return None
        out: list[dict[str, Any]] = []
        for i in range(len(turns) - 2, -1, -2):  # newest first from Redis; oldest first out
            out.extend(orjson.loads(turns[i]))
            out.extend(orjson.loads(turns[i + 1]).get("output") or [])
        return out

    async def append_events(self, id: str, events: Sequence[NumberedEvent]) -> None:
        if not events:
            return
        args: list[int | bytes] = []
        for seq, event in events:
            args += (seq, f"{seq}:".encode() + orjson.dumps(event))
        with self._errors("append_events"):
            await self._r.run(_APPEND, [self._resp(id), self._events(id)], args)

    async def events(self, id: str, after: int) -> list[dict[str, Any]]:
        with self._errors("events"):
            members = await self._r.call("ZRANGEBYSCORE", self._events(id), f"({after}", "+inf")
        return [orjson.loads(member.partition(b":")[2]) for member in members]

    async def set_lease(self, id: str, instance_id: str, until: float) -> None:
        args = ["lease_owner", instance_id, "lease_until", repr(until)]
        with self._errors("set_lease"):
            await self._r.run(_HSET_IF_EXISTS, [self._resp(id)], args)

    async def recover(self, now: float) -> list[str]:
        with self._errors("recover"):
            found = await self._r.run(
                _RECOVER_SCAN, [self._active], [self.prefix, repr(now), RECOVER_GRACE]
            )
            recovered = []
            for i in range(0, len(found), 2):
                id, response = found[i].decode(), found[i + 1]
                failed = orjson.dumps(mark_failed(orjson.loads(response)))
                done = await self._r.run(
                    _FAIL,
                    [self._resp(id), self._active],
                    [response, failed, repr(now), RECOVER_GRACE, id],
                )
                if done:
                    recovered.append(id)
        return recovered

    async def request_cancel(self, id: str) -> None:
        with self._errors("request_cancel"):
            await self._r.run(_HSET_IF_EXISTS, [self._resp(id)], ["cancel", "1"])

    async def cancel_requested(self, id: str) -> bool:
        with self._errors("cancel_requested"):
            return await self._r.call("HGET", self._resp(id), "cancel") == b"1"

    async def gc(self, now: float) -> int:
        """Drops what ``P expiry`` lists as expired by ``now``; Redis may have dropped the
        hashes already, and they are counted all the same."""
        total = 0
        with self._errors("gc"):
            while True:
                n = await self._r.run(
                    _GC, [self._expiry, self._active], [self.prefix, repr(now), GC_BATCH]
                )
                total += n
                if n < GC_BATCH:
                    return total

    async def ping(self) -> None:
        with self._errors("ping"):
            await self._r.call("PING")

    def _key(self, key_id: str) -> str:
        return f"{self.prefix}key:{key_id}"

    async def put_key(self, key: KeyRecord) -> None:
        fields = {
            "hash": key.key_hash,
            "name": key.name or "",
            "created": key.created_at,
            "revoked": "" if key.revoked_at is None else key.revoked_at,
            "models": "" if key.models is None else orjson.dumps(list(key.models)),
            "rpm": _number(key.rpm),
            "rpd": _number(key.rpd),
            "tpm": _number(key.tpm),
        }
        args: list[Any] = [key.id, key.created_at]
        for field, value in fields.items():
            args += [field, value]
        with self._errors("put_key"):
            await self._r.run(_PUT_KEY, [self._key(key.id), self._keys], args)

    async def get_key(self, key_id: str) -> KeyRecord | None:
        with self._errors("get_key"):
            values = await self._r.call("HMGET", self._key(key_id), *_KEY_FIELDS)
        return _key_record(key_id, values)

    async def list_keys(self) -> list[KeyRecord]:
        with self._errors("list_keys"):
            ids = [id.decode() for id in await self._r.call("ZRANGE", self._keys, 0, -1)]
            rows = await self._r.pipeline([("HMGET", self._key(i), *_KEY_FIELDS) for i in ids])
        found = (_key_record(key_id, values) for key_id, values in zip(ids, rows, strict=True))
        return [key for key in found if key is not None]

    async def revoke_key(self, key_id: str, at: int | None = None) -> bool:
        when = int(time.time()) if at is None else at
        with self._errors("revoke_key"):
            return bool(await self._r.run(_REVOKE_KEY, [self._key(key_id)], [when]))

    async def close(self) -> None:
        await self._puts.drain()
        await self._r.close()

    @contextlib.contextmanager
    def _errors(self, op: str) -> Iterator[None]:
        try:
            yield
        except (RespError, OSError) as exc:
            reason = str(exc) or type(exc).__name__
            raise StoreError(f"redis store {self._where}: {op}: {reason}") from exc


_PUT = Script(scripts.PUT)
_HISTORY = Script(scripts.HISTORY)
_DELETE = Script(scripts.DELETE)
_APPEND = Script(scripts.APPEND)
_HSET_IF_EXISTS = Script(scripts.HSET_IF_EXISTS)
_RECOVER_SCAN = Script(scripts.RECOVER_SCAN)
_FAIL = Script(scripts.FAIL)
_GC = Script(scripts.GC)
_PUT_KEY = Script(scripts.PUT_KEY)
_REVOKE_KEY = Script(scripts.REVOKE_KEY)


def _number(value: int | None) -> int | str:
    return "" if value is None else value


def _key_record(key_id: str, values: list[bytes | None]) -> KeyRecord | None:
    """``HMGET`` of ``_KEY_FIELDS`` → the record; ``None`` if the hash does not exist."""
    key_hash, name, created, revoked, models, rpm, rpd, tpm = values
    if key_hash is None or created is None:
        return None

    def optional_int(raw: bytes | None) -> int | None:
        return int(raw) if raw else None

    return KeyRecord(
        id=key_id,
        key_hash=key_hash.decode(),
        created_at=int(created),
        name=name.decode() if name else None,
        revoked_at=optional_int(revoked),
        models=tuple(orjson.loads(models)) if models else None,
        rpm=optional_int(rpm),
        rpd=optional_int(rpd),
        tpm=optional_int(tpm),
    )
