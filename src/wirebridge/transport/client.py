"""The upstream HTTP client: pooled keep-alive HTTP/1.1 connections, direct or through a proxy.

Why not aiohttp's ``ClientSession`` (which the gateway used at first, and still uses for token
refresh and model listing): every upstream call pays for its general request path — cookie
jar, tracing hooks, request-info objects, a body-writer task — and on the bench that was a
quarter of the gateway's CPU per request and a tenth of a millisecond of latency at
concurrency 1 (bench/README.md, "HTTP client"). This client does one thing: write a request in
one ``write`` over a pooled connection and hand back a ``Response`` (``connection.py``).

Idle connections are kept per (scheme, host, port, proxy) in a ``Pool`` (``pool.py``): most
recently used first, a bounded number, dropped after ``keepalive`` seconds idle. A request
that finds its reused connection closed before any byte of the answer (the upstream timed it
out as we sent) is sent once more on a fresh one.
Proxies: ``http://`` upstreams through a forward proxy (absolute-form request line),
``https://`` ones through a ``CONNECT`` tunnel; credentials in the proxy URL become
``Proxy-Authorization``.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote, urlsplit

from wirebridge.transport.connection import Connection, ConnectionBroken, ReadTimeout, Response
from wirebridge.transport.pool import MAX_IDLE, Pool

KEEPALIVE = 60.0


@dataclass(frozen=True, slots=True)
class Target:
    """Where a URL's requests go, and the request line's target for it."""

    tls: bool
    host: str
    port: int
    path: str  # origin-form, with the query
    host_header: str  # host, and the port unless it is the scheme's own
    authority: str  # host:port, as CONNECT names it
    proxy: Proxy | None

    @property
    def pool_key(self) -> tuple[bool, str, int, Proxy | None]:
        return (self.tls, self.host, self.port, self.proxy)


@dataclass(frozen=True, slots=True)
class Proxy:
    host: str
    port: int
    authorization: str | None  # "Basic …" from the URL's credentials


@lru_cache(maxsize=1024)
def target(url: str, proxy: str | None = None) -> Target:
    """``url`` taken apart once (the same few URLs carry every request)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConnectionBroken(f"Not an http(s) URL: {url!r}.")
    tls = parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    host = parts.hostname
    shown = f"[{host}]" if ":" in host else host
    host_header = shown if port == (443 if tls else 80) else f"{shown}:{port}"
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    proxied = _proxy(proxy) if proxy else None
    return Target(tls, host, port, path, host_header, f"{shown}:{port}", proxied)


def _proxy(url: str) -> Proxy:
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme != "http" or not parts.hostname:
        raise ConnectionBroken(f"Only http:// proxies are supported, not {url!r}.")
    auth = None
    if parts.username is not None:
        creds = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        auth = "Basic " + base64.b64encode(creds).decode("ascii")
    return Proxy(parts.hostname, parts.port or 80, auth)


