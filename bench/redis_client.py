"""What one Redis command costs its caller: the gateway's client against redis-py.

    python bench/redis_client.py [--commands N]

Starts a redis-server (``servers.start_store``, on CPU 1 when there are two) and, on one event
loop pinned to CPU 0 (uvloop, as ``serve`` runs), sends N ``EVALSHA`` of a one-line script
through each client, first one at a time and then from 16 concurrent tasks. Reports the
process's CPU time per command and commands per second: the cost ``transport/resp.py`` was
written to cut (``bench/README.md``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import redis.asyncio as aioredis
import uvloop
from servers import start_store

from wirebridge.transport.resp import RespClient, Script

SCRIPT = "return redis.call('INCR', KEYS[1])"
_SCRIPT = Script(SCRIPT)
Call = Callable[[], Awaitable[object]]


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def _measure(call: Call, commands: int, concurrency: int) -> tuple[float, float]:
    """(µs of CPU per command, commands per second)."""

    async def worker(n: int) -> None:
        for _ in range(n):
            await call()

    await call()  # connected, and the script loaded
    t0, c0 = time.perf_counter(), _cpu()
    await asyncio.gather(*(worker(commands // concurrency) for _ in range(concurrency)))
    t1, c1 = time.perf_counter(), _cpu()
    done = commands // concurrency * concurrency
    return (c1 - c0) / done * 1e6, done / (t1 - t0)


async def _run(url: str, commands: int) -> list[tuple[str, int, float, float]]:
    rows = []
    for concurrency in (1, 16):
        pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=64)
        theirs = aioredis.Redis(connection_pool=pool)
        registered = theirs.register_script(SCRIPT)

        def redis_py(s: object = registered) -> Awaitable[object]:
            return s(keys=["bench"], args=[1, 2, 3])  # type: ignore[operator]

        us, rate = await _measure(redis_py, commands, concurrency)
        rows.append(("redis-py (a pool of connections)", concurrency, us, rate))
        await pool.aclose()

        ours = RespClient.from_url(url, timeout=5, connect_timeout=5)

        def resp(c: RespClient = ours) -> Awaitable[object]:
            return c.run(_SCRIPT, ["bench"], [1, 2, 3])

        us, rate = await _measure(resp, commands, concurrency)
        rows.append(("wirebridge (transport/resp.py)", concurrency, us, rate))
        await ours.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--commands", type=int, default=20_000)
    args = ap.parse_args(argv)
    two = (os.cpu_count() or 1) >= 2
    with tempfile.TemporaryDirectory() as tmp:
        url, stop = start_store("redis", Path(tmp), "1" if two else None)
        try:
            if two:
                os.sched_setaffinity(0, {0})
            rows = uvloop.run(_run(url + "/0", args.commands))
        finally:
            stop()
    print("| client | concurrent | CPU µs a command | commands/s |")
    print("|---|---|---|---|")
    for name, concurrency, us, rate in rows:
        print(f"| {name} | {concurrency} | {us:.1f} | {rate:,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
