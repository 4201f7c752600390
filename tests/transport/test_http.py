"""``post_json``: what stays allocated while the upstream thinks."""

from __future__ import annotations

import asyncio
import tracemalloc

from tests.support.tracemem import tracing
from tests.transport.test_client import JSON, answer, serving
from wirebridge.transport.client import HttpClient
from wirebridge.transport.http import post_json


async def test_a_request_waiting_for_its_answer_holds_its_body_once() -> None:
    # regression: the body sent was orjson's buffer, held for the whole upstream call and
    # several times the body's length (orjson reserves generously and never shrinks): a 36 KB
    # Codex CLI request kept 140 KB, and 64 in flight took the gateway past 80 MB
    received = asyncio.Event()
    go_on = asyncio.Event()

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await srv.request(r)
        received.set()
        await go_on.wait()
        w.write(answer(JSON))
        await w.drain()

    body = {"model": "m", "messages": [{"role": "system", "content": "Be brief. " * 3600}]}
    async with serving(script) as srv:
        url = f"http://127.0.0.1:{srv.port}/v1/chat/completions"
        client = HttpClient()
        try:
            with tracing():
                call = asyncio.create_task(
                    post_json(client, url, body, {}, timeout=5, stream=False)
                )
                await received.wait()
                snap = tracemalloc.take_snapshot()
            go_on.set()
            resp = await call
            assert await resp.read() == JSON
        finally:
            await client.close()
    ours = snap.filter_traces([tracemalloc.Filter(True, "*/wirebridge/transport/*")])
    held = sum(stat.size for stat in ours.statistics("filename"))
    assert 36_000 < held < 36_000 + 16_384, held
