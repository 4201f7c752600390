"""Text frames written together on the transport, read by a real WebSocket client (the
``websockets`` package, strict about framing): every length class at its edges, in order, and
the same through aiohttp when permessage-deflate is on."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from websockets.asyncio.client import connect

from wirebridge.http.ws_frames import TextFrames, text_frame_header

LENGTHS = [0, 1, 125, 126, 127, 65535, 65536, 70000]  # a header of 2, 4 and 10 bytes


def _payloads() -> list[bytes]:
    return [str(n % 10).encode() * n for n in LENGTHS]


def test_headers_take_the_length_class_the_rfc_gives() -> None:
    assert text_frame_header(125) == b"\x81\x7d"
    assert text_frame_header(126) == b"\x81\x7e\x00\x7e"
    assert text_frame_header(65535) == b"\x81\x7e\xff\xff"
    assert text_frame_header(65536) == b"\x81\x7f" + (65536).to_bytes(8, "big")


@pytest.mark.parametrize("compress", [False, True])
async def test_a_batch_reads_back_frame_by_frame(compress: bool) -> None:
    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=compress)
        await ws.prepare(request)
        frames = TextFrames(ws, request)
        await frames.send(_payloads()[:3])
        await frames.send(_payloads()[3:])  # a second batch follows the first, whole
        await ws.receive()  # the client's close
        return ws

    app = web.Application()
    app.router.add_get("/", handler)
    async with TestServer(app) as server:
        url = str(server.make_url("/")).replace("http", "ws", 1)
        offer = "deflate" if compress else None
        async with connect(url, compression=offer, max_size=None) as client:
            assert (client.response.headers.get("Sec-WebSocket-Extensions") is not None) is compress
            got = [await asyncio.wait_for(client.recv(decode=False), 10) for _ in LENGTHS]
    assert got == _payloads()
