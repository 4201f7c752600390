"""Fixtures for the response store tests.

* ``postgres_dsn`` / ``redis_url`` (session) — one real server each per run, started only when a
  test asks for that backend (``tests/support/servers.py``); a missing binary fails the test.
* ``store_config`` — parametrized over every backend: a ``StoreConfig`` naming a fresh database
  for this test (a new SQLite file, a new PostgreSQL schema, an empty Redis database).
* ``store`` — that config opened with ``open_store``; ``open_again()`` opens a second instance
  on the same database, as a second gateway process would (the memory backend shares nothing,
  so it gets the same instance back).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis

from tests.support.servers import running, start_postgres, start_redis
from wirebridge.config.model import StoreConfig
from wirebridge.store import ResponseStore, open_store

BACKENDS = ("memory", "sqlite", "postgres", "redis")
REDIS_DB = 1  # the tests' database; FLUSHDB before each test


@pytest.fixture(scope="session")
def postgres_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from running(start_postgres, tmp_path_factory.mktemp("postgres"))


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from running(start_redis, tmp_path_factory.mktemp("redis"))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def store_config(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> StoreConfig:
    if backend == "postgres":
        dsn = request.getfixturevalue("postgres_dsn")
        schema = f"t_{uuid.uuid4().hex[:16]}"
        return StoreConfig(backend="postgres", url=f"{dsn}?search_path={schema}")
    if backend == "redis":
        url = request.getfixturevalue("redis_url")
        return StoreConfig(backend="redis", url=url.rsplit("/", 1)[0] + f"/{REDIS_DB}")
    if backend == "sqlite":
        return StoreConfig(backend="sqlite", path=tmp_path / "state" / "wirebridge.db")
    return StoreConfig(backend="memory")


async def _fresh_database(cfg: StoreConfig) -> Callable[[], Awaitable[None]]:
    """Create what ``cfg`` names (schema) or empty it (Redis db); returns the cleanup."""
    if cfg.backend == "postgres":
        assert cfg.url is not None
        dsn, _, query = cfg.url.partition("?search_path=")
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f"CREATE SCHEMA {query}")
        finally:
            await conn.close()

        async def drop() -> None:
            conn = await asyncpg.connect(dsn)
            try:
                await conn.execute(f"DROP SCHEMA {query} CASCADE")
            finally:
                await conn.close()

        return drop
    if cfg.backend == "redis":
        assert cfg.url is not None
        client = aioredis.Redis.from_url(cfg.url)
        try:
            await client.flushdb()
        finally:
            await client.aclose()

    async def nothing() -> None:
        return None

    return nothing


@pytest.fixture
async def store(store_config: StoreConfig) -> AsyncIterator[ResponseStore]:
    cleanup = await _fresh_database(store_config)
    opened = await open_store(store_config)
    try:
        yield opened
    finally:
        await opened.close()
        await cleanup()


@pytest.fixture
async def open_again(
    store: ResponseStore, store_config: StoreConfig
) -> AsyncIterator[Callable[[], Awaitable[ResponseStore]]]:
    others: list[ResponseStore] = []

    async def again() -> ResponseStore:
        if store_config.backend == "memory":
            return store
        other = await open_store(store_config)
        others.append(other)
        return other

    try:
        yield again
    finally:
        for other in others:
            await other.close()
