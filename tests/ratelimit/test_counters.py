"""The fixed windows, in memory (on a clock the test moves) and in a real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from tests.support.redis_db import empty_db
from wirebridge.ratelimit.counters import (
    CHARGE_DELAY,
    REDIS_PREFIX,
    Counters,
    MemoryCounters,
    RedisCounters,
    Slot,
)
from wirebridge.ratelimit.limiter import redis_client

RPM = Slot("rpm:key:k", 2, 60, True)
RPD = Slot("rpd:key:k", 10, 86_400, True)
TPM = Slot("tpm:key:k", 100, 60, False)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "redis"])
async def counters(request: pytest.FixtureRequest) -> AsyncIterator[Counters]:
    found: Counters
    if request.param == "memory":
        found = MemoryCounters()
    else:
        async with empty_db(request.getfixturevalue("redis_url"), 5) as (url, _):
            found = RedisCounters(redis_client(url))
    await found.start()
    try:
        yield found
    finally:
        await found.close()


@pytest.fixture
async def in_redis(redis_url: str) -> AsyncIterator[tuple[RedisCounters, aioredis.Redis]]:
    """Counters on an empty Redis database, and a client of the test's own to look inside."""
    async with empty_db(redis_url, 7) as (url, client):
        counters = RedisCounters(redis_client(url))
        try:
            await counters.start()
            yield counters, client
        finally:
            await counters.close()


async def test_a_request_counts_in_every_requests_window_until_one_is_full(
    counters: Counters,
) -> None:
    first = await counters.admit([RPM, RPD, TPM])
    assert first.refused is None and first.used == [0, 0, 0]
    assert 59 < first.reset[0] <= 60 and 86_399 < first.reset[1] <= 86_400
    assert 59 < first.reset[2] <= 60  # an empty window reads as a full period ahead
    second = await counters.admit([RPM, RPD, TPM])
    assert second.refused is None and second.used == [1, 1, 0]
    third = await counters.admit([RPD, RPM, TPM])
    assert third.refused == 1 and third.used == [2, 2, 0]
    # The refused request was counted nowhere, not even in the day's window.
    assert (await counters.admit([RPD])).used == [2]


async def test_tokens_are_charged_past_the_limit_and_then_refuse(counters: Counters) -> None:
    await counters.charge(TPM, 60)
    assert (await counters.admit([TPM])).refused is None  # 40 left: a request may start
    await counters.charge(TPM, 60)
    refused = await counters.admit([RPM, TPM])
    assert refused.refused == 1 and refused.used == [0, 120]
    assert (await counters.admit([RPM])).used == [0]  # nothing was counted


async def test_subjects_and_limits_have_windows_of_their_own(counters: Counters) -> None:
    other = Slot("rpm:key:j", 2, 60, True)
    address = Slot("rpm:ip:2001:db8::1", 2, 60, True)
    for _ in range(2):
        assert (await counters.admit([RPM])).refused is None
    assert (await counters.admit([RPM])).refused == 0
    assert (await counters.admit([other, address])).used == [0, 0]


async def test_admissions_and_charges_made_at_once_count_one_after_the_other(
    counters: Counters,
) -> None:
    # In Redis these go as one script per loop turn: each admission must still see the ones
    # before it, and a refused one still counts nowhere.
    other = Slot("rpm:key:j", 2, 60, True)
    readings = await asyncio.gather(
        *(counters.admit([RPM, RPD]) for _ in range(4)), counters.admit([other])
    )
    assert [r.refused for r in readings] == [None, None, 0, 0, None]
    assert [r.used for r in readings] == [[0, 0], [1, 1], [2, 2], [2, 2], [0]]
    await asyncio.gather(counters.charge(TPM, 30), counters.charge(TPM, 50))
    assert (await counters.admit([RPD, TPM])).used == [2, 80]


