"""Stored responses: ``previous_response_id`` chains, ``GET /v1/responses/{id}`` and background
mode. One async contract (``base.ResponseStore``), four backends:

* ``memory`` — dicts; unit tests and throwaway gateways.
* ``sqlite`` — the default; one file under the state dir (``sqlite.py``).
* ``postgres`` — asyncpg pool; several gateway instances sharing one database (``postgres.py``).
* ``redis`` — the gateway's own client (``transport/resp.py``); expiry handled by Redis itself
  (``redis.py``).

SQL schema changes are ordered migrations in ``migrations/``, applied when a store opens.
``open_store(cfg)`` picks and opens a backend from ``config.StoreConfig``.
"""

from wirebridge.store.base import (
    ACTIVE_STATUSES,
    RECOVER_GRACE,
    RECOVERED_ERROR,
    ItemPage,
    KeyRecord,
    Order,
    ResponseStore,
    StoredResponse,
    StoreError,
)
from wirebridge.store.factory import expires_at, open_store, sqlite_path

__all__ = [
    "ACTIVE_STATUSES",
    "RECOVERED_ERROR",
    "RECOVER_GRACE",
    "ItemPage",
    "KeyRecord",
    "Order",
    "ResponseStore",
    "StoreError",
    "StoredResponse",
    "expires_at",
    "open_store",
    "sqlite_path",
]
