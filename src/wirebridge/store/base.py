"""The response store's contract: records, pages, the ``ResponseStore`` protocol, ``StoreError``.

Every backend (memory, SQLite, PostgreSQL, Redis) implements the same async protocol, and one
contract suite (``tests/store/test_contract.py``) runs against all of them, so the HTTP layer can
be written once. The rules every backend follows:

* **Visibility.** A response is visible to ``get`` / ``input_items`` / ``history`` / ``delete``
  only to its ``owner`` and only while ``expires_at`` is ``None`` or in the future
  (``expires_at > time.time()``). Anything else looks exactly like a missing response, so a caller
  cannot probe other owners' ids.
* **Durability.** ``put`` returns after the write is committed (the gateway sends a terminal
  stream event only after it returns).
* **Background bookkeeping** (events, lease, cancel flag) is keyed by id without an owner: the
  HTTP layer checks ownership with ``get`` first. Writing it for a response that does not exist
  is a silent no-op, because the response may have been deleted while a worker still runs.
* **Pagination** of ``input_items`` follows OpenAI's cursors: the listing is ordered by position
  in the input (``order``), ``after=X`` keeps the items listed after X and ``before=Y`` those
  listed before Y. With only ``before``, the page is the ``limit`` items nearest to Y (the
  previous page), still in listing order; otherwise the page starts at the beginning of the
  window. ``has_more`` says whether the window held more than the page. An unknown cursor id
  gives an empty page.
* **Client keys** (``KeyRecord``, managed by ``wirebridge keys``) have no owner and never expire.
  A store holds a key's id and hash, never the key. ``revoke_key`` keeps the first revocation
  time; nothing deletes a key, so a gateway that once had keys keeps requiring one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol
from urllib.parse import urlsplit, urlunsplit

from wirebridge.errors import GatewayError

Order = Literal["asc", "desc"]

ACTIVE_STATUSES = ("queued", "in_progress")
"""Statuses of a background response still being produced by some gateway instance."""

RECOVER_GRACE = 60.0
"""A running response with no lease is orphaned once it is this many seconds old: the instance
that created it would have taken a lease well within that time."""

RECOVERED_ERROR: dict[str, Any] = {
    "code": "server_error",
    "message": "The gateway instance running this response stopped.",
}

MAX_CHAIN = 10_000
"""``history`` gives up (returns ``None``) past this many turns: only a cycle of
``previous_response_id`` links, which a replacing ``put`` could create, gets this long."""


class StoreError(GatewayError):
    """The response store is unreachable or failed. Rendered as a 503 so clients retry rather
    than give up; clients see only ``message`` (generic), while ``str(err)`` — what logs show —
    is the ``detail``: backend, redacted URL or path, operation and cause, never a password."""

    status: ClassVar[int] = 503
    type: ClassVar[str] = "server_error"
    default_code: ClassVar[str | None] = "store_unavailable"

    def __init__(self, detail: str) -> None:
        super().__init__("The response store is unavailable; try again later.")
        self.detail = detail

    def __str__(self) -> str:
        return self.detail


@dataclass(slots=True)
class StoredResponse:
    id: str
    owner: str  # opaque owner tag (hash of the client key; "" = anonymous)
    response: dict[str, Any]  # the full Response object; response["status"] is the status
    input_items: list[dict[str, Any]]  # this turn's input items, each with an "id"
    previous_response_id: str | None
    created_at: int  # unix seconds
    expires_at: int | None  # unix seconds; None = never

    @property
    def status(self) -> str:
        return str(self.response.get("status") or "")


@dataclass(slots=True)
class ItemPage:
    data: list[dict[str, Any]]
    first_id: str | None
    last_id: str | None
    has_more: bool


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """A managed client key as stored (``auth/keys.py`` makes and checks them)."""

    id: str  # not secret: the key's first characters after "wb-"
    key_hash: str  # hex SHA-256 of the whole key
    created_at: int  # unix seconds
    name: str | None = None
    revoked_at: int | None = None  # unix seconds; None = in use
    models: tuple[str, ...] | None = None  # the models it may use; None = every model
    # Its own limits, replacing server.rate_limits.per_key's: None = that one, 0 = no limit.
    rpm: int | None = None
    rpd: int | None = None
    tpm: int | None = None


NumberedEvent = tuple[int, dict[str, Any]]  # a background response's stream event and its number


class ResponseStore(Protocol):
    """Stored responses, ``previous_response_id`` chains and background-mode bookkeeping."""

    async def put(self, rec: StoredResponse) -> None:
        """Insert or replace ``rec`` (its input items too); durable when it returns. Replacing
        keeps the response's events, lease and cancel flag."""
        ...

    async def get(self, id: str, owner: str) -> StoredResponse | None: ...

    async def delete(self, id: str, owner: str) -> bool:
        """Delete a visible response with its items and events; ``False`` if not visible."""
        ...

    async def input_items(
        self,
        id: str,
        owner: str,
        *,
        limit: int = 20,
        order: Order = "desc",
        after: str | None = None,
        before: str | None = None,
    ) -> ItemPage | None: ...

    async def history(self, id: str, owner: str) -> list[dict[str, Any]] | None:
        """Every turn from the oldest to ``id``: its input items, then its ``output``. ``None``
        if any link of the chain is missing, expired or someone else's."""
        ...

    async def append_events(self, id: str, events: Sequence[NumberedEvent]) -> None:
        """Record ``(seq, event)`` stream events of a background response, in one write (a
        batch is what one upstream read brought); the same ``seq`` replaces, the later wins.
        Dropped when the response is not stored."""
        ...

    async def events(self, id: str, after: int) -> list[dict[str, Any]]:
        """Events with ``seq > after``, in ``seq`` order."""
        ...

    async def set_lease(self, id: str, instance_id: str, until: float) -> None: ...

    async def recover(self, now: float) -> list[str]:
        """Fail every queued/in-progress response whose lease expired before ``now`` (or that
        has none and was created before ``now - RECOVER_GRACE``); returns their ids."""
        ...

    async def request_cancel(self, id: str) -> None: ...

    async def cancel_requested(self, id: str) -> bool: ...

    async def gc(self, now: float) -> int:
        """Delete responses with ``expires_at <= now`` and their events; returns how many."""
        ...

    async def ping(self) -> None:
        """Raise ``StoreError`` unless the backend answers."""
        ...

    async def put_key(self, key: KeyRecord) -> None:
        """Insert ``key``, or replace the one with its id."""
        ...

    async def get_key(self, key_id: str) -> KeyRecord | None: ...

    async def list_keys(self) -> list[KeyRecord]:
        """Every key, revoked ones too, oldest first (then by id)."""
        ...

    async def revoke_key(self, key_id: str, at: int | None = None) -> bool:
        """Mark the key revoked at ``at`` (default now) unless it already is; ``False`` if
        there is no such key."""
        ...

    async def close(self) -> None: ...


