"""A fast mock Chat Completions upstream for benchmarks: JSON, or SSE with N chunks.

Bodies are pre-encoded once per shape, so the mock spends its time on HTTP, not on building
answers. Query-free: the request's ``stream`` flag picks SSE; ``X-Mock-Chunks`` and
``X-Mock-Delay-Ms`` headers (or the command-line defaults) shape the stream.

    python bench/mock_upstream.py --port 9100 --chunks 50 --delay-ms 0
"""

from __future__ import annotations

import argparse
import asyncio
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=9100)
    ap.add_argument("--chunks", type=int, default=50)
    ap.add_argument("--delay-ms", type=float, default=0.0)
    args = ap.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    web.run_app(
        make_app(args.chunks, args.delay_ms),
        host=args.host,
        port=args.port,
        print=None,
        access_log=None,
    )


if __name__ == "__main__":
    main()
