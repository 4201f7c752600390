"""A closed-loop HTTP load generator: asyncio + aiohttp client (+ uvloop), fixed concurrency.

Each of ``--concurrency`` workers sends one request, reads the whole answer, checks it, and
sends the next, over its own keep-alive connection. Requests that complete inside the
measurement window (after ``--warmup``) are counted; throughput is those over the window.
For streams the time to the first body byte (TTFB) is recorded too. The result is one JSON
object on stdout:

    python bench/loadgen.py --url http://127.0.0.1:8765/v1/responses --body-file body.json \
        --concurrency 16 --duration 10 --warmup 2 --stream --marker response.completed

``--per-worker N`` switches to a fixed amount of work instead of a duration: every worker sends
N requests and stops (the slow-streams scenario: 5,000 workers, 1 stream each, started over
``--ramp`` seconds).

A request is an error when it raises, answers a status other than 200, or (with ``--marker``)
its body's last 32 KiB lack the marker (``response.completed``, ``[DONE]``, ``message_stop``…),
i.e. the stream did not finish properly.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from typing import Any

import aiohttp

TAIL = 32 * 1024


def _raise_nofile(need: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(max(soft, need), hard) if hard != resource.RLIM_INFINITY else max(soft, need)
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def _pct(sorted_vals: list[float], p: float) -> float | None:
    if not sorted_vals:
        return None
    k = min(len(sorted_vals) - 1, max(0, round(p / 100 * (len(sorted_vals) - 1))))
    return sorted_vals[k]


def _summary(vals: list[float]) -> dict[str, float | None]:
    s = sorted(vals)
    out: dict[str, float | None] = {f"p{p}": _pct(s, p) for p in (50, 90, 99)}
    out["max"] = s[-1] if s else None
    out["mean"] = sum(s) / len(s) if s else None
    return {k: (round(v * 1000, 4) if v is not None else None) for k, v in out.items()}


class Stats:
    def __init__(self) -> None:
        self.lat: list[float] = []
        self.ttfb: list[float] = []
        self.ok = 0
        self.errors = 0
        self.error_samples: dict[str, int] = {}
        self.bytes = 0
        self.in_flight = 0
        self.max_in_flight = 0

    def error(self, what: str) -> None:
        self.errors += 1
        key = what[:200]
        if key in self.error_samples or len(self.error_samples) < 10:
            self.error_samples[key] = self.error_samples.get(key, 0) + 1


async def one(
    session: aiohttp.ClientSession, args: argparse.Namespace, body: bytes, headers: dict[str, str]
) -> tuple[float, float | None, int, str | None]:
    """Send one request; return (latency, ttfb, bytes, error or None)."""
    marker = args.marker.encode() if args.marker else None
    t0 = time.perf_counter()
    first: float | None = None
    n = 0
    async with session.post(args.url, data=body, headers=headers) as resp:
        if resp.status != 200:
            text = (await resp.read())[:160].decode("utf-8", "replace")
            return time.perf_counter() - t0, None, 0, f"HTTP {resp.status}: {text}"
        if args.stream:
            tail = b""
            async for chunk in resp.content.iter_any():
                if first is None:
                    first = time.perf_counter() - t0
                n += len(chunk)
                tail = (tail + chunk)[-TAIL:]
        else:
            tail = await resp.read()
            n = len(tail)
            first = time.perf_counter() - t0
    lat = time.perf_counter() - t0
    if marker is not None and marker not in tail:
        return lat, first, n, f"marker {args.marker!r} missing: ...{tail[-120:]!r}"
    return lat, first, n, None


async def worker(
    i: int,
    session: aiohttp.ClientSession,
    args: argparse.Namespace,
    body: bytes,
    headers: dict[str, str],
    stats: Stats,
    window: list[float],
    stop: asyncio.Event,
) -> None:
    if args.ramp > 0:
        await asyncio.sleep(args.ramp * i / args.concurrency)
    done = 0
    while not stop.is_set():
        if args.per_worker and done >= args.per_worker:
            return
        stats.in_flight += 1
        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        try:
            lat, first, n, err = await one(session, args, body, headers)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # every failure is a counted error
            lat, first, n, err = 0.0, None, 0, f"{type(e).__name__}: {e}"
        finally:
            stats.in_flight -= 1
        done += 1
        t_end = time.perf_counter()
        if err is not None:  # an error counts whenever it happens, warm-up included
            stats.error(err)
            continue
        if not args.per_worker and not window[0] <= t_end <= window[1]:
            continue  # completed outside the measurement window
        stats.ok += 1
        stats.lat.append(lat)
        stats.bytes += n
        if first is not None and args.stream:
            stats.ttfb.append(first)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.body_file:
        with open(args.body_file, "rb") as f:
            body = f.read()
    else:
        body = args.body.encode()
    headers = {"Content-Type": "application/json"}
    for h in args.header:
        k, _, v = h.partition(":")
        headers[k.strip()] = v.strip()
    connector = aiohttp.TCPConnector(limit=0, force_close=False, keepalive_timeout=120)
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    stats = Stats()
    stop = asyncio.Event()
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, skip_auto_headers=("User-Agent",)
    ) as session:
        t0 = time.perf_counter()
        if args.per_worker:
            window = [t0, float("inf")]
        else:
            window = [t0 + args.warmup, t0 + args.warmup + args.duration]
        tasks = [
            asyncio.create_task(worker(i, session, args, body, headers, stats, window, stop))
            for i in range(args.concurrency)
        ]
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        if args.per_worker:
            await asyncio.gather(*tasks)
            elapsed = time.perf_counter() - t0
        else:
            await asyncio.sleep(args.warmup + args.duration)
            stop.set()
            elapsed = args.duration
            # let in-flight requests finish (they are outside the window) before closing
            _, pending = await asyncio.wait(tasks, timeout=args.drain)
            for t in pending:
                t.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    return {
        "tool": "loadgen",
        "url": args.url,
        "concurrency": args.concurrency,
        "duration_s": round(elapsed, 3),
        "requests": stats.ok,
        "errors": stats.errors,
        "error_samples": stats.error_samples,
        "rps": round(stats.ok / elapsed, 2) if elapsed > 0 else 0.0,
        "latency_ms": _summary(stats.lat),
        "ttfb_ms": _summary(stats.ttfb) if args.stream else None,
        "bytes": stats.bytes,
        "max_in_flight": stats.max_in_flight,
        "client_cpu_s": round(cpu, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--url", required=True)
    ap.add_argument("--body", default="{}")
    ap.add_argument("--body-file")
    ap.add_argument("--header", "-H", action="append", default=[], help="'Name: value'")
    ap.add_argument("--concurrency", "-c", type=int, default=16)
    ap.add_argument("--duration", "-d", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--drain", type=float, default=30.0, help="seconds to wait for in-flight")
    ap.add_argument("--per-worker", type=int, default=0)
    ap.add_argument("--ramp", type=float, default=0.0, help="spread worker starts over S s")
    ap.add_argument("--stream", action="store_true", help="read the body chunk by chunk")
    ap.add_argument("--marker", help="bytes that must be in the body's tail")
    ap.add_argument("--timeout", type=float, default=300.0)
    args = ap.parse_args()
    _raise_nofile(args.concurrency + 256)
    try:
        import uvloop

        result = uvloop.run(run(args))
    except ImportError:
        result = asyncio.run(run(args))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
