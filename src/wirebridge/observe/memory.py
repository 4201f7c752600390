"""Give memory back to the system after a burst of requests.

A burst of thousands of concurrent streams grows the process by tens of megabytes; when it is
over, almost all of that is free again *inside* the process but stays resident. Two allocators
keep it:

* glibc's heap: freed chunks in the middle of the heap are only returned by ``malloc_trim``,
  never by ``free``, whatever ``M_TRIM_THRESHOLD`` says (that only trims the top of the heap);
* CPython's pymalloc: it returns a 1 MiB arena only when every block in it is free, and a few
  long-lived blocks allocated during the burst pin most of the burst's arenas. Measured after
  5,000 streams, the pinning blocks were C extensions' bounded free lists (uvloop's ``Handle``
  and ``TimerHandle``, aiohttp's ``RawRequestMessage``: 250 each; asyncio's future iterators),
  nothing of ours and nothing that grows. Nothing short of ``PYTHONMALLOC=malloc`` (all small
  objects in glibc's heap, which ``malloc_trim`` can then give back) releases those, which is
  why ``wirebridge serve`` runs under it (``cli/allocator.py``).

``Releaser`` counts the requests in flight (the request middleware calls ``enter`` and
``leave``: two integer updates per request) and, once that count has been at least ``burst``
and has fallen to an eighth of its peak, runs ``gc.collect()`` on the loop and glibc's
``malloc_trim(0)`` in a thread (it holds no GIL and takes a few to tens of milliseconds). It
waits ``SETTLE`` seconds first and looks again, so a dip between two waves does not trigger it,
then waits while the count keeps falling, so that the burst's tail is given back too,
and runs at most once per ``interval`` seconds: a burst that ends sooner is released when the
interval is up. Long-lived requests (WebSocket connections) count as in flight all along, which
is why the low water is relative to the peak rather than zero. Without glibc only the
collection runs. Each release counts in ``wirebridge_memory_releases_total`` and logs a debug
line with the RSS before and after.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import ctypes
import gc
import logging
import os
import time
from collections.abc import Callable

from wirebridge.observe import metrics

log = logging.getLogger("wirebridge.memory")

SETTLE = 1.0  # seconds the in-flight count must stay low before a release
LOW_FRACTION = 8  # low water: the peak in flight divided by this

Trim = Callable[[int], int]


def glibc_trim() -> Trim | None:
    """glibc's ``malloc_trim``, or None on other C libraries (musl, macOS) and on failure."""
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return None
        libc = ctypes.CDLL(None)
    except (ValueError, OSError, AttributeError):
        return None
    trim = getattr(libc, "malloc_trim", None)
    if trim is None:
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim  # type: ignore[no-any-return]


def rss_bytes() -> int | None:
    """Resident set size from /proc (Linux), for the log line only."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


class Releaser:
    """Watches the requests in flight and releases memory after a burst; one per process."""

    def __init__(self, burst: int = 0, interval: float = 30.0, trim: Trim | None = None) -> None:
        # burst 0: off; the counters still run, the comparison never holds.
        self.burst = burst if burst > 0 else 1 << 62
        self.interval = interval
        self.trim = trim
        self.in_flight = 0
        self.peak = 0
        self.releases = 0
        self._last = -float("inf")  # monotonic time of the last release
        self._task: asyncio.Task[None] | None = None

    def enter(self) -> None:
        self.in_flight += 1
        if self.in_flight > self.peak:
            self.peak = self.in_flight

    def leave(self) -> None:
        self.in_flight -= 1
        if self.peak >= self.burst and self._task is None and self._low():
            # A context of its own: the request that happened to end the burst is not its owner.
            self._task = asyncio.get_running_loop().create_task(
                self._release_when_quiet(), context=contextvars.Context()
            )

    def _low(self) -> bool:
        return self.in_flight * LOW_FRACTION <= self.peak

    async def _release_when_quiet(self) -> None:
        try:
            await asyncio.sleep(max(SETTLE, self._last + self.interval - time.monotonic()))
            # The burst's tail may still be draining: what it frees is only given back if the
            # release waits for it, so wait while the count keeps falling (WebSockets: it stops).
            before = self.in_flight
            while self.in_flight > 0 and self._low():
                await asyncio.sleep(SETTLE)
                if self.in_flight >= before:
                    break
                before = self.in_flight
            # Busy again: the next leave() that finds the count low schedules it anew.
            if self._low():
                await self.release()
        finally:
            self._task = None

    async def release(self) -> None:
        """Collect garbage and trim glibc's heap now; what the burst's end triggers."""
        started, before = time.perf_counter(), rss_bytes()
        self._last = time.monotonic()
        self.peak = self.in_flight
        collected = gc.collect()  # also empties CPython's own free lists
        trimmed = False
        if self.trim is not None:
            loop = asyncio.get_running_loop()
            trimmed = bool(await loop.run_in_executor(None, self.trim, 0))
        self.releases += 1
        metrics.METRICS.memory_released(self.trim is not None)
        log.debug(
            "memory released after a burst: %d objects collected, malloc_trim %s, "
            "RSS %s -> %s MB, %.1f ms",
            collected,
            "n/a" if self.trim is None else ("released" if trimmed else "nothing to release"),
            _mb(before),
            _mb(rss_bytes()),
            (time.perf_counter() - started) * 1000,
        )

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def _mb(n: int | None) -> str:
    return "?" if n is None else f"{n / 1048576:.1f}"


RELEASER = Releaser()
"""The process's releaser; ``install`` configures it, the request middleware feeds it."""


def install(burst: int, interval: float) -> Releaser:
    """Configure the process's releaser (``server.memory_release_*``) with glibc's trim."""
    RELEASER.burst = burst if burst > 0 else 1 << 62
    RELEASER.interval = interval
    RELEASER.trim = glibc_trim()
    return RELEASER


# Young collections every 5,000 net allocations instead of 700, full ones a tenth as often.
# A request holds its objects across awaits (the upstream call, a stored response's commit), so
# at the default thresholds most young collections found them alive, traversed and promoted
# them, and the promoted ones fed full collections of the whole heap. Measured with auth, store
# and metrics on at c=16 (bench/README.md): 780 young and 6 full collections (45 ms each) in a
# 6 s run became 19 and none, and throughput rose 18 % (thresholds alone; the bare gateway showed
# no change beyond the noise).
GC_THRESHOLDS = (5000, 20, 100)


def tune_collector() -> None:
    """Set the collector up for serving: what exists once the app is built (modules, config,
    routes) lives as long as the process, so it is frozen out of every later collection."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
