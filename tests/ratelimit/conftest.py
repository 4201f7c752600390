"""A real Redis for the rate limit tests, started once per module that asks for it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.servers import running, start_redis


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from running(start_redis, tmp_path_factory.mktemp("redis"))
