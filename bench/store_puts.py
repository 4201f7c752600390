"""What one stored response costs the SQLite store, by the shape of its id.

    python bench/store_puts.py [--puts N] [--concurrency C]
    python bench/store_puts.py --grow N [--concurrency C]

Drives ``SQLiteStore.put`` (the real store: group commit, ``synchronous=FULL``) from C
concurrent tasks on one event loop pinned to CPU 0, with a response and an input item shaped
like the benchmark's, and reports the process's CPU time per put and the puts per commit. Two
id shapes: 128 random bits (ids before they carried the time), and wirebridge's
response ids (the time in milliseconds, then 128 random bits). Both runs use fresh files.
``--grow N`` instead fills one file to N puts in twelve steps and reports each step: whether a
put costs more as the file grows.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from wirebridge.hub import ids
from wirebridge.store import StoredResponse
from wirebridge.store.sqlite import SQLiteStore

_TEXT = "Hello! Here is a short greeting for the benchmark. " * 4
_RESPONSE = {
    "object": "response",
    "created_at": 1,
    "status": "completed",
    "model": "bench-model",
    "output": [
        {
            "type": "message",
            "id": ids.message_id(),
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": _TEXT, "annotations": []}],
        }
    ],
    "usage": {"input_tokens": 20, "output_tokens": 40, "total_tokens": 60},
    "tools": [],
    "metadata": {},
}
_ITEMS = [
    {
        "id": ids.message_id(),
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "Write a short greeting, please."}],
    }
]


def random_id() -> str:
    return ids.new_id("resp")


class Putter:
    """Puts shaped like the benchmark's into one open store, ``concurrency`` at a time."""

    def __init__(self, store: SQLiteStore, make_id: Callable[[], str], concurrency: int) -> None:
        self.store, self.make_id = store, make_id
        self.gate = asyncio.Semaphore(concurrency)

    async def one(self) -> None:
        async with self.gate:
            id = self.make_id()
            rec = StoredResponse(
                id=id,
                owner="bench",
                response={**_RESPONSE, "id": id},
                input_items=_ITEMS,
                previous_response_id=None,
                created_at=int(time.time()),
                expires_at=int(time.time()) + 30 * 86400,  # as with the default ttl_days
            )
            await self.store.put(rec)

    async def measure(self, puts: int) -> dict[str, float]:
        writer = self.store._writer
        assert writer is not None
        batches0 = writer.batches
        r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        await asyncio.gather(*(self.one() for _ in range(puts)))
        r1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        user, sys_ = r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime
        return {
            "puts_per_s": puts / (t1 - t0),
            "cpu_us_per_put": (user + sys_) / puts * 1e6,
            "user_us": user / puts * 1e6,
            "sys_us": sys_ / puts * 1e6,
            "puts_per_commit": puts / max(1, writer.batches - batches0),
        }


async def run(
    make_id: Callable[[], str], puts: int, concurrency: int, path: Path
) -> dict[str, float]:
    store = await SQLiteStore.open(path)
    putter = Putter(store, make_id, concurrency)
    await asyncio.gather(*(putter.one() for _ in range(puts // 10)))  # warm up: the tree has depth
    result = await putter.measure(puts)
    await store.close()
    return result


async def grow(total: int, concurrency: int, path: Path) -> None:
    """Whether a put costs more as the file grows: one store filled in twelve steps."""
    store = await SQLiteStore.open(path)
    putter = Putter(store, ids.response_id, concurrency)
    step = max(1, total // 12)
    print("| puts stored | file MB | puts/s | CPU µs/put | puts/commit |")
    print("|---|---|---|---|---|")
    for n in range(step, total + 1, step):
        r = await putter.measure(step)
        print(
            f"| {n:,} | {path.stat().st_size / 1e6:,.0f} | {r['puts_per_s']:,.0f} | "
            f"{r['cpu_us_per_put']:.1f} | {r['puts_per_commit']:.1f} |",
            flush=True,
        )
    await store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--puts", type=int, default=20_000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument(
        "--grow", type=int, metavar="N", help="instead: fill one store to N puts, in 12 steps"
    )
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {0})
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    if args.grow:
        print(f"{args.concurrency} puts at a time, Python {sys.version.split()[0]}")
        with tempfile.TemporaryDirectory() as tmp:
            asyncio.run(grow(args.grow, args.concurrency, Path(tmp) / "s.db"))
        return
    print(f"{args.puts} puts, {args.concurrency} at a time, Python {sys.version.split()[0]}")
    print("| ids | puts/s | CPU µs/put | user | sys | puts/commit |")
    print("|---|---|---|---|---|---|")
    for _ in range(2):  # twice, alternating: one order is not the other's warm-up
        for name, make in (("random", random_id), ("time-ordered", ids.response_id)):
            with tempfile.TemporaryDirectory() as tmp:
                r = asyncio.run(run(make, args.puts, args.concurrency, Path(tmp) / "s.db"))
            print(
                f"| {name} | {r['puts_per_s']:,.0f} | {r['cpu_us_per_put']:.1f} | "
                f"{r['user_us']:.1f} | {r['sys_us']:.1f} | {r['puts_per_commit']:.1f} |"
            )


if __name__ == "__main__":
    main()
