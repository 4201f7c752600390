"""The response store contract, run against every backend on real servers.

Every test takes ``store`` (see ``conftest.py``), which is parametrized over memory, SQLite,
PostgreSQL and Redis with a fresh database each time, so a behaviour is specified once and
holds everywhere. Tests about one backend's own machinery (files, schema table, key names)
come last.
"""

from __future__ import annotations

import asyncio
import os
import stat
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest
import redis.asyncio as aioredis

from tests.support.redis_db import empty_db
from wirebridge.config.model import StoreConfig
from wirebridge.store import (
    RECOVER_GRACE,
    RECOVERED_ERROR,
    ItemPage,
    ResponseStore,
    StoredResponse,
    StoreError,
    open_store,
)
from wirebridge.store.migrations import migrations

OpenAgain = Callable[[], Awaitable[ResponseStore]]

ALICE, BOB = "owner-alice", "owner-bob"
_KEEP = object()


def msg(id: str, text: str, role: str = "user") -> dict[str, Any]:
    kind = "input_text" if role == "user" else "output_text"
    return {"id": id, "type": "message", "role": role, "content": [{"type": kind, "text": text}]}


def rec(
    id: str,
    *,
    owner: str = ALICE,
    prev: str | None = None,
    items: list[dict[str, Any]] | None = None,
    output: list[dict[str, Any]] | None = None,
    status: str = "completed",
    created_at: int | None = None,
    expires_at: Any = _KEEP,
) -> StoredResponse:
    now = int(time.time())
    return StoredResponse(
        id=id,
        owner=owner,
        response={
            "id": id,
            "object": "response",
            "status": status,
            "output": [msg(f"out_{id}", f"answer {id}", "assistant")] if output is None else output,
        },
        input_items=[msg(f"in_{id}", f"question {id}")] if items is None else items,
        previous_response_id=prev,
        created_at=now if created_at is None else created_at,
        expires_at=now + 3600 if expires_at is _KEEP else expires_at,
    )


def ids(items: list[dict[str, Any]] | None) -> list[str]:
    assert items is not None
    return [item["id"] for item in items]


# -- put / get / replace / delete --------------------------------------------------------------


async def test_put_then_get_returns_the_record(store: ResponseStore) -> None:
    r = rec("resp_1", prev=None)
    r.response["text"] = {"format": {"type": "text"}}
    r.response["usage"] = {"input_tokens": 3, "output_tokens": 2}
    r.response["note"] = "NUL \u0000, emoji \U0001f600, quote \" and 'é'"
    await store.put(r)
    assert await store.get("resp_1", ALICE) == r


async def test_get_missing_is_none(store: ResponseStore) -> None:
    assert await store.get("resp_nope", ALICE) is None


async def test_put_replaces_response_and_items(store: ResponseStore) -> None:
    await store.put(rec("resp_1", status="queued", items=[msg("a", "1"), msg("b", "2")]))
    newer = rec("resp_1", status="completed", items=[msg("c", "3")], expires_at=None)
    await store.put(newer)
    assert await store.get("resp_1", ALICE) == newer
    page = await store.input_items("resp_1", ALICE)
    assert page is not None and ids(page.data) == ["c"]


async def test_put_replaces_items_whatever_their_count(store: ResponseStore) -> None:
    # PostgreSQL upserts items by position and deletes the tail: more, none, then fewer again.
    for items in (["a", "b", "c"], [], ["d", "e"], ["f", "g", "h", "i"], ["j"]):
        await store.put(rec("resp_1", items=[msg(i, i) for i in items]))
        page = await store.input_items("resp_1", ALICE, order="asc")
        assert page is not None and ids(page.data) == items
        got = await store.get("resp_1", ALICE)
        assert got is not None and ids(got.input_items) == items
        history = await store.history("resp_1", ALICE)
        assert history is not None and ids(history)[: len(items)] == items


