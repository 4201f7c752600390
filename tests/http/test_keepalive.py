"""The stream keepalive, on a real aiohttp server: frames while the upstream is quiet, none
while it talks, none after the stream's block, no error when the client is gone, no cycle."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from wirebridge.http.keepalive import Keepalive

PING = b"event: ping\ndata: {}\n\n"
Body = Callable[[Keepalive], Awaitable[None]]


def _app(body: Body, interval: float, after: list[Keepalive] | None = None) -> web.Application:
    async def handler(request: web.Request) -> web.StreamResponse:
        out = web.StreamResponse()
        await out.prepare(request)
        await out.write(b"start\n")
        async with Keepalive(out, PING, interval) as alive:
            await body(alive)
            if after is not None:
                after.append(alive)
        await out.write(b"end\n")
        return out

    app = web.Application()
    app.router.add_get("/", handler)
    return app


async def _get(app: web.Application) -> bytes:
    async with TestClient(TestServer(app)) as http:
        resp = await http.get("/")
        return await asyncio.wait_for(resp.read(), 10)


async def test_a_quiet_stream_gets_a_frame_each_interval() -> None:
    async def quiet(alive: Keepalive) -> None:
        await asyncio.sleep(0.33)

    raw = await _get(_app(quiet, 0.1))
    assert raw.startswith(b"start\n") and raw.endswith(PING + b"end\n"), raw
    assert raw.count(PING) == 3, raw


async def test_beats_keep_the_frames_away() -> None:
    async def talking(alive: Keepalive) -> None:
        for _ in range(15):
            await asyncio.sleep(0.02)
            alive.beat()

    assert await _get(_app(talking, 0.1)) == b"start\nend\n"


async def test_a_beat_restarts_the_quiet_interval() -> None:
    # the timer was set for 0.1 s after the start; a beat at 0.06 moves the first frame to 0.16,
    # so by 0.2 s exactly one has gone out
    async def one_beat(alive: Keepalive) -> None:
        await asyncio.sleep(0.06)
        alive.beat()
        await asyncio.sleep(0.14)

    assert await _get(_app(one_beat, 0.1)) == b"start\n" + PING + b"end\n"


async def test_a_client_gone_while_frames_come_due_ends_the_stream_quietly() -> None:
    errors: list[object] = []
    ended = asyncio.Event()

    async def quiet(alive: Keepalive) -> None:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            # the server cancels a handler whose client went away; one busy elsewhere for a
            # while (here: refusing to notice) leaves the keepalive writing to a closed socket
            await asyncio.sleep(0.2)
            raise
        finally:
            ended.set()

    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, ctx: errors.append(ctx))
    try:
        async with TestClient(TestServer(_app(quiet, 0.02))) as http:
            resp = await http.get("/")
            assert await resp.content.readexactly(len(b"start\n")) == b"start\n"
            resp.close()
            await asyncio.wait_for(ended.wait(), 10)
            await asyncio.sleep(0.1)
        gc.collect()  # an unretrieved task exception is reported when the task is freed
    finally:
        loop.set_exception_handler(None)
    assert errors == []


async def test_a_finished_block_leaves_nothing_for_the_collector() -> None:
    after: list[Keepalive] = []

    async def quiet(alive: Keepalive) -> None:
        await asyncio.sleep(0.05)  # a frame written from the keepalive's own task

    gc.collect()
    gc.disable()
    try:
        raw = await _get(_app(quiet, 0.02, after))
        assert PING in raw
        gone = weakref.ref(after.pop())
        assert gone() is None  # freed by reference counting: no timer or task holds it
    finally:
        gc.enable()


async def test_end_writes_the_last_bytes_and_no_frame_follows() -> None:
    errors: list[object] = []
    done = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        out = web.StreamResponse()
        await out.prepare(request)
        await out.write(b"start\n")
        try:
            async with Keepalive(out, PING, 0.02) as alive:
                await asyncio.sleep(0.03)  # one frame
                await alive.end(b"last\n")
                assert alive.ended
                # as a stream whose upstream's tail is still being read: frames would come due
                await asyncio.sleep(0.1)
        finally:
            done.set()
        return out

    app = web.Application()
    app.router.add_get("/", handler)
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, ctx: errors.append(ctx))
    try:
        async with TestClient(TestServer(app)) as http:
            resp = await http.get("/")
            raw = await asyncio.wait_for(resp.read(), 10)
            await asyncio.wait_for(done.wait(), 10)  # the handler ran to its end
        gc.collect()  # an unretrieved task exception is reported when the task is freed
    finally:
        loop.set_exception_handler(None)
    assert raw == b"start\n" + PING + b"last\n", raw
    assert errors == []
