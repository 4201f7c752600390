"""The gateway's own Redis client: RESP2 over one pipelined connection, replies parsed by hiredis.

Why not redis-py: each of its commands checks a connection out of a pool, packs and writes on
it, waits and parses alone, and checks it back in. On the bench's VM that cost 142 µs of the
caller's CPU per command alone and 56 µs at 16 at once; one connection carrying every caller's
commands costs 55 and 9 (``bench/README.md``). Redis answers a connection's commands in the
order it got them, so the replies are matched to their callers first in, first out.

The connection opens at first use, and again at the first command after it broke. Commands in
flight when it breaks fail with ``ConnectionError`` and are not sent again: a script that counted
a request may have run, and must not count it twice. A command unanswered for ``timeout`` seconds
breaks the connection (``TimeoutError`` for every command in flight): behind it nothing could be
answered either.

Errors: ``ReplyError`` (a ``RespError``) when Redis answers with an error (``NOSCRIPT …``,
``WRONGPASS …``); ``ConnectionError`` or ``TimeoutError`` (both ``OSError``) when the connection
fails; ``TypeError`` for an argument Redis cannot carry.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import socket
import ssl
from collections import deque
from collections.abc import Sequence
from typing import Any, cast

import hiredis

from wirebridge.transport.redis_url import Address, parse_url

Arg = str | bytes | int | float


class RespError(Exception):
    """Base of this client's own errors."""


class ReplyError(RespError):
    """Redis answered the command with an error."""


