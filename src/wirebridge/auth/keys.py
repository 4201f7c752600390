"""Managed client keys: ``wirebridge keys create`` makes them, the auth middleware checks them.

A key is ``wb-`` followed by 32 random bytes in URL-safe base64 (43 characters). Its first
``ID_LENGTH`` characters after ``wb-`` are the key's **id**, which is not secret: ``keys list``,
``keys revoke`` and the store name the key by it, and finding a key is one lookup by id. The
other 31 characters (186 random bits) are what nobody can guess.

The store keeps the id and the key's **plain SHA-256** (hex), never the key. No salt, no pepper
and no HMAC with the server secret: those protect secrets people choose, which can be guessed
offline from a leaked hash; a 256-bit random key cannot be, hashed either way. HMAC would also
make every instance and the CLI need the server secret. The plaintext exists once, in what
``create_key`` returns; nothing logs it or its hash.

``verify`` is one lookup and one ``hmac.compare_digest`` of digests, and compares even when
the id is unknown, so a wrong key costs the same whatever part of it is wrong. The server looks
keys up through ``KeyCache``: a key's record is read from the store at most once every
``CACHE_SECONDS``, so a revoked key (``keys revoke``, from any instance) stops working within
that time, and a request with a managed key costs no store round trip (on one core, 25 % of
the throughput with SQLite: ``bench/README.md``).
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from aiohttp import web

from wirebridge.config.model import RateLimits
from wirebridge.store import KeyRecord, ResponseStore

__all__ = [
    "CACHE_SECONDS",
    "CLIENT",
    "ID_LENGTH",
    "KEY_PREFIX",
    "Client",
    "KeyCache",
    "KeyRecord",
    "create_key",
    "has_managed_keys",
    "key_hash",
    "key_id",
    "looks_managed",
    "managed_client",
    "verify",
]

KEY_PREFIX = "wb-"
ID_LENGTH = 12
_RANDOM_BYTES = 32
_TOKEN_LENGTH = 43  # base64 of 32 bytes without its padding
KEY_LENGTH = len(KEY_PREFIX) + _TOKEN_LENGTH
_DUMMY_HASH = hashlib.sha256(b"wirebridge: no such key").hexdigest()


@dataclass(frozen=True, slots=True)
class Client:
    """Who made a request, as the auth middleware established it (``request["client"]``)."""

    id: str  # "key:<id>" for a managed key, "static:<n>" for the n-th configured key
    # Owner tag of the client's stored responses; None: derived from the key as without auth.
    owner: str | None = None
    models: tuple[str, ...] | None = None  # models it may use (fnmatch patterns); None = all
    limits: RateLimits = field(default_factory=RateLimits)  # its own; None = server's per_key

    def allows(self, model: str) -> bool:
        if self.models is None:
            return True
        return any(fnmatch.fnmatchcase(model, pattern) for pattern in self.models)


CLIENT = web.RequestKey("client", Client)
"""Where the auth middleware leaves the ``Client`` of an authenticated request."""


def managed_client(rec: KeyRecord) -> Client:
    """The identity of a request made with the managed key ``rec``. Its owner tag is made from
    the id, which never changes, so the key's stored responses stay its own."""
    return Client(
        id=f"key:{rec.id}",
        owner=f"key:{rec.id}",
        models=rec.models,
        limits=RateLimits(rpm=rec.rpm, rpd=rec.rpd, tpm=rec.tpm),
    )


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def looks_managed(presented: str) -> bool:
    return len(presented) == KEY_LENGTH and presented.startswith(KEY_PREFIX)


def key_id(presented: str) -> str | None:
    """The id inside a presented key, or ``None`` when it is not shaped like a managed key."""
    if not looks_managed(presented):
        return None
    return presented[len(KEY_PREFIX) : len(KEY_PREFIX) + ID_LENGTH]


def _new_key() -> str:
    while True:
        token = secrets.token_urlsafe(_RANDOM_BYTES)
        # An id starting with "-" would read as an option on the command line (keys revoke ID).
        if len(token) == _TOKEN_LENGTH and token[0] not in "-_":
            return KEY_PREFIX + token


async def create_key(
    store: ResponseStore,
    *,
    name: str | None = None,
    models: Sequence[str] | None = None,
    rpm: int | None = None,
    rpd: int | None = None,
    tpm: int | None = None,
    now: float | None = None,
) -> tuple[str, KeyRecord]:
    """Make a key and store its record; returns ``(plaintext, record)``. The plaintext is not
    kept anywhere: show it to the user once."""
    while True:
        plaintext = _new_key()
        kid = key_id(plaintext)
        assert kid is not None
        if await store.get_key(kid) is None:  # 72 random bits: a clash is only theoretical
            break
    rec = KeyRecord(
        id=kid,
        key_hash=key_hash(plaintext),
        created_at=int(time.time() if now is None else now),
        name=name,
        models=None if models is None else tuple(models),
        rpm=rpm,
        rpd=rpd,
        tpm=tpm,
    )
    await store.put_key(rec)
    return plaintext, rec


CACHE_SECONDS = 5.0
CACHE_SIZE = 10_000  # records kept at most: the oldest read goes first


class KeySource(Protocol):
    async def get_key(self, key_id: str) -> KeyRecord | None: ...


class KeyCache:
    """Managed key records by id, each kept ``CACHE_SECONDS`` after it was read. Only keys
    found are kept: a key created a moment ago works at once, and ids nobody has are looked up
    each time, as without the cache."""

    def __init__(
        self,
        store: KeySource,
        seconds: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self._seconds = seconds
        self._clock = clock
        self._records: dict[str, tuple[KeyRecord, float]] = {}

    async def get_key(self, key_id: str) -> KeyRecord | None:
        now = self._clock()
        kept = self._records.get(key_id)
        if kept is not None and now - kept[1] < self._seconds:
            return kept[0]
        rec = await self.store.get_key(key_id)
        self._records.pop(key_id, None)  # re-inserted last: the dict stays in order of reading
        if rec is not None:
            if len(self._records) >= CACHE_SIZE:
                del self._records[next(iter(self._records))]
            self._records[key_id] = (rec, now)
        return rec


async def verify(store: KeySource, presented: str) -> KeyRecord | None:
    """The record of the managed key ``presented``, or ``None`` if it is not one of ours, is
    wrong or is revoked."""
    kid = key_id(presented)
    if kid is None:
        return None
    rec = await store.get_key(kid)
    expected = rec.key_hash if rec is not None else _DUMMY_HASH
    matches = hmac.compare_digest(key_hash(presented), expected)
    if rec is None or not matches or rec.revoked_at is not None:
        return None
    return rec


async def has_managed_keys(store: ResponseStore) -> bool:
    """Whether any managed key was ever created (revoked ones count: revoking the last key must
    not open the gateway to everyone)."""
    return bool(await store.list_keys())