async def test_never_expiring_record(store: ResponseStore) -> None:
    await store.put(rec("resp_1", expires_at=None))
    got = await store.get("resp_1", ALICE)
    assert got is not None and got.expires_at is None
    assert await store.gc(time.time() + 10 * 365 * 86400) == 0


async def test_owner_isolation(store: ResponseStore) -> None:
    await store.put(rec("resp_a", owner=ALICE))
    await store.put(rec("resp_anon", owner=""))
    assert await store.get("resp_a", BOB) is None
    assert await store.get("resp_a", "") is None
    assert await store.get("resp_anon", ALICE) is None
    assert (await store.get("resp_anon", "")) is not None
    assert await store.input_items("resp_a", BOB) is None
    assert await store.history("resp_a", BOB) is None
    assert await store.delete("resp_a", BOB) is False
    assert await store.get("resp_a", ALICE) is not None  # the failed delete left it alone


async def test_delete(store: ResponseStore) -> None:
    await store.put(rec("resp_1"))
    await store.append_events("resp_1", [(1, {"type": "response.created"})])
    assert await store.delete("resp_1", ALICE) is True
    assert await store.get("resp_1", ALICE) is None
    assert await store.input_items("resp_1", ALICE) is None
    assert await store.events("resp_1", 0 - 1) == []
    assert await store.delete("resp_1", ALICE) is False


# -- expiry ------------------------------------------------------------------------------------


async def test_expired_records_are_invisible(store: ResponseStore) -> None:
    await store.put(rec("resp_old", expires_at=int(time.time()) - 5))
    assert await store.get("resp_old", ALICE) is None
    assert await store.input_items("resp_old", ALICE) is None
    assert await store.history("resp_old", ALICE) is None
    assert await store.delete("resp_old", ALICE) is False


async def test_gc_deletes_expired_records_and_their_events(store: ResponseStore) -> None:
    now = int(time.time())
    await store.put(rec("resp_past", expires_at=now - 5))
    await store.put(rec("resp_soon", expires_at=now + 1000))
    await store.put(rec("resp_never", expires_at=None))
    await store.append_events("resp_soon", [(1, {"type": "response.created"})])

    assert await store.gc(now) == 1
    assert await store.gc(now) == 0
    assert await store.get("resp_soon", ALICE) is not None

    assert await store.gc(now + 1000) == 1  # expires_at <= now counts as expired
    assert await store.get("resp_soon", ALICE) is None
    assert await store.events("resp_soon", -1) == []
    assert await store.get("resp_never", ALICE) is not None


# -- input_items -------------------------------------------------------------------------------

SEVEN = [msg(f"i{n}", f"item {n}") for n in range(7)]


async def page(
    store: ResponseStore, **kwargs: Any
) -> tuple[list[str], str | None, str | None, bool]:
    got = await store.input_items("resp_p", ALICE, **kwargs)
    assert isinstance(got, ItemPage)
    return ids(got.data), got.first_id, got.last_id, got.has_more


async def test_input_items_default_is_newest_first(store: ResponseStore) -> None:
    await store.put(rec("resp_p", items=SEVEN))
    all_desc = ["i6", "i5", "i4", "i3", "i2", "i1", "i0"]
    assert await page(store) == (all_desc, "i6", "i0", False)
    assert await page(store, limit=100, order="asc") == (all_desc[::-1], "i0", "i6", False)
    got = await store.input_items("resp_p", ALICE, limit=1)
    assert got is not None and got.data == [SEVEN[6]]  # whole items, not just ids


async def test_input_items_pages_forward(store: ResponseStore) -> None:
    await store.put(rec("resp_p", items=SEVEN))
    assert await page(store, limit=3, order="asc") == (["i0", "i1", "i2"], "i0", "i2", True)
    assert await page(store, limit=3, order="asc", after="i2") == (
        ["i3", "i4", "i5"],
        "i3",
        "i5",
        True,
    )
    assert await page(store, limit=3, order="asc", after="i5") == (["i6"], "i6", "i6", False)
    assert await page(store, limit=3, order="asc", after="i6") == ([], None, None, False)
    assert await page(store, limit=3, after="i4") == (["i3", "i2", "i1"], "i3", "i1", True)
    assert await page(store, limit=3, after="i1") == (["i0"], "i0", "i0", False)


