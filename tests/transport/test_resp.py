"""The gateway's Redis client against a real redis-server (plain TCP, a Unix socket and TLS), and
against scripted servers for what a healthy Redis never does (garbage, silence)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
import redis.asyncio as aioredis

from tests.support.gateway import free_port
from tests.support.servers import running, start_redis
from tests.support.tls import self_signed_files
from wirebridge.transport.resp import ReplyError, RespClient, Script, pack


class Redis(NamedTuple):
    url: str  # plain TCP, database 0
    socket: Path
    tls_port: int
    ca: Path


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Redis]:
    """A redis-server of this module's own: the tests change its password and kill clients."""
    tmp = tmp_path_factory.mktemp("resp")
    cert, key = self_signed_files("localhost", tmp)
    sock, tls_port = tmp / "redis.sock", free_port()
    extra = ["--unixsocket", str(sock), "--unixsocketperm", "700"]
    extra += ["--tls-port", str(tls_port), "--tls-cert-file", str(cert)]
    extra += ["--tls-key-file", str(key), "--tls-ca-cert-file", str(cert)]
    extra += ["--tls-auth-clients", "no"]
    for url in running(lambda t: start_redis(t, extra=extra), tmp):
        yield Redis(url, sock, tls_port, cert)


@contextlib.asynccontextmanager
async def client(url: str, timeout: float = 5.0) -> AsyncIterator[RespClient]:
    c = RespClient.from_url(url, timeout=timeout, connect_timeout=2.0)
    try:
        yield c
    finally:
        await c.close()


@contextlib.asynccontextmanager
async def inspector(url: str) -> AsyncIterator[aioredis.Redis]:
    """redis-py, to look at what our client did from outside it."""
    r = aioredis.Redis.from_url(url)
    try:
        yield r
    finally:
        await r.aclose()


async def test_replies_come_back_to_their_callers_in_order(redis: Redis) -> None:
    async with client(redis.url) as c:
        await c.call("DEL", "resp:n")
        # 200 callers at once on one connection: each must get its own reply, not a neighbour's.
        got = await asyncio.gather(*(c.call("INCRBY", "resp:n", 1) for _ in range(200)))
        assert sorted(got) == list(range(1, 201))
        echoed = await asyncio.gather(*(c.call("ECHO", f"m{i}") for i in range(50)))
        assert echoed == [f"m{i}".encode() for i in range(50)]
        assert await c.call("GET", "resp:missing") is None
        assert await c.pipeline([("SET", "resp:a", "1"), ("GET", "resp:a")]) == [b"OK", b"1"]
        async with inspector(redis.url) as r:
            assert len(await r.client_list()) == 2  # ours (one connection for all) and this one


async def test_arguments_are_sent_as_redis_reads_them(redis: Redis) -> None:
    async with client(redis.url) as c:
        value = "é\x00" + "x" * 100_000
        await c.call("SET", "resp:s", value)
        assert await c.call("GET", "resp:s") == value.encode()
        await c.call("SET", "resp:b", b"\r\n$3\r\n")
        assert await c.call("GET", "resp:b") == b"\r\n$3\r\n"
        await c.call("SET", "resp:f", 0.1)
        assert await c.call("GET", "resp:f") == b"0.1"
    for bad in (True, None, ["x"]):
        with pytest.raises(TypeError, match="str, bytes, int or float"):
            pack(["SET", "k", bad])  # type: ignore[list-item]


async def test_an_error_reply_is_raised_to_its_caller_alone(redis: Redis) -> None:
    async with client(redis.url) as c:
        await c.call("SET", "resp:str", "x")
        wrong, right = await asyncio.gather(
            c.call("LPUSH", "resp:str", "y"), c.call("GET", "resp:str"), return_exceptions=True
        )
        assert isinstance(wrong, ReplyError) and str(wrong).startswith("WRONGTYPE")
        assert right == b"x"
        with pytest.raises(ReplyError, match="WRONGTYPE"):
            await c.pipeline([("GET", "resp:str"), ("LPUSH", "resp:str", "y")])


async def test_a_script_unknown_to_redis_is_sent_whole_once(redis: Redis) -> None:
    script = Script("return {KEYS[1], ARGV[1], #ARGV}")
    async with client(redis.url) as c, inspector(redis.url) as r:
        await r.script_flush()
        await r.config_resetstat()
        assert await c.run(script, ["k"], ["a", 2]) == [b"k", b"a", 2]
        assert await c.run(script, ["k2"], ["b"]) == [b"k2", b"b", 1]
        stats = await r.info("commandstats")
        assert stats["cmdstat_eval"]["calls"] == 1  # the first run loaded it
        assert stats["cmdstat_evalsha"]["calls"] == 2  # NOSCRIPT, then found
        with pytest.raises(ReplyError, match="boom"):
            await c.run(Script("return redis.error_reply('boom')"), [], [])


async def test_a_unix_socket_and_a_database(redis: Redis) -> None:
    async with client(f"unix://{redis.socket}?db=3") as c, inspector(redis.url[:-1] + "3") as r:
        await c.call("SET", "resp:where", "db3")
        assert await r.get("resp:where") == b"db3"
    async with client(redis.url[:-1] + "4") as c, inspector(redis.url[:-1] + "4") as r:
        await c.call("SET", "resp:where", "db4")
        assert await r.get("resp:where") == b"db4"