def redact_url(url: str) -> str:
    """A database URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def visible(owner: str, expires_at: int | float | None, want_owner: str, now: float) -> bool:
    return owner == want_owner and (expires_at is None or expires_at > now)


def is_stale(status: str, lease_until: float | None, created_at: float, now: float) -> bool:
    """Whether ``recover`` takes this response: still running, and nobody holds it."""
    if status not in ACTIVE_STATUSES:
        return False
    if lease_until is not None:
        return lease_until < now
    return created_at < now - RECOVER_GRACE


def mark_failed(response: dict[str, Any]) -> dict[str, Any]:
    """The response as ``recover`` leaves it."""
    return {**response, "status": "failed", "error": dict(RECOVERED_ERROR)}


@dataclass(frozen=True, slots=True)
class Window:
    """Where a page of ``input_items`` lies, in positions: strictly between ``lo`` and ``hi``
    (``None`` = unbounded), read ``ascending`` or not, from the far end when ``from_end``
    (the "previous page" of a ``before`` cursor)."""

    lo: int | None
    hi: int | None
    ascending: bool
    from_end: bool


def window(
    order: Order, after_pos: int | None, before_pos: int | None, *, before_given: bool
) -> Window:
    """The window for cursors already resolved to positions (``None`` = not given)."""
    if order == "asc":
        lo, hi = after_pos, before_pos
    else:
        lo, hi = before_pos, after_pos
    from_end = before_given and after_pos is None
    return Window(lo, hi, order == "asc", from_end)


def make_page(rows: Sequence[dict[str, Any]], limit: int, from_end: bool) -> ItemPage:
    """``rows``: up to ``limit + 1`` items read from the page's starting edge, so one extra
    row means ``has_more``; a ``from_end`` page is turned back into listing order."""
    has_more = len(rows) > limit
    data = list(rows[:limit])
    if from_end:
        data.reverse()
    return ItemPage(
        data=data,
        first_id=_item_id(data[0]) if data else None,
        last_id=_item_id(data[-1]) if data else None,
        has_more=has_more,
    )


def paginate(
    items: Sequence[dict[str, Any]],
    *,
    limit: int,
    order: Order,
    after: str | None,
    before: str | None,
) -> ItemPage:
    """``input_items`` over a list held in memory (memory and Redis backends)."""
    positions: dict[str, int] = {}
    for pos, item in enumerate(items):
        positions.setdefault(_item_id(item) or "", pos)
    after_pos = positions.get(after) if after is not None else None
    before_pos = positions.get(before) if before is not None else None
    if (after is not None and after_pos is None) or (before is not None and before_pos is None):
        return ItemPage([], None, None, False)
    w = window(order, after_pos, before_pos, before_given=before is not None)
    lo = -1 if w.lo is None else w.lo
    hi = len(items) if w.hi is None else w.hi
    inside = list(items[lo + 1 : hi]) if lo + 1 < hi else []
    if not w.ascending:
        inside.reverse()
    if w.from_end:
        inside.reverse()
    return make_page(inside[: limit + 1], limit, w.from_end)


def _item_id(item: dict[str, Any]) -> str | None:
    value = item.get("id")
    return value if isinstance(value, str) else None


def item_ids(items: Sequence[dict[str, Any]]) -> list[str | None]:
    return [_item_id(item) for item in items]
