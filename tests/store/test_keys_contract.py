"""The client key API of the store (``put_key``, ``get_key``, ``list_keys``, ``revoke_key``),
run against every backend on real servers, like ``test_contract.py``."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable

import pytest

from wirebridge.config.model import StoreConfig
from wirebridge.store import KeyRecord, ResponseStore, open_store

OpenAgain = Callable[[], Awaitable[ResponseStore]]


def key(id: str = "k1", created_at: int = 1_700_000_000, **fields: object) -> KeyRecord:
    return dataclasses.replace(
        KeyRecord(id=id, key_hash=f"hash-of-{id}", created_at=created_at), **fields
    )


async def test_put_then_get_keeps_every_field(store: ResponseStore) -> None:
    full = key(
        "kFull",
        name="ci runner",
        models=("gpt-5.5", "fake-*"),
        rpm=3,
        rpd=1000,
        tpm=0,
    )
    await store.put_key(full)
    assert await store.get_key("kFull") == full


async def test_defaults_survive_a_round_trip(store: ResponseStore) -> None:
    bare = key("kBare")
    await store.put_key(bare)
    got = await store.get_key("kBare")
    assert got == bare
    assert got is not None
    assert got.models is None and got.name is None and got.revoked_at is None
    assert (got.rpm, got.rpd, got.tpm) == (None, None, None)


async def test_an_empty_model_list_is_not_every_model(store: ResponseStore) -> None:
    await store.put_key(key("kNone", models=()))
    got = await store.get_key("kNone")
    assert got is not None and got.models == ()


async def test_unknown_key_is_none(store: ResponseStore) -> None:
    assert await store.get_key("nope") is None
    await store.put_key(key("k1"))
    assert await store.get_key("K1") is None  # ids are case-sensitive


async def test_put_replaces_the_key_with_its_id(store: ResponseStore) -> None:
    await store.put_key(key("k1", name="old", rpm=1))
    await store.put_key(key("k1", name="new", rpm=None, models=("m",)))
    assert await store.get_key("k1") == key("k1", name="new", models=("m",))
    assert [k.id for k in await store.list_keys()] == ["k1"]


async def test_list_is_oldest_first_then_by_id_and_includes_revoked(
    store: ResponseStore,
) -> None:
    assert await store.list_keys() == []
    await store.put_key(key("kc", created_at=300))
    await store.put_key(key("kb", created_at=100))
    await store.put_key(key("ka", created_at=300))
    await store.put_key(key("kd", created_at=200, revoked_at=250))
    assert [k.id for k in await store.list_keys()] == ["kb", "kd", "ka", "kc"]
    assert (await store.list_keys())[1].revoked_at == 250


async def test_revoke_marks_the_key_once(store: ResponseStore) -> None:
    await store.put_key(key("k1"))
    assert await store.revoke_key("k1", at=1_800_000_000) is True
    got = await store.get_key("k1")
    assert got is not None and got.revoked_at == 1_800_000_000
    # A second revocation keeps the first time, and still reports the key exists.
    assert await store.revoke_key("k1", at=1_900_000_000) is True
    got = await store.get_key("k1")
    assert got is not None and got.revoked_at == 1_800_000_000


async def test_revoke_defaults_to_now(store: ResponseStore) -> None:
    import time

    await store.put_key(key("k1"))
    before = int(time.time())
    assert await store.revoke_key("k1")
    got = await store.get_key("k1")
    assert got is not None and got.revoked_at is not None
    assert before <= got.revoked_at <= int(time.time()) + 1


async def test_revoke_unknown_key_is_false_and_creates_nothing(store: ResponseStore) -> None:
    assert await store.revoke_key("ghost", at=5) is False
    assert await store.get_key("ghost") is None
    assert await store.list_keys() == []


async def test_keys_are_shared_by_instances(store: ResponseStore, open_again: OpenAgain) -> None:
    other = await open_again()
    await store.put_key(key("k1", models=("a",)))
    assert await other.get_key("k1") == key("k1", models=("a",))
    assert await other.revoke_key("k1", at=7)
    got = await store.get_key("k1")
    assert got is not None and got.revoked_at == 7


async def test_keys_do_not_touch_responses(store: ResponseStore) -> None:
    await store.put_key(key("k1"))
    assert await store.get("k1", "") is None
    assert await store.gc(2**40) == 0
    assert await store.get_key("k1") is not None


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_sqlite_keys_survive_reopening(store_config: StoreConfig) -> None:
    first = await open_store(store_config)
    try:
        await first.put_key(key("k1", name="kept"))
    finally:
        await first.close()
    second = await open_store(store_config)
    try:
        assert await second.get_key("k1") == key("k1", name="kept")
    finally:
        await second.close()
