"""A fast mock Chat Completions upstream for benchmarks: JSON, or SSE with N chunks.

Bodies are pre-encoded once per shape, so the mock spends its time on HTTP, not on building
answers. Query-free: the request's ``stream`` flag picks SSE; ``X-Mock-Chunks`` and
``X-Mock-Delay-Ms`` headers (or the command-line defaults) shape the stream.

    python bench/mock_upstream.py --port 9100 --chunks 50 --delay-ms 0

``--server raw`` swaps aiohttp for a bare ``asyncio.Protocol`` HTTP/1.1 server (keep-alive,
Content-Length or chunked request bodies, chunked SSE answers), several times cheaper per
request, so that on a 2-core machine the mock stays far from being the bottleneck.
``bench/run.py`` uses it; the aiohttp one stays the default for tests that start the mock.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from functools import lru_cache

import orjson
from aiohttp import web

_COMPLETION = orjson.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "bench-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello! " * 8, "refusal": None},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 16, "total_tokens": 28},
    }
)


def _chunk(delta: dict[str, object], finish: str | None = None) -> bytes:
    body = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "bench-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
    }
    return b"data: " + orjson.dumps(body) + b"\n\n"


@lru_cache(maxsize=64)
def _stream_parts(chunks: int) -> tuple[bytes, ...]:
    usage = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "bench-model",
        "choices": [],
        "usage": {"prompt_tokens": 12, "completion_tokens": chunks, "total_tokens": 12 + chunks},
    }
    parts = [_chunk({"role": "assistant", "content": ""})]
    parts += [_chunk({"content": f"tok{i} "}) for i in range(chunks)]
    parts.append(_chunk({}, "stop"))
    parts.append(b"data: " + orjson.dumps(usage) + b"\n\ndata: [DONE]\n\n")
    return tuple(parts)


def make_app(chunks: int, delay_ms: float) -> web.Application:
    async def completions(request: web.Request) -> web.StreamResponse:
        body = orjson.loads(await request.read())
        if not body.get("stream"):
            return web.Response(body=_COMPLETION, content_type="application/json")
        n = int(request.headers.get("X-Mock-Chunks", chunks))
        delay = float(request.headers.get("X-Mock-Delay-Ms", delay_ms)) / 1000
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        parts = _stream_parts(n)
        if delay <= 0:
            await resp.write(b"".join(parts))
        else:
            for part in parts:
                await resp.write(part)
                await asyncio.sleep(delay)
        await resp.write_eof()
        return resp

    async def models(request: web.Request) -> web.Response:
        return web.json_response(
            {"object": "list", "data": [{"id": "bench-model", "object": "model"}]}
        )

    app = web.Application()
    app.router.add_post("/v1/chat/completions", completions)
    app.router.add_get("/v1/models", models)
    return app


_JSON_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\n\r\n" % len(_COMPLETION)
)
_SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
    b"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n"
)
_NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
_MODELS = b'{"object":"list","data":[{"id":"bench-model","object":"model"}]}'
_MODELS_RESP = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
    % len(_MODELS)
) + _MODELS


def _chunked(part: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(part), part)


@lru_cache(maxsize=64)
def _sse_whole(chunks: int) -> bytes:
    return _SSE_HEAD + b"".join(_chunked(p) for p in _stream_parts(chunks)) + b"0\r\n\r\n"


class _RawHTTP(asyncio.Protocol):
    """One connection: parse each request (head + body), answer from pre-encoded bytes."""

    def __init__(self, chunks: int, delay_ms: float) -> None:
        self.chunks = chunks
        self.delay_ms = delay_ms
        self.buf = b""
        self.busy = False  # a delayed stream is being written; requests wait in buf
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.busy:
            self._serve()

    def _serve(self) -> None:
        while self.transport is not None and not self.busy:
            request = self._next_request()
            if request is None:
                return
            self._answer(*request)

    def _next_request(self) -> tuple[bytes, dict[bytes, bytes], bytes] | None:
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return None
        lines = self.buf[:end].split(b"\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        start = end + 4
        if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            body, used = _dechunk(self.buf, start)
            if body is None:
                return None
            self.buf = self.buf[used:]
        else:
            size = int(headers.get(b"content-length", b"0"))
            if len(self.buf) < start + size:
                return None
            body = self.buf[start : start + size]
            self.buf = self.buf[start + size :]
        return lines[0], headers, body

    def _answer(self, line: bytes, headers: dict[bytes, bytes], body: bytes) -> None:
        assert self.transport is not None
        method, _, rest = line.partition(b" ")
        path = rest.partition(b" ")[0].partition(b"?")[0]
        if method == b"GET" and path.endswith(b"/models"):
            self.transport.write(_MODELS_RESP)
            return
        if method != b"POST" or not path.endswith(b"/chat/completions"):
            self.transport.write(_NOT_FOUND)
            return
        if not orjson.loads(body).get("stream"):
            self.transport.write(_JSON_HEAD + _COMPLETION)
            return
        n = int(headers.get(b"x-mock-chunks", self.chunks))
        delay = float(headers.get(b"x-mock-delay-ms", self.delay_ms)) / 1000
        if delay <= 0:
            self.transport.write(_sse_whole(n))
            return
        self.busy = True
        asyncio.get_running_loop().create_task(self._slow(n, delay))

    async def _slow(self, n: int, delay: float) -> None:
        try:
            if self.transport is not None:
                self.transport.write(_SSE_HEAD)
            for part in _stream_parts(n):
                if self.transport is None:
                    return
                self.transport.write(_chunked(part))
                await asyncio.sleep(delay)
            if self.transport is not None:
                self.transport.write(b"0\r\n\r\n")
        finally:
            self.busy = False
        self._serve()


def _dechunk(buf: bytes, pos: int) -> tuple[bytes | None, int]:
    """A chunked request body starting at ``pos``: (body, end offset), or (None, 0) if partial."""
    out: list[bytes] = []
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None, 0
        size = int(buf[pos:eol].split(b";")[0], 16)
        if size == 0:
            end = buf.find(b"\r\n\r\n", eol)  # no trailers expected: "0\r\n\r\n"
            return (b"".join(out), end + 4) if end >= 0 else (None, 0)
        if len(buf) < eol + 2 + size + 2:
            return None, 0
        out.append(buf[eol + 2 : eol + 2 + size])
        pos = eol + 2 + size + 2


async def serve_raw(host: str, port: int, chunks: int, delay_ms: float) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: _RawHTTP(chunks, delay_ms), host, port, backlog=4096, reuse_address=True
    )
    async with server:
        await server.serve_forever()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=9100)
    ap.add_argument("--chunks", type=int, default=50)
    ap.add_argument("--delay-ms", type=float, default=0.0)
    ap.add_argument("--server", choices=["aiohttp", "raw"], default="aiohttp")
    args = ap.parse_args()
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass
    if args.server == "raw":
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve_raw(args.host, args.port, args.chunks, args.delay_ms))
        return
    web.run_app(
        make_app(args.chunks, args.delay_ms),
        host=args.host,
        port=args.port,
        print=None,
        access_log=None,
    )


if __name__ == "__main__":
    main()
