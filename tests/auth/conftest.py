from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fake_chatgpt import FakeChatGPT


@pytest.fixture
def fake() -> Iterator[FakeChatGPT]:
    server = FakeChatGPT().start()
    try:
        yield server
    finally:
        server.close()