async def test_input_items_before_gives_the_previous_page(store: ResponseStore) -> None:
    await store.put(rec("resp_p", items=SEVEN))
    assert await page(store, limit=2, order="asc", before="i5") == (["i3", "i4"], "i3", "i4", True)
    assert await page(store, limit=2, order="asc", before="i1") == (["i0"], "i0", "i0", False)
    assert await page(store, limit=2, before="i2") == (["i4", "i3"], "i4", "i3", True)
    assert await page(store, limit=9, before="i4") == (["i6", "i5"], "i6", "i5", False)


async def test_input_items_between_two_cursors(store: ResponseStore) -> None:
    await store.put(rec("resp_p", items=SEVEN))
    assert await page(store, order="asc", after="i1", before="i5") == (
        ["i2", "i3", "i4"],
        "i2",
        "i4",
        False,
    )
    assert await page(store, limit=2, order="asc", after="i1", before="i5") == (
        ["i2", "i3"],
        "i2",
        "i3",
        True,
    )
    assert await page(store, after="i5", before="i1") == (["i4", "i3", "i2"], "i4", "i2", False)


async def test_input_items_unknown_cursor_and_empty_input(store: ResponseStore) -> None:
    await store.put(rec("resp_p", items=SEVEN))
    assert await page(store, after="nope") == ([], None, None, False)
    assert await page(store, before="nope") == ([], None, None, False)
    await store.put(rec("resp_p", items=[]))
    assert await page(store) == ([], None, None, False)


# -- history -----------------------------------------------------------------------------------


async def test_history_follows_its_own_branch(store: ResponseStore) -> None:
    await store.put(rec("r1"))
    await store.put(rec("r2a", prev="r1"))
    await store.put(rec("r2b", prev="r1", items=[msg("x1", "x"), msg("x2", "y")]))
    await store.put(rec("r3a", prev="r2a"))

    assert ids(await store.history("r1", ALICE)) == ["in_r1", "out_r1"]
    assert ids(await store.history("r3a", ALICE)) == [
        *("in_r1", "out_r1"),
        *("in_r2a", "out_r2a"),
        *("in_r3a", "out_r3a"),
    ]
    assert ids(await store.history("r2b", ALICE)) == ["in_r1", "out_r1", "x1", "x2", "out_r2b"]


