"""``StoreConfig`` → an open ``ResponseStore``.

Backends are imported only when chosen, so a gateway on SQLite never loads asyncpg or redis.
Opening connects, applies pending migrations (SQL backends) and checks the server answers, so a
wrong URL or password fails at startup with a ``StoreError`` rather than on the first request.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from wirebridge.config.model import StoreConfig
from wirebridge.config.paths import state_dir
from wirebridge.store.base import ResponseStore, StoreError

DB_FILE = "wirebridge.db"
DAY = 86_400


def sqlite_path(cfg: StoreConfig, env: Mapping[str, str] | None = None) -> Path:
    """The SQLite file: ``path:`` if given, else ``<state dir>/wirebridge.db``."""
    return cfg.path if cfg.path is not None else state_dir(env) / DB_FILE


def expires_at(cfg: StoreConfig, created_at: int) -> int:
    """When a response created at ``created_at`` expires under ``ttl_days``."""
    return created_at + cfg.ttl_days * DAY


async def open_store(cfg: StoreConfig, env: Mapping[str, str] | None = None) -> ResponseStore:
    """Open the configured backend. ``env`` (default ``os.environ``) locates the state dir."""
    if cfg.backend == "memory":
        from wirebridge.store.memory import MemoryStore

        return MemoryStore()
    if cfg.backend == "sqlite":
        from wirebridge.store.sqlite import SQLiteStore

        return await SQLiteStore.open(sqlite_path(cfg, env))
    if cfg.url is None:
        raise StoreError(f"the {cfg.backend} store needs store.url")
    if cfg.backend == "postgres":
        from wirebridge.store.postgres import PostgresStore

        return await PostgresStore.open(cfg.url)
    if cfg.backend == "redis":
        from wirebridge.store.redis import RedisStore

        return await RedisStore.open(cfg.url)
    raise StoreError(f"unknown store backend {cfg.backend!r}")