async def test_a_memory_window_closes_after_its_period_and_is_swept() -> None:
    clock = Clock()
    counters = MemoryCounters(clock)
    await counters.admit([RPM])
    await counters.admit([RPM])
    assert (await counters.admit([RPM])).refused == 0
    clock.now += 30
    reading = await counters.admit([RPM])
    assert reading.refused == 0 and reading.reset == [30.0]
    clock.now += 30
    reading = await counters.admit([RPM])
    assert reading.refused is None and reading.used == [0] and reading.reset == [60.0]
    # Windows of clients gone quiet are dropped, not kept for ever.
    await counters.admit([Slot("rpm:ip:10.0.0.1", 5, 60, True)])
    clock.now += 61
    await counters.admit([RPD])
    assert set(counters._windows) == {"rpd:key:k"}


async def test_a_redis_window_closes_after_its_period(redis_url: str) -> None:
    url = redis_url.rsplit("/", 1)[0] + "/6"
    counters = RedisCounters(redis_client(url))
    short = Slot("rpm:key:short", 1, 1, True)
    try:
        await counters.start()
        assert (await counters.admit([short])).refused is None
        assert (await counters.admit([short])).refused == 0
        await asyncio.sleep(1.1)
        assert (await counters.admit([short])).refused is None
    finally:
        await counters.close()


async def test_redis_admits_in_one_round_trip_and_repairs_a_counter_without_expiry(
    in_redis: tuple[RedisCounters, aioredis.Redis],
) -> None:
    counters, client = in_redis
    slots = [Slot("rpm:key:big", 1000, 60, True), RPD, TPM]
    await counters.admit(slots)
    await client.config_resetstat()
    for _ in range(3):
        assert (await counters.admit(slots)).refused is None
    stats = await client.info("commandstats")
    calls = {k: v["calls"] for k, v in stats.items() if not k.startswith("cmdstat_config")}
    # One command from the client per admission; the rest is the script's own work (Redis
    # counts the commands a script runs too): a PTTL per window, a GET per window that
    # exists (the tokens one was never charged), an INCR per requests window.
    script = {"cmdstat_pttl": 9, "cmdstat_get": 6, "cmdstat_incr": 6}
    assert calls == {"cmdstat_evalsha": 3, **script}
    # A counter left without an expiry (by hand, or an old writer) opens a fresh window.
    await client.set(REDIS_PREFIX + "rpd:key:stuck", 99)
    stuck = Slot("rpd:key:stuck", 10, 86_400, True)
    assert (await counters.admit([stuck])).refused is None
    assert int(await client.get(REDIS_PREFIX + "rpd:key:stuck")) == 1
    assert 86_000 < await client.ttl(REDIS_PREFIX + "rpd:key:stuck") <= 86_400


async def test_redis_sends_the_admissions_of_one_turn_and_the_charges_held_as_one_script(
    in_redis: tuple[RedisCounters, aioredis.Redis],
) -> None:
    counters, client = in_redis
    await counters.admit([RPD])  # the script loaded: later calls are EVALSHA alone
    await client.config_resetstat()
    await asyncio.gather(*(counters.charge(TPM, 10) for _ in range(3)))
    assert await client.get(REDIS_PREFIX + TPM.key) is None  # held for the next admission
    readings = await asyncio.gather(*(counters.admit([RPD, TPM]) for _ in range(5)))
    assert [r.used for r in readings] == [[1, 30], [2, 30], [3, 30], [4, 30], [5, 30]]
    stats = await client.info("commandstats")
    assert stats["cmdstat_evalsha"]["calls"] == 1
    # The script's own work: the first charge opens the window, the others add to it; then an
    # INCR per admission.
    assert stats["cmdstat_set"]["calls"] == 1
    assert stats["cmdstat_incrby"]["calls"] == 2
    assert stats["cmdstat_incr"]["calls"] == 5
    assert int(await client.get(REDIS_PREFIX + TPM.key)) == 30


async def test_redis_sends_a_charge_held_alone_after_a_moment_and_at_close(
    in_redis: tuple[RedisCounters, aioredis.Redis],
) -> None:
    counters, client = in_redis
    await counters.charge(TPM, 7)
    await counters.charge(TPM, 3)
    assert await client.get(REDIS_PREFIX + TPM.key) is None
    await asyncio.sleep(CHARGE_DELAY * 4)
    assert int(await client.get(REDIS_PREFIX + TPM.key)) == 10
    await counters.charge(TPM, 5)
    await counters.close()  # what is held is sent before the connection closes
    assert int(await client.get(REDIS_PREFIX + TPM.key)) == 15
