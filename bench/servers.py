"""Redis and PostgreSQL for the benchmarks, durable as such servers are usually run.

The test suite's helpers start them (``tests/support/servers.py``): Redis appending every write
to a file fsynced each second, PostgreSQL with its defaults. They run on the clients' CPUs, so
the gateway under test keeps its own.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.servers import start_postgres, start_redis


def start_store(kind: str, tmp: Path, cpus: str | None) -> tuple[str, Callable[[], None]]:
    """A durable ``redis-server`` or PostgreSQL on loopback, on ``cpus`` (started from here, so
    it inherits them): its URL (Redis: without a database number) and its stop."""
    start = start_redis if kind == "redis" else start_postgres
    was = os.sched_getaffinity(0)
    if cpus:
        os.sched_setaffinity(0, {int(c) for c in cpus.split(",")})
    try:
        url, stop = start(tmp / kind, durable=True)
    finally:
        os.sched_setaffinity(0, was)
    return url.rsplit("/", 1)[0] if kind == "redis" else url, stop