async def test_history_items_are_whole(store: ResponseStore) -> None:
    output = [
        {"id": "rs_1", "type": "reasoning", "summary": [], "encrypted_content": "blob"},
        {"id": "fc_1", "type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
    ]
    await store.put(rec("r1", output=output))
    await store.put(
        rec("r2", prev="r1", items=[{"type": "function_call_output", "call_id": "c1", "id": "o"}])
    )
    history = await store.history("r2", ALICE)
    assert history == [
        msg("in_r1", "question r1"),
        *output,
        {"type": "function_call_output", "call_id": "c1", "id": "o"},
        msg("out_r2", "answer r2", "assistant"),
    ]


async def test_history_with_a_broken_link_is_none(store: ResponseStore) -> None:
    now = int(time.time())
    await store.put(rec("r2", prev="r_missing"))
    assert await store.history("r2", ALICE) is None

    await store.put(rec("old", expires_at=now - 1))
    await store.put(rec("after_old", prev="old"))
    assert await store.history("after_old", ALICE) is None

    await store.put(rec("bobs", owner=BOB))
    await store.put(rec("after_bobs", prev="bobs"))
    assert await store.history("after_bobs", ALICE) is None
    assert await store.history("nothing", ALICE) is None


async def test_history_of_a_cycle_is_none(store: ResponseStore) -> None:
    await store.put(rec("a", prev="b"))
    await store.put(rec("b", prev="a"))
    assert await store.history("a", ALICE) is None


async def test_history_of_200_turns(store: ResponseStore) -> None:
    prev = None
    for n in range(200):
        turn = rec(f"t{n}", prev=prev, items=[msg(f"u{n}a", "a"), msg(f"u{n}b", "b")])
        await store.put(turn)
        prev = turn.id
    started = time.perf_counter()
    history = await store.history("t199", ALICE)
    elapsed = time.perf_counter() - started
    assert history is not None and len(history) == 600
    assert ids(history[:6]) == ["u0a", "u0b", "out_t0", "u1a", "u1b", "out_t1"]
    assert ids(history[-3:]) == ["u199a", "u199b", "out_t199"]
    assert elapsed < 1.0, f"history of 200 turns took {elapsed:.3f}s"


# -- background mode ---------------------------------------------------------------------------


async def test_events_in_order_after_a_sequence_number(store: ResponseStore) -> None:
    await store.put(rec("resp_bg", status="in_progress"))
    for seq in (3, 1, 0, 2, 5, 4):
        await store.append_events("resp_bg", [(seq, {"type": "delta", "sequence_number": seq})])
    got = await store.events("resp_bg", -1)
    assert [e["sequence_number"] for e in got] == [0, 1, 2, 3, 4, 5]
    assert [e["sequence_number"] for e in await store.events("resp_bg", 3)] == [4, 5]
    assert await store.events("resp_bg", 5) == []

    await store.append_events("resp_bg", [(4, {"type": "replaced", "sequence_number": 4})])
    assert [e["type"] for e in await store.events("resp_bg", 3)] == ["replaced", "delta"]
    same = {"type": "same"}
    await store.append_events("resp_bg", [(6, same)])
    await store.append_events("resp_bg", [(7, same)])  # equal payloads are distinct events
    assert await store.events("resp_bg", 5) == [same, same]


async def test_events_appended_as_a_batch(store: ResponseStore) -> None:
    await store.put(rec("resp_bg", status="in_progress"))
    await store.append_events("resp_bg", [])  # nothing to write: no error
    batch = [(seq, {"type": "delta", "n": seq}) for seq in range(5)]
    await store.append_events("resp_bg", [*batch, (2, {"type": "later"})])  # the later wins
    await store.append_events("resp_bg", [(5, {"type": "next"}), (6, {"type": "next"})])
    got = await store.events("resp_bg", -1)
    assert [e["type"] for e in got] == ["delta", "delta", "later", "delta", "delta", "next", "next"]
    assert [e.get("n") for e in got[:5]] == [0, 1, None, 3, 4]
    await store.append_events("resp_gone", batch)
    assert await store.events("resp_gone", -1) == []


async def test_events_of_an_unknown_response_are_dropped(store: ResponseStore) -> None:
    await store.append_events("resp_gone", [(0, {"type": "response.created"})])
    assert await store.events("resp_gone", -1) == []


async def test_replacing_keeps_events_lease_and_cancel_flag(store: ResponseStore) -> None:
    now = time.time()
    await store.put(rec("resp_bg", status="queued"))
    await store.append_events("resp_bg", [(0, {"type": "response.queued"})])
    await store.set_lease("resp_bg", "instance-a", now + 30)
    await store.request_cancel("resp_bg")
    await store.put(rec("resp_bg", status="in_progress"))
    assert await store.events("resp_bg", -1) == [{"type": "response.queued"}]
    assert await store.cancel_requested("resp_bg") is True
    assert await store.recover(now) == []  # the lease survived the replace


async def test_recover_fails_orphaned_responses(store: ResponseStore) -> None:
    now = time.time()
    old = int(now) - int(RECOVER_GRACE) - 60
    await store.put(rec("leased", status="in_progress", created_at=old))
    await store.set_lease("leased", "instance-a", now + 30)
    await store.put(rec("no_lease_old", status="queued", created_at=old))
    await store.put(rec("no_lease_new", status="in_progress"))
    await store.put(rec("lapsed", status="in_progress"))
    await store.set_lease("lapsed", "instance-b", now - 1)
    await store.put(rec("done", status="completed", created_at=old))
    await store.set_lease("done", "instance-c", now - 1)
    await store.set_lease("missing", "instance-d", now - 1)  # no such response: a no-op

    assert sorted(await store.recover(now)) == ["lapsed", "no_lease_old"]
    for id in ("lapsed", "no_lease_old"):
        got = await store.get(id, ALICE)
        assert got is not None
        assert got.response["status"] == "failed"
        assert got.response["error"] == RECOVERED_ERROR
        assert got.response["output"] == rec(id).response["output"]  # the rest is kept
    assert await store.recover(now) == []
    assert await store.recover(now + 31) == ["leased"]
    done = await store.get("done", ALICE)
    assert done is not None and done.response["status"] == "completed"


async def test_a_renewed_lease_is_not_recovered(store: ResponseStore) -> None:
    now = time.time()
    await store.put(rec("bg", status="in_progress"))
    await store.set_lease("bg", "instance-a", now - 1)
    await store.set_lease("bg", "instance-a", now + 30)
    assert await store.recover(now) == []


async def test_cancel_flag(store: ResponseStore, open_again: OpenAgain) -> None:
    await store.put(rec("bg", status="in_progress"))
    assert await store.cancel_requested("bg") is False
    other = await open_again()  # another gateway instance asks for the cancel
    await other.request_cancel("bg")
    assert await store.cancel_requested("bg") is True
    await store.request_cancel("missing")
    assert await store.cancel_requested("missing") is False


async def test_a_second_instance_sees_a_put_at_once(
    store: ResponseStore, open_again: OpenAgain
) -> None:
    other = await open_again()
    await store.put(rec("resp_1"))
    assert await other.get("resp_1", ALICE) == await store.get("resp_1", ALICE)


# -- concurrency, health -----------------------------------------------------------------------


async def test_200_concurrent_operations(store: ResponseStore) -> None:
    prev = None
    for n in range(10):
        await store.put(rec(f"c{n}", prev=prev))
        prev = f"c{n}"

    async def one(n: int) -> object:
        match n % 4:
            case 0:
                await store.put(rec(f"new{n}", prev="c9"))
                return await store.get(f"new{n}", ALICE)
            case 1:
                return await store.get(f"c{n % 10}", ALICE)
            case 2:
                return await store.history("c9", ALICE)
            case _:
                await store.append_events("c9", [(n, {"n": n})])
                return await store.input_items("c5", ALICE, limit=1)

    results = await asyncio.wait_for(asyncio.gather(*(one(n) for n in range(200))), 30)
    assert all(result is not None for result in results)
    assert all(len(r) == 20 for r in results[2::4])  # type: ignore[arg-type]
    assert len(await store.events("c9", -1)) == 50
    history = await store.history("new196", ALICE)
    assert history is not None and len(history) == 22


async def test_puts_made_at_once_are_each_written_whole(store: ResponseStore) -> None:
    # Redis and PostgreSQL send the puts of one loop turn together, SQLite commits them as one
    # group: each must still land as if written alone, its own items, status and expiry.
    soon = int(time.time()) + 600
    puts = [
        rec("b0", items=[msg("i0a", "a"), msg("i0b", "b")], status="in_progress", expires_at=soon),
        rec("b1", items=[], expires_at=None),
        rec("b2", prev="b1", items=[msg("i2", "c")]),
    ]
    await asyncio.gather(*(store.put(r) for r in puts))
    for put in puts:
        got = await store.get(put.id, ALICE)
        assert got is not None
        assert got.response == put.response and got.input_items == put.input_items
        assert (got.expires_at, got.previous_response_id) == (
            put.expires_at,
            put.previous_response_id,
        )
    assert [ids(await store.history(id, ALICE)) for id in ("b0", "b2")] == [
        ["i0a", "i0b", "out_b0"],
        ["out_b1", "i2", "out_b2"],
    ]


async def test_two_instances_write_at_once(store: ResponseStore, open_again: OpenAgain) -> None:
    other = await open_again()
    writes = [(store if n % 2 else other).put(rec(f"w{n}")) for n in range(100)]
    await asyncio.wait_for(asyncio.gather(*writes), 30)
    got = await asyncio.gather(*(other.get(f"w{n}", ALICE) for n in range(100)))
    assert all(r is not None for r in got)


async def test_two_instances_recover_each_response_once(
    store: ResponseStore, open_again: OpenAgain
) -> None:
    other = await open_again()
    old = int(time.time()) - int(RECOVER_GRACE) - 60
    for n in range(20):
        await store.put(rec(f"orphan{n}", status="in_progress", created_at=old))
    now = time.time()
    first, second = await asyncio.gather(store.recover(now), other.recover(now))
    assert sorted(first + second) == sorted(f"orphan{n}" for n in range(20))


async def test_ping(store: ResponseStore) -> None:
    await store.ping()


async def test_ids_with_a_nul_character_name_nothing_and_stay_whole_in_items(
    store: ResponseStore,
) -> None:
    # PostgreSQL's text holds no NUL: sent as it was, it refused the statement, and a client's
    # odd id in a path or a body made the store look down (503) instead of "not found".
    odd = msg("in\x00odd", "an item id with a NUL character")
    await store.put(rec("resp_1", items=[odd, msg("in_2", "plain")]))
    got = await store.get("resp_1", ALICE)
    assert got is not None and got.input_items[0] == odd
    assert await store.get("resp_1\x00", ALICE) is None
    assert await store.history("resp_1\x00", ALICE) is None
    assert await store.input_items("resp_1\x00", ALICE) is None
    assert await store.delete("resp_1\x00", ALICE) is False
    page = await store.input_items("resp_1", ALICE, after="no\x00such", order="asc")
    assert page is not None and page.data == []
    page = await store.input_items("resp_1", ALICE, after="in_2", order="desc")
    assert page is not None and ids(page.data) == ["in\x00odd"]


async def test_unserialisable_data_is_refused_before_anything_is_written(
    store: ResponseStore,
) -> None:
    bad = rec("resp_bad")
    bad.input_items[0]["_provider"] = object()
    with pytest.raises(TypeError):
        await store.put(bad)
    assert await store.get("resp_bad", ALICE) is None


# -- one backend's machinery -------------------------------------------------------------------


async def test_sqlite_file_is_private_and_survives_reopen(tmp_path: Path) -> None:
    cfg = StoreConfig(backend="sqlite", path=tmp_path / "new-dir" / "store.db")
    first = await open_store(cfg)
    await first.put(rec("resp_1"))
    await first.close()
    assert stat.S_IMODE(os.stat(tmp_path / "new-dir").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(tmp_path / "new-dir" / "store.db").st_mode) == 0o600
    second = await open_store(cfg)  # migrations already applied: a no-op
    try:
        assert await second.get("resp_1", ALICE) is not None
    finally:
        await second.close()
    with pytest.raises(StoreError, match="closed"):
        await second.get("resp_1", ALICE)


async def test_sqlite_default_path_is_in_the_state_dir(tmp_path: Path) -> None:
    store = await open_store(StoreConfig(), env={"WIREBRIDGE_HOME": str(tmp_path / "home")})
    try:
        await store.ping()
    finally:
        await store.close()
    assert (tmp_path / "home" / "wirebridge.db").exists()


async def test_sqlite_refuses_a_newer_schema(tmp_path: Path) -> None:
    cfg = StoreConfig(backend="sqlite", path=tmp_path / "store.db")
    await (await open_store(cfg)).close()
    import sqlite3

    with sqlite3.connect(tmp_path / "store.db") as conn:
        conn.execute("INSERT INTO wirebridge_schema VALUES (999, 'future', 0)")
    with pytest.raises(StoreError, match="newer than this wirebridge"):
        await open_store(cfg)


async def test_postgres_records_its_schema_version(postgres_dsn: str) -> None:
    conn = await asyncpg.connect(postgres_dsn)
    try:
        await conn.execute("CREATE SCHEMA versions_test")
        cfg = StoreConfig(backend="postgres", url=f"{postgres_dsn}?search_path=versions_test")
        stores = await asyncio.gather(*(open_store(cfg) for _ in range(3)))  # race to migrate
        for s in stores:
            await s.close()
        rows = await conn.fetch("SELECT version, name FROM versions_test.wirebridge_schema")
        assert [tuple(r) for r in rows] == [(m.version, m.name) for m in migrations("postgres")]
    finally:
        await conn.execute("DROP SCHEMA versions_test CASCADE")
        await conn.close()


@pytest.fixture
async def in_redis(redis_url: str) -> AsyncIterator[tuple[ResponseStore, aioredis.Redis]]:
    """A Redis store on an empty database, and a client of the test's own to look inside."""
    async with empty_db(redis_url, 4) as (url, client):
        store = await open_store(StoreConfig(backend="redis", url=url))
        try:
            yield store, client
        finally:
            await store.close()


async def test_redis_keys_are_namespaced(in_redis: tuple[ResponseStore, aioredis.Redis]) -> None:
    store, client = in_redis
    await store.put(rec("resp_1", status="in_progress"))
    await store.append_events("resp_1", [(0, {"type": "x"})])
    keys = sorted(k.decode() for k in await client.keys("*"))
    assert keys == [
        "wirebridge:active",
        "wirebridge:events:resp_1",
        "wirebridge:expiry",
        "wirebridge:resp:resp_1",
    ]


async def test_redis_put_keeps_expiry_and_active_set_in_step(
    in_redis: tuple[ResponseStore, aioredis.Redis],
) -> None:
    # ``put`` is one Lua script: the TTLs, the expiry index and the active set must follow
    # every re-put of the same response, as the MULTI it replaced did.
    store, client = in_redis
    resp, events = "wirebridge:resp:resp_1", "wirebridge:events:resp_1"
    expiry, active = "wirebridge:expiry", "wirebridge:active"
    soon = int(time.time()) + 3600
    await store.put(rec("resp_1", status="in_progress", expires_at=soon))
    await store.append_events("resp_1", [(0, {"type": "x"})])
    assert await client.expiretime(resp) == soon
    assert await client.expiretime(events) == soon
    assert await client.zscore(expiry, "resp_1") == soon
    assert await client.smembers(active) == {b"resp_1"}

    await store.put(rec("resp_1", status="completed", expires_at=None))
    assert await client.ttl(resp) == -1
    assert await client.ttl(events) == -1
    assert await client.zscore(expiry, "resp_1") is None
    assert await client.smembers(active) == set()
    got = await client.hgetall(resp)
    assert got[b"status"] == b"completed"
    assert got[b"expires"] == b""
    assert got[b"prev"] == b""
    assert orjson.loads(got[b"items"]) == rec("resp_1").input_items


async def test_redis_puts_made_at_once_go_as_one_script(
    in_redis: tuple[ResponseStore, aioredis.Redis],
) -> None:
    store, client = in_redis
    soon = int(time.time()) + 3600
    await store.put(rec("resp_0"))  # the script loaded: later puts are EVALSHA alone
    await client.config_resetstat()
    await asyncio.gather(
        store.put(rec("resp_1", status="in_progress", expires_at=soon)),
        store.put(rec("resp_2", expires_at=None)),
        store.put(rec("resp_3", status="queued", expires_at=soon)),
    )
    stats = await client.info("commandstats")
    assert stats["cmdstat_evalsha"]["calls"] == 1
    assert stats["cmdstat_hset"]["calls"] == 3
    # Each put's own bookkeeping, as three scripts would have left it.
    assert await client.smembers("wirebridge:active") == {b"resp_1", b"resp_3"}
    assert await client.zscore("wirebridge:expiry", "resp_2") is None
    assert await client.zscore("wirebridge:expiry", "resp_3") == soon
    assert await client.ttl("wirebridge:resp:resp_2") == -1
    assert await client.expiretime("wirebridge:resp:resp_1") == soon


async def test_a_put_postgres_refuses_fails_alone_among_puts_made_at_once(
    postgres_dsn: str,
) -> None:
    # The puts of one loop turn go in one transaction, which one refused row takes down (here
    # a constraint the database was given; a trigger or a full disk could do the same): the
    # others must then be written one by one.
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(postgres_dsn)
    await admin.execute(f"CREATE SCHEMA {schema}")
    store = await open_store(
        StoreConfig(backend="postgres", url=f"{postgres_dsn}?search_path={schema}")
    )
    try:
        await admin.execute(
            f"ALTER TABLE {schema}.responses ADD CONSTRAINT refuse CHECK (id <> 'resp_bad')"
        )
        results = await asyncio.gather(
            store.put(rec("resp_1")),
            store.put(rec("resp_bad")),
            store.put(rec("resp_2")),
            return_exceptions=True,
        )
        assert results[0] is None and results[2] is None
        assert isinstance(results[1], StoreError)
        assert await store.get("resp_bad", ALICE) is None
        for id in ("resp_1", "resp_2"):
            got = await store.get(id, ALICE)
            assert got is not None and ids(got.input_items) == [f"in_{id}"]
    finally:
        await store.close()
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()


async def test_postgres_connections_go_back_to_the_pool_without_a_reset_query(
    postgres_dsn: str,
) -> None:
    # asyncpg's default reset cost a second round trip after every query made through the
    # pool (ab.py, PostgreSQL store, store: true: 1.264 without it). What each of the store's
    # connections ran last, as the server saw it, must be the store's own statement.
    schema, app = f"t_{uuid.uuid4().hex[:16]}", f"wb_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres_dsn)
    await admin.execute(f"CREATE SCHEMA {schema}")
    url = f"{postgres_dsn}?search_path={schema}&application_name={app}"
    store = await open_store(StoreConfig(backend="postgres", url=url))
    try:
        await store.put(rec("resp_1"))
        got = await store.get("resp_1", ALICE)
        assert got is not None and ids(got.input_items) == ["in_resp_1"]
        await store.put(rec("resp_2"))
        rows = await admin.fetch(
            "SELECT query FROM pg_stat_activity WHERE application_name = $1", app
        )
        last = [row["query"] for row in rows]
        # The put's statement (pg_stat_activity keeps only its first kilobyte or so).
        assert last and any(q.lstrip().startswith("WITH response AS") for q in last), last
        assert not any("RESET ALL" in q or "UNLISTEN" in q for q in last), last
    finally:
        await store.close()
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()


@pytest.mark.parametrize(
    "cfg",
    [
        StoreConfig(backend="postgres", url="postgresql://u:secret@127.0.0.1:1/db"),
        StoreConfig(backend="redis", url="redis://:secret@127.0.0.1:1/0"),
    ],
    ids=["postgres", "redis"],
)
async def test_an_unreachable_server_is_a_store_error(cfg: StoreConfig) -> None:
    started = time.perf_counter()
    with pytest.raises(StoreError) as caught:
        await open_store(cfg)
    assert "secret" not in str(caught.value)
    assert str(caught.value).startswith(f"{cfg.backend} store ")  # the detail, for logs
    assert caught.value.http_status == 503
    assert caught.value.message == "The response store is unavailable; try again later."
    assert time.perf_counter() - started < 15


def test_a_missing_server_binary_names_the_debian_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tests.support import servers

    monkeypatch.setattr(servers.shutil, "which", lambda name: None)
    monkeypatch.setattr(servers.glob, "glob", lambda pattern: [])
    monkeypatch.setattr(servers.os.path, "exists", lambda path: False)
    with pytest.raises(servers.ServerUnavailable, match="Debian package postgresql"):
        servers.start_postgres(tmp_path)
    with pytest.raises(servers.ServerUnavailable, match="Debian package redis-server"):
        servers.start_redis(tmp_path)
