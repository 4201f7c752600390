"""Request bodies: read whole under the cap, decoded per Content-Encoding, refused in the
caller's envelope when they cannot be, and not kept once the handler has dropped them."""

from __future__ import annotations

import asyncio
import gc
import gzip
import logging
import tracemalloc
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import zstandard
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tests.support.fake_chat import FakeChat, Reply
from tests.support.gateway import default_config
from tests.support.tracemem import tracing
from wirebridge.auth.keys import create_key
from wirebridge.config.errors import Where
from wirebridge.config.load import config_from_tree
from wirebridge.http.app import create_app
from wirebridge.http.body import read_body
from wirebridge.http.keys import GATEWAY

MB = 1024 * 1024
CAP = 100_000  # server.max_body_bytes of the gateway below
RESPONSES = {"model": "fake-model", "input": "hi"}
MESSAGES = {
    "model": "fake-model",
    "max_tokens": 10,
    "messages": [{"role": "user", "content": "hi"}],
}


async def test_a_body_read_and_dropped_is_freed() -> None:
    # regression: request.read() kept a copy on the request until it was answered, so every
    # request in flight held its body twice over (parsed, and the bytes)
    held: list[int] = []

    async def handler(request: web.Request) -> web.Response:
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        body = await read_body(request, 4 * MB)
        size = len(body)
        del body
        gc.collect()
        held.append(tracemalloc.get_traced_memory()[0] - before)
        return web.Response(text=str(size))

    app = web.Application(client_max_size=4 * MB, handler_args={"auto_decompress": False})
    app.router.add_post("/", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        url = f"http://127.0.0.1:{port}/"
        with tracing():
            async with (
                aiohttp.ClientSession() as session,
                session.post(url, data=b"x" * MB) as resp,
            ):
                assert resp.status == 200 and await resp.text() == str(MB)
    finally:
        await runner.cleanup()
    assert held and held[0] < MB // 4, held


# -- through the gateway ------------------------------------------------------------------------


@pytest.fixture
async def http(fake_chat: FakeChat, tmp_path: Path) -> AsyncIterator[TestClient]:
    cfg = default_config(fake_chat.base_url, secret_key="k" * 32, max_body_bytes=CAP)
    cfg["store"] = {"backend": "memory"}
    config = config_from_tree(cfg, Where("test"), base_dir=tmp_path, source="test")
    async with TestClient(TestServer(create_app(config))) as client:
        yield client


def _zstd_streamed(data: bytes) -> bytes:
    # as Codex CLI compresses (a stream encoder): no content size in the frame header
    c = zstandard.ZstdCompressor().compressobj()
    return c.compress(data) + c.flush()


def _raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


ENCODED = {
    "gzip": gzip.compress,
    "x-gzip": gzip.compress,
    "deflate": zlib.compress,  # zlib-wrapped, as the RFC has it
    "deflate (raw)": _raw_deflate,  # as some clients send it
    "zstd": _zstd_streamed,
    "identity": lambda b: b,
    "gzip, zstd": lambda b: _zstd_streamed(gzip.compress(b)),
}


@pytest.mark.parametrize("encoding", list(ENCODED))
async def test_an_encoded_body_is_decoded(
    http: TestClient, fake_chat: FakeChat, encoding: str
) -> None:
    fake_chat.script(Reply.text("decoded"))
    body = ENCODED[encoding](orjson.dumps(RESPONSES))
    header = encoding.removesuffix(" (raw)")
    r = await http.post("/v1/responses", data=body, headers={"Content-Encoding": header})
    assert r.status == 200, await r.text()
    assert (await r.json())["output"][0]["content"][0]["text"] == "decoded"
    assert fake_chat.last.body["messages"][-1]["content"] == "hi"


async def _refused(http: TestClient, path: str, data: bytes, encoding: str) -> tuple[int, Any]:
    r = await http.post(path, data=data, headers={"Content-Encoding": encoding})
    assert r.content_type == "application/json", await r.text()
    return r.status, await r.json()


BAD = {  # (encoding, what is sent, status, words the message has)
    "corrupt gzip": ("gzip", b"not gzip at all", 400, "not valid gzip"),
    "gzip cut short": ("gzip", gzip.compress(b'{"model": "x"}' * 50)[:-12], 400, "ends before"),
    "corrupt zstd": ("zstd", b"not zstd at all", 400, "not valid zstd"),
    "zstd cut short": ("zstd", _zstd_streamed(b'{"a": 1}' * 500)[:-8], 400, "ends before"),
    "gzip bomb": ("gzip", gzip.compress(bytes(10 * MB)), 413, "decoded, is larger"),
    "zstd bomb": ("zstd", _zstd_streamed(bytes(10 * MB)), 413, "decoded, is larger"),
    "brotli": ("br", b"\x0b\x02\x80{}\x03", 415, "'br'"),
    "unknown": ("compress", b"{}", 415, "'compress'"),
}


@pytest.mark.parametrize("case", list(BAD))
async def test_a_body_that_cannot_be_decoded_is_refused_in_the_callers_envelope(
    http: TestClient, fake_chat: FakeChat, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    encoding, data, status, words = BAD[case]
    with caplog.at_level(logging.WARNING):
        got, body = await _refused(http, "/v1/responses", data, encoding)
        assert (got, body["error"]["type"]) == (status, "invalid_request_error"), body
        assert words in body["error"]["message"], body
        got, body = await _refused(http, "/v1/messages", data, encoding)
        kind = "request_too_large" if status == 413 else "invalid_request_error"  # Anthropic's
        assert (got, body["type"], body["error"]["type"]) == (status, "error", kind), body
        assert words in body["error"]["message"], body
    assert fake_chat.chat_requests == []
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


async def test_a_client_gone_before_the_end_of_its_body_leaves_no_traceback(
    http: TestClient, fake_chat: FakeChat, caplog: pytest.LogCaptureFixture
) -> None:
    reader, writer = await asyncio.open_connection(http.server.host, http.server.port)
    writer.write(
        b"POST /v1/responses HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n{}"
    )
    writer.write_eof()  # the body ends 98 bytes early
    assert await asyncio.wait_for(reader.read(), 10) == b""  # nobody left to answer
    writer.close()
    await asyncio.sleep(0.1)
    assert fake_chat.chat_requests == []
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


async def test_a_key_limited_to_some_models_is_checked_on_the_decoded_body(
    http: TestClient,
) -> None:
    store = http.app[GATEWAY].state.store
    plaintext, _ = await create_key(store, models=["fake-*"])
    key = {"Authorization": f"Bearer {plaintext}"}
    for encoding, encode in (("gzip", gzip.compress), ("zstd", _zstd_streamed)):
        body = encode(orjson.dumps({**RESPONSES, "model": "gpt-5.5"}))
        r = await http.post(
            "/v1/responses", data=body, headers={**key, "Content-Encoding": encoding}
        )
        assert r.status == 403, await r.text()
        assert (await r.json())["error"]["code"] == "model_not_allowed"
    # what the key's check could not read, the handler refuses, in the caller's envelope
    headers = {**key, "Content-Encoding": "gzip"}
    r = await http.post("/v1/responses", data=b"not gzip", headers=headers)
    assert r.status == 400 and "not valid gzip" in (await r.json())["error"]["message"]
