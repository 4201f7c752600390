"""``post_json``: what stays allocated while the upstream thinks."""

from __future__ import annotations

import asyncio
import tracemalloc

import orjson

from tests.support.tracemem import tracing
from tests.transport.test_client import JSON, answer, serving
from wirebridge.transport.client import HttpClient
from wirebridge.transport.http import post_json


async def test_a_request_waiting_for_its_answer_holds_nothing_of_its_body() -> None:
    # regression: the body sent was orjson's buffer, held for the whole upstream call and
    # several times the body's length (orjson reserves generously and never shrinks): a 36 KB
    # Codex CLI request kept 140 KB, and 64 in flight took the gateway past 80 MB; and then
    # the message, kept for a second attempt for as long as the upstream took to answer (77 KB
    # a Claude Code turn): a second attempt now encodes the body again
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
    assert held < 16_384, held


async def test_a_second_attempt_sends_the_body_again_whole() -> None:
    # the body is no longer kept for a second attempt: it is encoded again, and must be the same
    bodies: list[bytes] = []

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        first_connection = srv.connections == 1
        bodies.append(await srv.request(r))
        w.write(answer(JSON))
        if first_connection:
            bodies.append(await srv.request(r))  # the second request: dropped unanswered

    body = {"model": "m", "messages": [{"role": "user", "content": "é" * 5000}]}
    async with serving(script) as srv:
        url = f"http://127.0.0.1:{srv.port}/v1/chat/completions"
        client = HttpClient()
        try:
            for _ in range(2):  # the second call takes the pooled connection, which is dropped
                resp = await post_json(client, url, body, {}, timeout=5, stream=False)
                assert await resp.read() == JSON
        finally:
            await client.close()
    assert srv.connections == 2
    assert bodies == [orjson.dumps(body)] * 3  # the first call, the dropped try, the retry
