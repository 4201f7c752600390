"""One keep-alive HTTP/1.1 connection to an upstream, and the response read over it.

A ``Connection`` is an asyncio protocol fed to httptools' response parser (llhttp, in C): it
handles ``Content-Length``, chunked and close-delimited bodies, 1xx answers and keep-alive.
The body reaches the reader as the network delivers it (``Response.chunk``), decompressed when
the upstream sent gzip or deflate. A reader that falls behind pauses the socket (flow control)
instead of buffering without bound. Every wait for upstream bytes is bounded by the read
timeout, and by the total deadline when there is one; a timed-out or abandoned response closes
its connection, which is never handed out again mid-answer.
"""

from __future__ import annotations

import asyncio
import socket
import zlib
from collections import deque
from collections.abc import AsyncIterator, Callable

import httptools
from multidict import CIMultiDict, CIMultiDictProxy

HIGH_WATER = 256 * 1024  # bytes buffered for a slow reader before the socket is paused
DRAIN_SECONDS = 2.0  # how long the end of an answer read no further is waited for
DRAIN_BYTES = 256 * 1024  # ... and how much of it, before its connection is given up
_DRAINS: set[asyncio.Task[None]] = set()  # strong references while they run
_NO_BODY = frozenset({204, 304})


class ConnectionBroken(Exception):
    """The upstream could not be reached, closed the connection early, or sent bad HTTP."""


class ReadTimeout(TimeoutError):
    """No byte from the upstream within the read timeout (or before the total deadline)."""


class Connection(asyncio.Protocol):
    """Carries one request at a time; ``on_idle`` gets it back when an answer completed and the
    upstream keeps the connection alive."""

    def __init__(self, loop: asyncio.AbstractEventLoop, on_idle: Callable[[Connection], None]):
        self.loop = loop
        self.on_idle = on_idle
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._parser = httptools.HttpResponseParser(self)
        self._resp: Response | None = None
        self._raw_headers: list[tuple[str, str]] = []
        self._informational = False
        self._paused = False

    # -- asyncio protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # Requests go out in one write; Nagle would hold the next one back for an ACK.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as e:
            self._broken(ConnectionBroken(f"The upstream sent malformed HTTP ({e})."))

    def eof_received(self) -> bool:
        return False  # close our side too: connection_lost ends what was in progress

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        resp, self._resp = self._resp, None
        if resp is None or resp.complete:
            return
        if resp.status and resp.until_close:
            resp.finish()  # an HTTP/1.0-style body ends when the connection does
        else:
            why = f": {exc}" if exc else ""
            resp.fail(ConnectionBroken(f"The upstream closed the connection mid-answer{why}."))

    # -- httptools callbacks -------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self._raw_headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        raw, self._raw_headers = self._raw_headers, []
        if status < 200:  # 100 Continue, 103 Early Hints: the real answer follows
            self._informational = True
            return
        if self._resp is not None:
            self._resp.begin(status, CIMultiDictProxy(CIMultiDict(raw)))

    def on_body(self, body: bytes) -> None:
        resp = self._resp
        if resp is not None and resp.feed(body) > HIGH_WATER and not self._paused:
            self._paused = True
            self._pause(True)

    def on_message_complete(self) -> None:
        if self._informational:
            self._informational = False
            return
        resp, self._resp = self._resp, None
        if self._paused:
            self._paused = False
            self._pause(False)
        if resp is not None:
            resp.finish()
        if self._parser.should_keep_alive() and not self.closed:
            self.idle_since = self.loop.time()
            self.on_idle(self)
        else:
            self.close()

    # -- used by the client and the response ---------------------------------------------------

    def send(self, message: bytes, resp: Response) -> None:
        assert self.transport is not None and self._resp is None
        self._resp = resp
        self.transport.write(message)

    def reader_caught_up(self) -> None:
        if self._paused:
            self._paused = False
            self._pause(False)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _pause(self, pause: bool) -> None:
        if self.transport is not None and not self.transport.is_closing():
            if pause:
                self.transport.pause_reading()
            else:
                self.transport.resume_reading()

    def _broken(self, err: ConnectionBroken) -> None:
        resp, self._resp = self._resp, None
        if resp is not None:
            resp.fail(err)
        self.close()


