"""Memory is given back after a burst of requests: once it is over, not while it runs, at most
once per interval, and with only a collection where there is no glibc."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.fake_chat import FakeChat, Reply
from tests.support.gateway import Gateway
from wirebridge.observe import memory
from wirebridge.observe.memory import Releaser, glibc_trim

BURST = 6
CHUNK_DELAY = 0.25  # seconds between upstream chunks: each stream lasts over two seconds


@pytest.fixture
def gateway(
    tmp_path: Path, fake_chat: FakeChat, gateway_config: Callable[..., dict[str, Any]]
) -> Iterator[Gateway]:
    config = gateway_config(memory_release_burst=BURST, memory_release_interval=60)
    gw = Gateway.start(config, tmp_path)
    try:
        yield gw
    finally:
        gw.stop()


def _releases(gw: Gateway) -> float:
    text = httpx2.get(gw.url("/metrics/prometheus"), timeout=5).text
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "wirebridge_memory_releases_total"
    )


def _wait_for(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


async def _streams(gw: Gateway, n: int) -> list[str]:
    body = {"model": "fake-model", "input": "hi", "stream": True}
    async with httpx2.AsyncClient(timeout=30) as client:

        async def one() -> str:
            resp = await client.post(gw.url("/v1/responses"), json=body)
            return resp.text

        return await asyncio.gather(*(one() for _ in range(n)))


def test_released_after_the_burst_not_during_it(gateway: Gateway, fake_chat: FakeChat) -> None:
    reply = Reply.text("one two three four five six seven eight", chunk_size=4, delay=CHUNK_DELAY)
    fake_chat.script(*[reply] * BURST)
    assert _releases(gateway) == 0
    seen_during: list[float] = []

    async def burst() -> list[str]:
        streams = asyncio.ensure_future(_streams(gateway, BURST))
        await asyncio.sleep(memory.SETTLE + 0.3)  # all open, longer than the settle time
        assert not streams.done()
        seen_during.append(await asyncio.to_thread(_releases, gateway))
        return await streams

    answers = asyncio.run(burst())
    assert all("response.completed" in a for a in answers)
    assert seen_during == [0]
    assert _wait_for(lambda: _releases(gateway) == 1, timeout=memory.SETTLE + 5)
    # One burst, one release: quiet traffic afterwards does not trigger another.
    fake_chat.script(Reply.text("again"))
    asyncio.run(_streams(gateway, 1))
    time.sleep(memory.SETTLE + 0.5)
    assert _releases(gateway) == 1


def test_small_traffic_never_releases(gateway: Gateway, fake_chat: FakeChat) -> None:
    fake_chat.script(*[Reply.text("hi", delay=0.05)] * (BURST - 1))
    asyncio.run(_streams(gateway, BURST - 1))
    time.sleep(memory.SETTLE + 0.5)
    assert _releases(gateway) == 0


class _Counting:
    """glibc's malloc_trim, counting its calls and the thread they ran in."""

    def __init__(self) -> None:
        self.real = glibc_trim()
        self.calls: list[bool] = []

    def __call__(self, pad: int) -> int:
        import threading

        self.calls.append(threading.current_thread() is threading.main_thread())
        return self.real(pad) if self.real is not None else 0


async def _burst(r: Releaser, n: int) -> None:
    for _ in range(n):
        r.enter()
    await asyncio.sleep(0)
    for _ in range(n):
        r.leave()


async def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait for ``condition``: a release's ``gc.collect()`` takes as long as the heap is big
    (in a whole test run, hundreds of milliseconds), so no fixed sleep is long enough."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def test_releases_are_rate_limited(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "SETTLE", 0.05)
    trim = _Counting()

    async def run() -> None:
        r = Releaser(burst=4, interval=3.0, trim=trim)
        await _burst(r, 8)
        await _until(lambda: r.releases == 1)
        started = time.monotonic()
        await _burst(r, 8)  # a second burst within the interval: deferred, not dropped
        await asyncio.sleep(0.3)
        assert r.releases == 1
        await _until(lambda: r.releases == 2)
        assert time.monotonic() - started > 1.0  # it waited for the interval
        await r.close()

    asyncio.run(run())
    assert trim.calls == [False, False]  # in a worker thread, off the event loop


def test_waits_for_the_count_to_fall_to_an_eighth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "SETTLE", 0.05)

    async def run() -> None:
        r = Releaser(burst=8, interval=0.01, trim=None)
        for _ in range(16):
            r.enter()
        for _ in range(13):
            r.leave()  # 3 left of 16: above the low water of 2
        await asyncio.sleep(0.2)
        assert r.releases == 0
        r.leave()
        await _until(lambda: r.releases == 1)
        assert r.peak == 2
        await r.close()

    asyncio.run(run())


def test_waits_while_the_tail_drains(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "SETTLE", 0.3)

    async def run() -> None:
        r = Releaser(burst=8, interval=0.01, trim=None)
        for _ in range(16):
            r.enter()
        for _ in range(14):
            r.leave()  # low water: scheduled; it looks every 0.3 s while the count falls
        await asyncio.sleep(0.45)
        for _ in range(2):
            assert r.releases == 0
            r.leave()
            await asyncio.sleep(0.3)
        await _until(lambda: r.releases == 1)
        assert r.peak == 0
        await r.close()

    asyncio.run(run())


def test_without_glibc_only_collects() -> None:
    async def run() -> Releaser:
        r = Releaser(burst=1, interval=1, trim=None)
        await r.release()
        return r

    assert asyncio.run(run()).releases == 1
    if glibc_trim() is None:  # musl, macOS: nothing to trim with
        assert memory.install(256, 30).trim is None


def test_off_with_burst_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "SETTLE", 0.01)

    async def run() -> int:
        r = Releaser(burst=0, interval=0.01, trim=None)
        await _burst(r, 10_000)
        await asyncio.sleep(0.1)
        return r.releases

    assert asyncio.run(run()) == 0


def test_tune_collector_freezes_the_startup_heap_and_raises_the_thresholds() -> None:
    # In a child process: the test process's own collector stays as it was.
    code = (
        "import gc, json; from wirebridge.observe.memory import tune_collector; "
        "before = gc.get_freeze_count(); tune_collector(); "
        "print(json.dumps([before, gc.get_freeze_count(), gc.get_threshold()]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, text=True)
    before, frozen, thresholds = json.loads(out.stdout)
    assert before == 0 and frozen > 1000  # the imported modules, at least
    assert tuple(thresholds) == memory.GC_THRESHOLDS
