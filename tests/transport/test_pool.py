"""The pool of idle upstream connections: bounded, expired, and rid of closed ones."""

from __future__ import annotations

import asyncio

from tests.transport.test_client import JSON, Script, Server, answer, post, serving
from wirebridge.transport.client import HttpClient, target


def keep_alive_server(srv: list[Server]) -> Script:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        while await srv[0].request(r):
            await asyncio.sleep(0.05)  # long enough for the burst to need many connections
            w.write(answer(JSON))

    return script


async def test_a_burst_leaves_at_most_max_idle_connections_open() -> None:
    holder: list[Server] = []
    async with serving(keep_alive_server(holder)) as srv:
        holder.append(srv)
        client = HttpClient(max_idle=8)
        url = f"http://127.0.0.1:{srv.port}/v1/x"
        answers = await asyncio.gather(*(post(client, url) for _ in range(50)))
        assert [await a.read() for a in answers] == [JSON] * 50
        assert srv.connections == 50
        assert client.pool.idle(target(url).pool_key) == 8
        await asyncio.sleep(0.1)
        assert client.open_connections == 8  # the others were closed, not just forgotten
        await client.close()


async def test_idle_connections_expire_after_the_keep_alive() -> None:
    holder: list[Server] = []
    async with serving(keep_alive_server(holder)) as srv:
        holder.append(srv)
        client = HttpClient(keepalive=0.2)
        url = f"http://127.0.0.1:{srv.port}/v1/x"
        await asyncio.gather(*(post(client, url) for _ in range(5)))
        await asyncio.sleep(0.05)
        assert client.pool.idle(target(url).pool_key) == 5
        await asyncio.sleep(0.5)  # two sweeps later
        assert client.pool.idle(target(url).pool_key) == 0
        assert client.open_connections == 0
        await client.close()


async def test_a_connection_the_upstream_closed_leaves_the_pool() -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await srv.request(r)
        w.write(answer(JSON))
        await w.drain()  # and hang up, keep-alive or not

    async with serving(script) as srv:
        client = HttpClient()
        url = f"http://127.0.0.1:{srv.port}/v1/x"
        assert await (await post(client, url)).read() == JSON
        await srv.closed.wait()
        await asyncio.sleep(0.05)
        assert client.pool.idle(target(url).pool_key) == 0
        await client.close()
