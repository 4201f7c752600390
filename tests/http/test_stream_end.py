"""The end of a stream, on every SSE door (a background response's too): the batch with the
terminal event, ``[DONE]`` where the protocol has it, and the end of the chunked body leave the
gateway in one write.

Each write to the client's socket is a system call, and on a VM each one that wakes a reader on
another CPU is costly: ending a stream with three of them was a tenth of its CPU. The gateway
runs in this process on asyncio's own loop, so the test can record the writes its transport is
given (aiohttp's, not ours); the upstream is the fake Chat Completions server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tests.support.fake_chat import FakeChat, Reply
from tests.support.gateway import default_config
from wirebridge.config.errors import Where
from wirebridge.config.load import config_from_tree
from wirebridge.http.app import create_app

Handler = Any


def _recording(writes: list[bytes]) -> Any:
    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        transport = request.transport
        assert transport is not None
        write, writelines = transport.write, transport.writelines

        def one(data: Any) -> None:
            writes.append(bytes(data))
            write(data)

        def many(chunks: Iterable[Any]) -> None:
            chunks = list(chunks)
            writes.append(b"".join(bytes(c) for c in chunks))
            writelines(chunks)

        transport.write, transport.writelines = one, many  # type: ignore[method-assign]
        try:
            return await handler(request)
        finally:
            transport.write, transport.writelines = write, writelines  # type: ignore[method-assign]

    return record


@pytest.fixture
async def gateway(fake_chat: FakeChat, tmp_path: Path) -> AsyncIterator[tuple[TestClient, list]]:
    cfg = default_config(fake_chat.base_url, secret_key="k" * 32)
    cfg["store"] = {"backend": "memory"}
    config = config_from_tree(cfg, Where("test"), base_dir=tmp_path, source="test")
    app = create_app(config)
    writes: list[bytes] = []
    app.middlewares.insert(0, _recording(writes))
    async with TestClient(TestServer(app)) as client:
        yield client, writes


DOORS = {
    "responses": ("/v1/responses", {"input": "hi"}, b"event: response.completed", True),
    "chat": ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}, b"", True),
    "background": (
        "/v1/responses",
        {"input": "hi", "background": True},
        b"event: response.completed",
        True,
    ),
    "messages": (
        "/v1/messages",
        {"max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]},
        b"event: message_stop",
        False,
    ),
}


@pytest.mark.parametrize("door", list(DOORS))
async def test_the_terminal_batch_and_the_end_of_the_body_are_one_write(
    gateway: tuple[TestClient, list[bytes]], fake_chat: FakeChat, door: str
) -> None:
    http, writes = gateway
    path, body, terminal, done = DOORS[door]
    # the fake sends its last chunks (the finish reason, usage, [DONE]) after a pause: the
    # terminal batch is not the stream's only one
    fake_chat.script(Reply.text("Hello there, friend.", chunk_size=5, delay=0.02))
    r = await http.post(path, json={"model": "fake-model", "stream": True, **body})
    assert r.status == 200, await r.text()
    raw = await r.read()
    assert b"Hello" in raw
    assert len(writes) >= 3, writes  # headers with the first event, text, the end
    last = writes[-1]
    assert last.endswith(b"\r\n0\r\n\r\n"), writes[-3:]  # the chunked body's end ...
    assert terminal in last, writes[-3:]  # ... with the terminal event
    assert (b"data: [DONE]\n\n\r\n0\r\n\r\n" in last) is done, writes[-3:]
    if door == "chat":
        assert b'"finish_reason":"stop"' in last, writes[-3:]
