"""Request bodies: read whole under the cap, and not kept once the handler has dropped them."""

from __future__ import annotations

import gc
import gzip
import tracemalloc

import aiohttp
from aiohttp import web

from tests.support.tracemem import tracing
from wirebridge.errors import PayloadTooLarge
from wirebridge.http.body import read_body

MB = 1024 * 1024


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

    app = web.Application(client_max_size=4 * MB)
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


async def test_a_compressed_body_is_inflated_and_capped_on_its_inflated_size() -> None:
    """The cap counts what the handler would get, so a small gzip bomb is refused."""
    seen: list[object] = []

    async def handler(request: web.Request) -> web.Response:
        try:
            seen.append(len(await read_body(request, 100_000)))
        except PayloadTooLarge as e:
            seen.append(e)
        return web.Response()

    app = web.Application()
    app.router.add_post("/", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/"
    gz = {"Content-Encoding": "gzip"}
    try:
        async with aiohttp.ClientSession() as session:
            for data in (b"x" * 60_000, bytes(MB)):  # 1 MB of zeros: about 1 KB gzipped
                async with session.post(url, data=gzip.compress(data), headers=gz) as resp:
                    assert resp.status == 200
    finally:
        await runner.cleanup()
    assert seen[0] == 60_000
    assert isinstance(seen[1], PayloadTooLarge), seen