class Script:
    """A Lua script, run by its SHA1 and sent whole only when Redis does not know it yet."""

    __slots__ = ("sha", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()


def pack(args: Sequence[Arg]) -> bytes:
    """One command in RESP: an array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, bytes):
            data = arg
        elif isinstance(arg, str):
            data = arg.encode()
        elif isinstance(arg, int) and not isinstance(arg, bool):
            data = b"%d" % arg
        elif isinstance(arg, float):
            data = repr(arg).encode()
        else:
            kind = type(arg).__name__
            raise TypeError(f"a redis argument is str, bytes, int or float, not {kind}")
        out += (b"$%d\r\n" % len(data), data, b"\r\n")
    return b"".join(out)


class _Link(asyncio.Protocol):
    """One connection: commands written in order, replies handed to them in order."""

    def __init__(self, timeout: float) -> None:
        self._loop = asyncio.get_running_loop()
        self._reader = hiredis.Reader(replyError=ReplyError)
        self._waiting: deque[tuple[asyncio.Future[Any], float]] = deque()
        self._transport: asyncio.Transport | None = None
        self._timeout = timeout
        self._watch: asyncio.TimerHandle | None = None
        self.broken: BaseException | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.attach(transport)

    def attach(self, transport: asyncio.BaseTransport) -> None:
        """Also called with what ``create_connection`` returned: uvloop may return it before
        ``connection_made`` ran."""
        if self._transport is not None:
            return
        self._transport = cast(asyncio.Transport, transport)  # uvloop's do not subclass it
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, payload: bytes, count: int) -> list[asyncio.Future[Any]]:
        """Write ``count`` commands packed in ``payload``; a future for each one's reply (an
        error reply is a ``ReplyError`` value, not an exception)."""
        if self.broken is not None or self._transport is None:
            raise ConnectionError(f"redis connection is down: {self.broken}")
        deadline = self._loop.time() + self._timeout
        futures = [self._loop.create_future() for _ in range(count)]
        self._waiting.extend((future, deadline) for future in futures)
        self._transport.write(payload)
        if self._watch is None:
            self._watch = self._loop.call_at(deadline, self._check)
        return futures

    async def exchange(self, commands: Sequence[Sequence[Arg]]) -> list[Any]:
        """Several commands written at once, their replies in order; the first error reply is
        raised (the other commands ran all the same)."""
        futures = self.send(b"".join(pack(command) for command in commands), len(commands))
        replies = await asyncio.gather(*futures)  # a broken link fails them all: each retrieved
        for reply in replies:
            if isinstance(reply, ReplyError):
                raise reply
        return replies

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        while True:
            try:
                reply = self._reader.gets()
            except hiredis.ProtocolError as exc:
                self.fail(ConnectionError(f"redis sent something that is not RESP: {exc}"))
                return
            if reply is False:
                return
            if not self._waiting:
                self.fail(ConnectionError("redis sent a reply to no command"))
                return
            future, _ = self._waiting.popleft()
            if not future.done():  # else its caller was cancelled; the reply is dropped
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        reason = f": {exc}" if exc else ""
        self.fail(ConnectionError(f"redis closed the connection{reason}"))

    def _check(self) -> None:
        self._watch = None
        if not self._waiting:
            return
        deadline = self._waiting[0][1]
        if deadline <= self._loop.time():
            self.fail(TimeoutError(f"redis did not answer within {self._timeout:g} s"))
        else:
            self._watch = self._loop.call_at(deadline, self._check)

    def fail(self, error: BaseException) -> None:
        """Break the connection: every command in flight fails with ``error``."""
        if self.broken is None:
            self.broken = error
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        if self._transport is not None and not self._transport.is_closing():
            self._transport.abort()
        while self._waiting:
            future, _ = self._waiting.popleft()
            if not future.done():
                future.set_exception(error)


class RespClient:
    """``await client.call("HGET", key, field)``; ``close()`` at the end. Use from one event
    loop."""

    def __init__(self, address: Address, *, timeout: float, connect_timeout: float) -> None:
        self.address = address
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._tls: ssl.SSLContext | None = None  # made at the first connect: it reads files
        self._link: _Link | None = None
        self._connecting: asyncio.Task[_Link] | None = None
        self._closed = False

    @classmethod
    def from_url(cls, url: str, *, timeout: float, connect_timeout: float) -> RespClient:
        return cls(parse_url(url), timeout=timeout, connect_timeout=connect_timeout)

    async def call(self, *args: Arg) -> Any:
        """One command's reply; ``ReplyError`` if Redis answered with an error."""
        link = self._link
        if link is None or link.broken is not None:
            link = await self._connect()
        (future,) = link.send(pack(args), 1)  # not exchange(): one future, no gather
        reply = await future
        if isinstance(reply, ReplyError):
            raise reply
        return reply

    async def pipeline(self, commands: Sequence[Sequence[Arg]]) -> list[Any]:
        """Several commands written at once, their replies in order; the first error reply is
        raised (the other commands ran all the same)."""
        if not commands:
            return []
        link = self._link
        if link is None or link.broken is not None:
            link = await self._connect()
        return await link.exchange(commands)

    async def run(self, script: Script, keys: Sequence[Arg], args: Sequence[Arg]) -> Any:
        """``EVALSHA``, and ``EVAL`` (which loads it) if Redis does not have the script."""
        try:
            return await self.call("EVALSHA", script.sha, len(keys), *keys, *args)
        except ReplyError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
        return await self.call("EVAL", script.source, len(keys), *keys, *args)

    async def close(self) -> None:
        self._closed = True
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
        if self._link is not None:
            self._link.fail(ConnectionError("redis client closed"))
            self._link = None

    async def _connect(self) -> _Link:
        """The connection, opened once for every caller waiting on it."""
        if self._closed:
            raise ConnectionError("redis client closed")
        task = self._connecting
        if task is None or task.done():
            task = self._connecting = asyncio.get_running_loop().create_task(self._open())
            task.add_done_callback(_retrieve)
        return await asyncio.shield(task)  # a caller cancelled does not cancel the others' connect

    async def _open(self) -> _Link:
        a = self.address
        loop = asyncio.get_running_loop()
        link: _Link | None = None

        def make() -> _Link:
            return _Link(self._timeout)

        try:
            async with asyncio.timeout(self._connect_timeout):
                if a.path is not None:
                    transport, link = await loop.create_unix_connection(make, a.path)
                else:
                    if a.tls is not None and self._tls is None:
                        self._tls = a.tls.context()
                    transport, link = await loop.create_connection(
                        make, a.host, a.port, ssl=self._tls
                    )
                link.attach(transport)
                await _hello(link, a)
        except TimeoutError:
            if link is not None:
                link.fail(ConnectionError("redis connection abandoned"))
            where = a.path or f"{a.host}:{a.port}"
            raise TimeoutError(
                f"redis at {where} did not answer within {self._connect_timeout:g} s"
            ) from None
        except BaseException:
            if link is not None:
                link.fail(ConnectionError("redis connection abandoned"))
            raise
        self._link = link
        return link


async def _hello(link: _Link, a: Address) -> None:
    """Log in, choose the database and name the connection, before anything else is sent."""
    commands: list[list[Arg]] = []
    if a.password:
        commands.append(["AUTH", a.username, a.password] if a.username else ["AUTH", a.password])
    if a.db:
        commands.append(["SELECT", a.db])
    if a.client_name:
        commands.append(["CLIENT", "SETNAME", a.client_name])
    if commands:
        await link.exchange(commands)


def _retrieve(task: asyncio.Task[Any]) -> None:
    # A connect whose callers all gave up: its failure was reported to nobody, by design.
    if not task.cancelled():
        task.exception()
