"""``fake_responses``: one :class:`~tests.support.fake_responses.FakeResponses` per session,
reset before and after each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fake_responses import FakeResponses


@pytest.fixture(scope="session")
def fake_responses_server() -> Iterator[FakeResponses]:
    fake = FakeResponses().start()
    try:
        yield fake
    finally:
        fake.close()


@pytest.fixture
def fake_responses(fake_responses_server: FakeResponses) -> Iterator[FakeResponses]:
    fake_responses_server.reset()
    yield fake_responses_server
    fake_responses_server.reset()