async def test_tls_with_the_servers_ca(redis: Redis) -> None:
    url = f"rediss://localhost:{redis.tls_port}/0?ssl_ca_certs={redis.ca}"
    async with client(url) as c:
        assert await c.call("PING") == b"PONG"
    # The system's CAs do not know this certificate: refused, never sent in the clear.
    async with client(f"rediss://localhost:{redis.tls_port}/0") as c:
        with pytest.raises(OSError, match="CERTIFICATE_VERIFY_FAILED"):
            await c.call("PING")
    async with client(f"rediss://127.0.0.1:{redis.tls_port}/0?ssl_cert_reqs=none") as c:
        assert await c.call("PING") == b"PONG"
    missing = redis.ca.parent / "missing.pem"
    async with client(f"rediss://localhost:{redis.tls_port}/0?ssl_ca_certs={missing}") as c:
        with pytest.raises(FileNotFoundError):  # read at the first connect, an OSError then
            await c.call("PING")


async def test_a_password_and_a_user(redis: Redis) -> None:
    async with inspector(redis.url) as r:
        await r.acl_setuser("wb", enabled=True, passwords=["+s3cret"], commands=["+@all"], keys="*")
        await r.config_set("requirepass", "topsecret")
        try:
            async with client(redis.url.replace("//", "//:topsecret@")) as c:
                assert await c.call("PING") == b"PONG"
            async with client(redis.url.replace("//", "//wb:s3cret@")) as c:
                assert await c.call("ACL", "WHOAMI") == b"wb"
            async with client(redis.url.replace("//", "//:wrong@")) as c:
                with pytest.raises(ReplyError, match="WRONGPASS"):
                    await c.call("PING")
            async with client(redis.url) as c:
                with pytest.raises(ReplyError, match="NOAUTH"):
                    await c.call("PING")
        finally:
            await r.execute_command("AUTH", "topsecret")
            await r.config_set("requirepass", "")
            await r.acl_deluser("wb")


async def test_a_lost_connection_fails_what_was_in_flight_and_is_opened_again(
    redis: Redis,
) -> None:
    async with client(redis.url) as c, inspector(redis.url) as r:
        await c.call("CLIENT", "SETNAME", "victim")
        blocked = asyncio.ensure_future(c.call("BLPOP", "resp:never", 10))
        await asyncio.sleep(0.2)
        await r.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
        with pytest.raises(ConnectionError, match="closed the connection"):
            await asyncio.wait_for(blocked, 5)
        # Not sent again: the BLPOP ran once. The next command opens a new connection.
        assert await c.call("PING") == b"PONG"
        assert await c.call("CLIENT", "GETNAME") is None  # a new connection, not the old one


async def test_a_command_unanswered_in_time_breaks_the_connection(redis: Redis) -> None:
    async with client(redis.url, timeout=0.3) as c:
        await c.call("PING")
        loop = asyncio.get_running_loop()
        started = loop.time()
        stuck = c.call("BLPOP", "resp:never", 5)
        behind = c.call("PING")
        results = await asyncio.gather(stuck, behind, return_exceptions=True)
        assert all(isinstance(r, TimeoutError) for r in results), results
        assert loop.time() - started < 2
        assert await c.call("PING") == b"PONG"  # a new connection


async def test_a_cancelled_caller_does_not_shift_the_replies(redis: Redis) -> None:
    async with client(redis.url) as c:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(c.call("BLPOP", "resp:late", 1), 0.2)
        await c.call("RPUSH", "resp:late", "x")  # answered after the cancelled BLPOP's nil
        assert await c.call("ECHO", "mine") == b"mine"
        assert await c.call("LLEN", "resp:late") == 1


async def test_nothing_listening_is_an_os_error() -> None:
    async with client(f"redis://127.0.0.1:{free_port()}/0") as c:
        with pytest.raises(ConnectionRefusedError):
            await c.call("PING")


@contextlib.asynccontextmanager
async def scripted(answer: bytes | None) -> AsyncIterator[str]:
    """A server that answers any bytes with ``answer`` (``None``: never answers)."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(65536):
            if answer is not None:
                writer.write(answer)

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"redis://:pw@127.0.0.1:{port}/0"
    finally:
        server.close()


async def test_a_server_that_never_answers_the_login_times_out() -> None:
    async with scripted(None) as url:
        c = RespClient.from_url(url, timeout=5, connect_timeout=0.3)
        with pytest.raises(TimeoutError, match=r"did not answer within 0\.3 s"):
            await c.call("PING")
        await c.close()


async def test_a_server_that_sends_garbage_breaks_the_connection() -> None:
    async with scripted(b"+OK\r\n!garbage\r\n") as url, client(url) as c:
        with pytest.raises(ConnectionError, match="not RESP"):
            await c.call("PING")


async def test_a_closed_client_refuses_commands(redis: Redis) -> None:
    async with client(redis.url) as c:
        await c.call("PING")
    with pytest.raises(ConnectionError, match="closed"):
        await c.call("PING")
