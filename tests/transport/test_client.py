"""The upstream HTTP client against scripted HTTP servers on loopback: framing, keep-alive,
compression, timeouts, flow control, cancellation, proxies and TLS."""

from __future__ import annotations

import asyncio
import base64
import gzip
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from tests.support.tls import self_signed
from wirebridge.transport import connection
from wirebridge.transport.client import ConnectionBroken, HttpClient, target

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
JSON = b'{"ok": true}'


class Server:
    """Runs ``script`` for every connection; records the requests' heads and bodies."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.heads: list[bytes] = []
        self.closed = asyncio.Event()
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.script(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            self.closed.set()

    async def request(self, reader: asyncio.StreamReader) -> bytes:
        """One request off the connection (head and Content-Length body); b"" at EOF."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return b""
        self.heads.append(head)
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        return await reader.readexactly(length)


@asynccontextmanager
async def serving(script: Script, ssl_ctx: ssl.SSLContext | None = None) -> AsyncIterator[Server]:
    srv = Server(script)
    server = await asyncio.start_server(srv.handle, "127.0.0.1", 0, ssl=ssl_ctx)
    srv.port = server.sockets[0].getsockname()[1]
    try:
        yield srv
    finally:
        server.close()


def answer(body: bytes, *extra: str) -> bytes:
    head = ["HTTP/1.1 200 OK", "Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join([*head, *extra]) + "\r\n\r\n").encode() + body


async def post(client: HttpClient, url: str, **kw: Any) -> Any:
    kw.setdefault("connect_timeout", 2.0)
    kw.setdefault("read_timeout", 2.0)
    return await client.post(url, b'{"q": 1}', {"Content-Type": "application/json"}, **kw)


async def test_keep_alive_reuses_one_connection() -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        while await srv.request(r):
            w.write(answer(JSON))

    async with serving(script) as srv:
        client = HttpClient()
        for _ in range(3):
            resp = await post(client, f"http://127.0.0.1:{srv.port}/v1/chat/completions")
            assert (resp.status, resp.content_type, await resp.read()) == (
                200,
                "application/json",
                JSON,
            )
        await client.close()
    assert srv.connections == 1
    first = srv.heads[0].decode()
    assert first.startswith("POST /v1/chat/completions HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{srv.port}\r\n" in first
    assert "Content-Length: 8\r\n" in first and "Accept-Encoding: gzip, deflate\r\n" in first


async def test_chunked_body_arrives_as_it_is_sent() -> None:
    go_on = asyncio.Event()

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await srv.request(r)
        w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await go_on.wait()  # the client must see "first" before the rest exists
        w.write(b"6\r\nsecond\r\n0\r\n\r\n")

    async with serving(script) as srv:
        client = HttpClient()
        resp = await post(client, f"http://127.0.0.1:{srv.port}/s")
        assert await resp.chunk() == b"first"
        go_on.set()
        assert [c async for c in resp.iter_any()] == [b"second"]
        await client.close()


async def test_a_released_answer_is_read_to_its_end_and_its_connection_reused() -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        while await srv.request(r):
            w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nlast\r\n")
            await asyncio.sleep(0.05)  # the terminator comes after the caller stopped reading
            w.write(b"0\r\n\r\n")

    async with serving(script) as srv:
        client = HttpClient()
        for _ in range(3):
            resp = await post(client, f"http://127.0.0.1:{srv.port}/s")
            assert await resp.chunk() == b"last"
            resp.release()
            resp.close()  # the adapters' cleanup: no effect on an answer being drained
            await asyncio.sleep(0.1)
        await client.close()
    assert srv.connections == 1


async def test_a_released_answer_that_never_ends_gives_up_its_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(connection, "DRAIN_SECONDS", 0.2)

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await srv.request(r)
        w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nlast\r\n")
        await r.read()  # never ends the body; returns when the client hangs up

    async with serving(script) as srv:
        client = HttpClient()
        resp = await post(client, f"http://127.0.0.1:{srv.port}/s")
        assert await resp.chunk() == b"last"
        resp.release()
        await asyncio.wait_for(srv.closed.wait(), 2)
        await client.close()


async def test_a_body_that_ends_with_the_connection() -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await srv.request(r)
        w.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end")
        await w.drain()

    async with serving(script) as srv:
        client = HttpClient()
        resp = await post(client, f"http://127.0.0.1:{srv.port}/x")
        assert await resp.read() == b"until the end"
        await post(client, f"http://127.0.0.1:{srv.port}/x")  # not reused: a new connection
        await client.close()
    assert srv.connections == 2


async def test_gzip_body_is_inflated() -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await srv.request(r)
        w.write(answer(gzip.compress(JSON * 100), "Content-Encoding: gzip"))

    async with serving(script) as srv:
        client = HttpClient()
        resp = await post(client, f"http://127.0.0.1:{srv.port}/z")
        assert await resp.read() == JSON * 100
        await client.close()


async def test_an_idle_connection_the_upstream_closed_is_replaced() -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await srv.request(r)
        w.write(answer(JSON))  # keep-alive promised, but the server leaves right after
        await w.drain()

    async with serving(script) as srv:
        client = HttpClient()
        assert await (await post(client, f"http://127.0.0.1:{srv.port}/a")).read() == JSON
        await srv.closed.wait()
        assert await (await post(client, f"http://127.0.0.1:{srv.port}/a")).read() == JSON
        await client.close()
    assert srv.connections == 2


async def test_a_reused_connection_dropped_as_it_is_used_is_retried_once() -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        first_connection = srv.connections == 1
        await srv.request(r)
        w.write(answer(JSON))
        if first_connection:
            await srv.request(r)  # the second request: dropped unanswered

    async with serving(script) as srv:
        client = HttpClient()
        assert await (await post(client, f"http://127.0.0.1:{srv.port}/a")).read() == JSON
        assert await (await post(client, f"http://127.0.0.1:{srv.port}/a")).read() == JSON
        await client.close()
    assert (srv.connections, len(srv.heads)) == (2, 3)


async def test_the_retry_after_a_dropped_pooled_connection_takes_a_fresh_one() -> None:
    # regression: the retry took the next pooled connection, as stale as the first, and a
    # second failure ended in an AssertionError (a 500) instead of a fresh connection
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await srv.request(r)
        await asyncio.sleep(0.05)  # both first requests are in flight at once: two connections
        w.write(answer(JSON))
        await srv.request(r)  # any later request on this connection: dropped unanswered

    async with serving(script) as srv:
        client = HttpClient()
        url = f"http://127.0.0.1:{srv.port}/a"
        first = await asyncio.gather(post(client, url), post(client, url))
        assert [await a.read() for a in first] == [JSON, JSON]
        assert await (await post(client, url)).read() == JSON
        await client.close()
    assert srv.connections == 3


async def test_a_fresh_connection_dropped_unanswered_is_an_error() -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await srv.request(r)

    async with serving(script) as srv:
        client = HttpClient()
        with pytest.raises(ConnectionBroken):
            await post(client, f"http://127.0.0.1:{srv.port}/a")
        await client.close()
    assert srv.connections == 1


async def test_a_connection_broken_mid_body_is_an_error() -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await srv.request(r)
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part")
        await w.drain()

    async with serving(script) as srv:
        client = HttpClient()
        resp = await post(client, f"http://127.0.0.1:{srv.port}/b")
        with pytest.raises(ConnectionBroken, match="mid-answer"):
            await resp.read()
        await client.close()


async def test_read_timeout_ends_the_wait_and_the_connection() -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await srv.request(r)
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf")
        await r.read()  # until the client hangs up

    async with serving(script) as srv:
        client = HttpClient()
        resp = await post(client, f"http://127.0.0.1:{srv.port}/t", read_timeout=0.2)
        with pytest.raises(TimeoutError):
            await resp.read()
        await asyncio.wait_for(srv.closed.wait(), 2)
        await client.close()


async def test_total_deadline_bounds_a_trickling_answer() -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await srv.request(r)
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        for _ in range(100):
            w.write(b"x")
            await asyncio.sleep(0.05)

    async with serving(script) as srv:
        client = HttpClient()
        resp = await post(client, f"http://127.0.0.1:{srv.port}/t", total_timeout=0.3)
        with pytest.raises(TimeoutError):
            await resp.read()
        await client.close()


async def test_informational_answers_are_skipped() -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await srv.request(r)
        w.write(b"HTTP/1.1 100 Continue\r\n\r\n" + answer(JSON))

    async with serving(script) as srv:
        client = HttpClient()
        resp = await post(client, f"http://127.0.0.1:{srv.port}/c")
        assert (resp.status, await resp.read()) == (200, JSON)
        await client.close()


async def test_a_large_body_read_slowly_arrives_whole() -> None:
    big = bytes(range(256)) * 16384  # 4 MiB: more than the buffer, so reading pauses

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await srv.request(r)
        w.write(answer(big))
        await w.drain()

    async with serving(script) as srv:
        client = HttpClient()
        resp = await post(client, f"http://127.0.0.1:{srv.port}/big")
        parts = []
        while data := await resp.chunk():
            parts.append(data)
            await asyncio.sleep(0.001)
        assert b"".join(parts) == big
        await client.close()


async def test_cancelling_a_call_hangs_up_on_the_upstream() -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await srv.request(r)
        await r.read()  # never answers; returns when the client hangs up

    async with serving(script) as srv:
        client = HttpClient()
        call = asyncio.create_task(post(client, f"http://127.0.0.1:{srv.port}/slow"))
        await asyncio.sleep(0.1)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        await asyncio.wait_for(srv.closed.wait(), 2)
        await client.close()


@pytest.mark.parametrize(
    "headers",
    [{"X-Evil": "a\r\nX-Injected: 1"}, {"X-Evil\r\nX-Injected": "1"}],
    ids=["in_value", "in_name"],
)
async def test_header_injection_is_refused_before_sending(headers: dict[str, str]) -> None:
    async with serving(lambda r, w: asyncio.sleep(0)) as srv:
        client = HttpClient()
        with pytest.raises(ConnectionBroken, match="not allow"):
            await client.post(
                f"http://127.0.0.1:{srv.port}/", b"", headers, connect_timeout=1, read_timeout=1
            )
        await client.close()
    assert srv.connections == 0


async def test_malformed_http_is_an_error() -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await srv.request(r)
        w.write(b"SMTP ready\r\n\r\n")

    async with serving(script) as srv:
        client = HttpClient()
        with pytest.raises(ConnectionBroken, match="malformed"):
            await post(client, f"http://127.0.0.1:{srv.port}/m")
        await client.close()


async def test_nothing_listening_is_an_error() -> None:
    async with serving(lambda r, w: asyncio.sleep(0)) as srv:
        port = srv.port
    client = HttpClient()
    with pytest.raises(ConnectionBroken, match="cannot connect"):
        await post(client, f"http://127.0.0.1:{port}/")
    await client.close()


def test_url_targets() -> None:
    t = target("https://api.example.com/v1/chat/completions?x=1")
    assert (t.tls, t.host, t.port, t.path, t.host_header, t.authority) == (
        True,
        "api.example.com",
        443,
        "/v1/chat/completions?x=1",
        "api.example.com",
        "api.example.com:443",
    )
    assert target("http://[::1]:8080/v1").host_header == "[::1]:8080"
    with pytest.raises(ConnectionBroken):
        target("ftp://example.com/")


async def test_http_through_a_forward_proxy_with_credentials() -> None:
    async def upstream(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        pass  # never reached directly

    async def proxy_script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await proxy.request(r)
        w.write(answer(b'{"via": "proxy"}'))

    async with serving(upstream) as up, serving(proxy_script) as proxy:
        client = HttpClient()
        resp = await post(
            client,
            f"http://127.0.0.1:{up.port}/v1/x",
            proxy=f"http://user:p%40ss@127.0.0.1:{proxy.port}",
        )
        assert await resp.read() == b'{"via": "proxy"}'
        await client.close()
    head = proxy.heads[0].decode()
    assert head.startswith(f"POST http://127.0.0.1:{up.port}/v1/x HTTP/1.1\r\n")
    creds = base64.b64encode(b"user:p@ss").decode()
    assert f"Proxy-Authorization: Basic {creds}\r\n" in head
    assert up.connections == 0


async def test_https_through_a_connect_tunnel() -> None:
    server_ctx, client_ctx = self_signed("localhost")

    async def upstream(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await up.request(r)
        w.write(answer(b'{"tls": true}'))

    async def tunnel(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        head = await r.readuntil(b"\r\n\r\n")
        proxy.heads.append(head)
        _, port = head.split(b" ")[1].decode().rsplit(":", 1)
        ur, uw = await asyncio.open_connection("127.0.0.1", int(port))
        w.write(b"HTTP/1.1 200 Connection established\r\n\r\n")

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            while data := await src.read(65536):
                dst.write(data)
            dst.close()

        await asyncio.gather(pipe(r, uw), pipe(ur, w))

    async with serving(upstream, server_ctx) as up, serving(tunnel) as proxy:
        client = HttpClient(ssl_context=client_ctx)
        resp = await post(
            client, f"https://localhost:{up.port}/v1/y", proxy=f"http://127.0.0.1:{proxy.port}"
        )
        assert await resp.read() == b'{"tls": true}'
        await client.close()
    assert proxy.heads[0].startswith(f"CONNECT localhost:{up.port} HTTP/1.1\r\n".encode())
    assert up.heads[0].startswith(b"POST /v1/y HTTP/1.1\r\n")


async def test_https_refuses_a_certificate_it_does_not_trust() -> None:
    server_ctx, _ = self_signed("localhost")

    async def upstream(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await up.request(r)

    async with serving(upstream, server_ctx) as up:
        client = HttpClient(ssl_context=ssl.create_default_context())
        with pytest.raises(ConnectionBroken, match="CERTIFICATE_VERIFY_FAILED"):
            await post(client, f"https://localhost:{up.port}/v1/y")
        await client.close()