class HttpClient:
    """One per process (the gateway's); ``close`` when done."""

    def __init__(
        self,
        ssl_context: ssl.SSLContext | None = None,
        keepalive: float = KEEPALIVE,
        max_idle: int = MAX_IDLE,
    ) -> None:
        self._ssl = ssl_context
        self.pool = Pool(keepalive, max_idle)
        self._open: set[Connection] = set()

    async def post(
        self,
        url: str,
        body: bytes | Callable[[], bytes],
        headers: Mapping[str, str],
        *,
        connect_timeout: float,
        read_timeout: float,
        total_timeout: float | None = None,
        proxy: str | None = None,
    ) -> Response:
        """Send the request and wait for the answer's status and headers; its body is read
        from the ``Response``. Raises ``ConnectionBroken`` or a ``TimeoutError``. A ``body``
        given as a function (``lambda: orjson.dumps(obj)``) is made for each attempt and not
        held while the upstream answers: for an answer not streamed, the whole generation."""
        where = target(url, proxy)
        encode = body if callable(body) else _constant(body)
        # made before connecting: a header the request line cannot carry needs no connection
        message: bytes | None = _message(where, headers, encode())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + total_timeout if total_timeout is not None else None
        for attempt in range(2):
            conn, reused = await self._connection(where, attempt, connect_timeout, deadline)
            resp = Response(conn, read_timeout, deadline)
            if message is None:  # the second attempt: made again
                message = _message(where, headers, encode())
            conn.send(message, resp)
            message = None
            try:
                await resp.started()
            except ConnectionBroken:
                if reused and not resp.status:
                    continue  # the upstream dropped an idle connection as we used it
                raise
            except BaseException:
                resp.close()  # cancelled or timed out waiting: the connection goes
                raise
            return resp
        raise AssertionError("unreachable")  # pragma: no cover

    async def _connection(
        self, where: Target, attempt: int, connect_timeout: float, deadline: float | None
    ) -> tuple[Connection, bool]:
        """A pooled connection for the first attempt if there is one, else a new one (the
        second attempt, after a pooled one failed, never takes another); and whether pooled."""
        loop = asyncio.get_running_loop()
        conn = self.pool.take(where.pool_key, loop.time()) if attempt == 0 else None
        if conn is not None:
            return conn, True
        return await self._connect(where, loop, connect_timeout, deadline), False

    @property
    def open_connections(self) -> int:
        return len(self._open)

    async def close(self) -> None:
        self.pool.close()
        for conn in list(self._open):
            conn.close()
        self._open.clear()

    # -- the pool ------------------------------------------------------------------------------

    def _give_back(self, where: Target) -> Callable[[Connection], None]:
        key = where.pool_key
        return lambda conn: self.pool.put(key, conn)

    def _forget(self, where: Target) -> Callable[[Connection], None]:
        key = where.pool_key

        def forget(conn: Connection) -> None:
            self._open.discard(conn)
            self.pool.discard(key, conn)

        return forget

    async def _connect(
        self,
        where: Target,
        loop: asyncio.AbstractEventLoop,
        timeout: float,
        deadline: float | None,
    ) -> Connection:
        if deadline is not None:
            timeout = min(timeout, deadline - loop.time())
        conn = _TrackedConnection(loop, self._give_back(where), self._forget(where))
        try:
            async with asyncio.timeout(max(timeout, 0.0)):
                await self._open_transport(where, loop, conn)
        except TimeoutError:
            conn.close()
            raise TimeoutError(f"no connection to {where.host}:{where.port} in time") from None
        except (OSError, ssl.SSLError, ConnectionBroken) as e:
            conn.close()
            if isinstance(e, ConnectionBroken):
                raise
            raise ConnectionBroken(f"cannot connect to {where.host}:{where.port}: {e}") from None
        self._open.add(conn)
        return conn

    async def _open_transport(
        self, where: Target, loop: asyncio.AbstractEventLoop, conn: Connection
    ) -> None:
        proxy = where.proxy
        if proxy is None:
            ctx = self._context() if where.tls else None
            hostname = where.host if where.tls else None
            await loop.create_connection(
                lambda: conn, where.host, where.port, ssl=ctx, server_hostname=hostname
            )
        elif not where.tls:
            await loop.create_connection(lambda: conn, proxy.host, proxy.port)
        else:
            raw, tunnel = await loop.create_connection(_Tunnel, proxy.host, proxy.port)
            await tunnel.establish(where, proxy)
            tls = await loop.start_tls(raw, conn, self._context(), server_hostname=where.host)
            if tls is None:
                raise ConnectionBroken("the TLS handshake through the proxy failed")
            conn.connection_made(tls)

    def _context(self) -> ssl.SSLContext:
        if self._ssl is None:  # loading the CA store takes tens of ms: only once, when needed
            self._ssl = ssl.create_default_context()
        return self._ssl


class _TrackedConnection(Connection):
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        on_idle: Callable[[Connection], None],
        on_lost: Callable[[Connection], None],
    ) -> None:
        super().__init__(loop, on_idle)
        self._on_lost = on_lost

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._on_lost(self)


class _Tunnel(asyncio.Protocol):
    """The ``CONNECT`` exchange with a proxy, before TLS takes the connection over."""

    def __init__(self) -> None:
        self._buf = b""
        self._answer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._buf += data
        if b"\r\n\r\n" in self._buf and not self._answer.done():
            self._answer.set_result(self._buf.split(b"\r\n", 1)[0])

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._answer.done():
            self._answer.set_exception(ConnectionBroken("the proxy closed the connection"))

    async def establish(self, where: Target, proxy: Proxy) -> None:
        assert self._transport is not None
        authority = where.authority
        lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
        if proxy.authorization:
            lines.append(f"Proxy-Authorization: {proxy.authorization}")
        self._transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        status_line = await self._answer
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or parts[1] != b"200":
            shown = status_line.decode("latin-1", "replace")
            raise ConnectionBroken(f"the proxy refused the tunnel ({shown})")


def _constant(data: bytes) -> Callable[[], bytes]:
    return lambda: data


def _message(where: Target, headers: Mapping[str, str], body: bytes) -> bytes:
    # One exact-size message: ``body`` is usually orjson's output, whose buffer is several
    # times its length (orjson never shrinks it); this lets it go at once.
    return _head(where, headers, len(body)) + body


def _head(where: Target, headers: Mapping[str, str], length: int) -> bytes:
    """The request line and headers, checked: a CR or LF in a configured value must not be
    able to smuggle a header or a second request into the connection."""
    proxy = where.proxy
    if proxy is not None and not where.tls:
        line = f"POST http://{where.host_header}{where.path} HTTP/1.1\r\n"
    else:
        line = f"POST {where.path} HTTP/1.1\r\n"
    out = [line, "Host: ", where.host_header, "\r\n"]
    lowered = set()
    for name, value in headers.items():
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name or ":" in name:
            raise ConnectionBroken(f"Header {name!r} has a character HTTP does not allow.")
        out += (name, ": ", value, "\r\n")
        lowered.add(name.lower())
    if "accept-encoding" not in lowered:
        out.append("Accept-Encoding: gzip, deflate\r\n")
    if proxy is not None and proxy.authorization and not where.tls:
        out += ("Proxy-Authorization: ", proxy.authorization, "\r\n")
    out += ("Content-Length: ", str(length), "\r\n\r\n")
    return "".join(out).encode("utf-8")


__all__ = ["ConnectionBroken", "HttpClient", "ReadTimeout", "Response", "target"]