class Response:
    """An upstream's answer: ``status`` and ``headers`` once ``begin`` ran, then the body through
    ``read`` (all of it) or ``iter_any`` (as it arrives). ``close`` abandons it (the connection
    is closed unless the answer was already complete)."""

    def __init__(self, conn: Connection, read_timeout: float, deadline: float | None) -> None:
        self.status = 0
        self.headers: CIMultiDictProxy[str] = _EMPTY
        self.complete = False
        self.until_close = False
        self._conn = conn
        self._read_timeout = read_timeout
        self._deadline = deadline
        self._chunks: deque[bytes] = deque()
        self._size = 0
        self._exc: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._inflate: zlib._Decompress | None = None
        self._draining = False

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").partition(";")[0].strip().lower()

    # -- fed by the connection -----------------------------------------------------------------

    def begin(self, status: int, headers: CIMultiDictProxy[str]) -> None:
        self.status, self.headers = status, headers
        chunked = "chunked" in headers.get("Transfer-Encoding", "").lower()
        self.until_close = (
            not chunked and "Content-Length" not in headers and status not in _NO_BODY
        )
        encoding = headers.get("Content-Encoding", "").strip().lower()
        if encoding in ("gzip", "x-gzip", "deflate"):
            self._inflate = zlib.decompressobj(47)  # gzip or zlib header, told apart by zlib
        elif encoding not in ("", "identity"):
            self.fail(ConnectionBroken(f"The upstream sent a body encoded as {encoding!r}."))
            self._conn.close()
            return
        self._wake()

    def feed(self, data: bytes) -> int:
        if self._inflate is not None:
            try:
                data = self._inflate.decompress(data)
            except zlib.error as e:
                self.fail(ConnectionBroken(f"The upstream's compressed body is corrupt ({e})."))
                self._conn.close()
                return 0
        if data:
            self._chunks.append(data)
            self._size += len(data)
            self._wake()
        return self._size

    def finish(self) -> None:
        if self._inflate is not None:
            tail = self._inflate.flush()
            if tail:
                self._chunks.append(tail)
        self.complete = True
        self._wake()

    def fail(self, exc: BaseException) -> None:
        if not self.complete and self._exc is None:
            self._exc = exc
            self._wake()

    # -- read by the caller --------------------------------------------------------------------

    async def started(self) -> None:
        """Wait for the status line and headers."""
        while not self.status:
            await self._wait()

    async def chunk(self) -> bytes:
        """Whatever body arrived since the last call (waiting for some); b"" at the end."""
        while not self._chunks:
            if self.complete:
                return b""
            await self._wait()
        data = self._chunks.popleft() if len(self._chunks) == 1 else b"".join(self._chunks)
        self._chunks.clear()
        self._size = 0
        self._conn.reader_caught_up()
        return data

    async def iter_any(self) -> AsyncIterator[bytes]:
        while data := await self.chunk():
            yield data

    async def read(self) -> bytes:
        parts = []
        while data := await self.chunk():
            parts.append(data)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def release(self) -> None:
        """Done reading, and the answer is over for the caller (a stream's terminal event came):
        the rest, usually just the chunked terminator, is read in the background so that the
        connection goes back to the pool instead of costing a new (TLS) handshake next time."""
        if self.complete or self._draining:
            return
        self._draining = True
        self._deadline = self._conn.loop.time() + DRAIN_SECONDS
        task = self._conn.loop.create_task(self._drain())
        _DRAINS.add(task)
        task.add_done_callback(_DRAINS.discard)

    async def _drain(self) -> None:
        left = DRAIN_BYTES
        try:
            while data := await self.chunk():
                left -= len(data)
                if left < 0:
                    raise ConnectionBroken("too much of the answer left to read")
        except (ConnectionBroken, TimeoutError):
            self._conn.close()

    def close(self) -> None:
        if not self.complete and not self._draining:
            self.complete = True
            self._exc = self._exc or ConnectionBroken("The answer was abandoned.")
            self._conn.close()

    async def _wait(self) -> None:
        if self._exc is not None:
            raise self._exc
        loop = self._conn.loop
        waiter = self._waiter = loop.create_future()
        timeout = self._read_timeout
        if self._deadline is not None:
            timeout = min(timeout, self._deadline - loop.time())
        timer = loop.call_later(max(timeout, 0.0), self._timed_out, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None
        if self._exc is not None:
            raise self._exc

    def _timed_out(self, waiter: asyncio.Future[None]) -> None:
        if not waiter.done():
            self.fail(ReadTimeout("The upstream sent nothing within the timeout."))
            self._conn.close()  # mid-answer: the connection cannot carry another request

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


_EMPTY: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict())
