"""One database of the tests' Redis server, emptied for a test."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import redis.asyncio as aioredis


@contextlib.asynccontextmanager
async def empty_db(server_url: str, db: int) -> AsyncIterator[tuple[str, aioredis.Redis]]:
    """Database ``db`` of the Redis that ``server_url`` points at, emptied: its URL, and a
    client of the test's own to look inside (closed on the way out)."""
    url = server_url.rsplit("/", 1)[0] + f"/{db}"
    client = aioredis.Redis.from_url(url)
    try:
        await client.flushdb()
        yield url, client
    finally:
        await client.aclose()
