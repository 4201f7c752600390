"""Managed keys (``auth/keys.py``) and static keys (``auth/static.py``) without a server, and the
auth middleware in process (aiohttp's test client over ``create_app``)."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from wirebridge.auth import keys
from wirebridge.auth.keys import Client, create_key, has_managed_keys, managed_client, verify
from wirebridge.auth.middleware import is_open
from wirebridge.auth.static import StaticKeys
from wirebridge.config.model import Config, RateLimits, ServerConfig, StoreConfig
from wirebridge.http.app import create_app
from wirebridge.store.memory import MemoryStore


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


async def test_create_returns_the_key_once_and_stores_only_its_hash(store: MemoryStore) -> None:
    plaintext, rec = await create_key(
        store, name="ci", models=["gpt-5.5"], rpm=3, rpd=None, tpm=0, now=1_700_000_000
    )
    assert plaintext.startswith("wb-") and len(plaintext) == 3 + 43
    assert rec.id == plaintext[3:15] and rec.id[0] not in "-_"
    assert rec.key_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    assert (rec.name, rec.models, rec.rpm, rec.rpd, rec.tpm) == ("ci", ("gpt-5.5",), 3, None, 0)
    assert rec.created_at == 1_700_000_000 and rec.revoked_at is None
    stored = await store.get_key(rec.id)
    assert stored == rec
    assert plaintext not in repr(stored) and plaintext[15:] not in repr(stored)


async def test_keys_are_unique(store: MemoryStore) -> None:
    made = {(await create_key(store))[0] for _ in range(50)}
    assert len(made) == 50
    assert len({k[3:15] for k in made}) == 50


async def test_verify(store: MemoryStore) -> None:
    plaintext, rec = await create_key(store, models=["a"])
    assert await verify(store, plaintext) == rec
    wrong_secret = plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B")
    assert await verify(store, wrong_secret) is None
    unknown_id = "wb-" + "Z" * 43
    assert await verify(store, unknown_id) is None
    for malformed in ("", "wb-", plaintext[:-1], plaintext + "x", "sk-" + plaintext[3:]):
        assert await verify(store, malformed) is None
    assert await store.revoke_key(rec.id)
    assert await verify(store, plaintext) is None


class CountingStore(MemoryStore):
    """The memory store, counting its key lookups."""

    def __init__(self) -> None:
        super().__init__()
        self.lookups = 0

    async def get_key(self, key_id: str) -> keys.KeyRecord | None:
        self.lookups += 1
        return await super().get_key(key_id)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_the_key_cache_reads_a_key_once_per_period() -> None:
    store, clock = CountingStore(), Clock()
    cache = keys.KeyCache(store, seconds=5.0, clock=clock)
    plaintext, rec = await create_key(store)
    store.lookups = 0  # creating looked the id up too
    for _ in range(3):
        assert await verify(cache, plaintext) == rec
    assert store.lookups == 1
    # A wrong secret with a known id is refused from the cache too, without a lookup.
    wrong = plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B")
    assert await verify(cache, wrong) is None and store.lookups == 1
    # Revoked elsewhere (the CLI, another instance): refused once the period is over.
    await store.revoke_key(rec.id)
    clock.now += 4.9
    assert await verify(cache, plaintext) == rec
    clock.now += 0.1
    assert await verify(cache, plaintext) is None
    assert store.lookups == 2


async def test_the_key_cache_keeps_no_misses_and_a_bounded_number_of_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store, clock = CountingStore(), Clock()
    cache = keys.KeyCache(store, clock=clock)
    made = [await create_key(store) for _ in range(3)]
    store.lookups = 0  # creating looked the ids up too
    unknown = "wb-" + made[0][0][3:15][::-1] + made[0][0][15:]
    assert await verify(cache, unknown) is None
    assert await verify(cache, unknown) is None
    assert store.lookups == 2  # an id nobody has is looked up again: a key made since works
    monkeypatch.setattr(keys, "CACHE_SIZE", 2)
    for plaintext, _ in made:
        await verify(cache, plaintext)
    assert store.lookups == 5
    await verify(cache, made[2][0])  # kept
    await verify(cache, made[1][0])  # kept
    await verify(cache, made[0][0])  # the oldest read went first: read again
    assert store.lookups == 6


async def test_has_managed_keys_counts_revoked_keys(store: MemoryStore) -> None:
    assert not await has_managed_keys(store)
    _, rec = await create_key(store)
    assert await has_managed_keys(store)
    await store.revoke_key(rec.id)
    assert await has_managed_keys(store)  # revoking the last key must not open the gateway


def test_managed_client_owns_by_the_key_id() -> None:
    rec = keys.KeyRecord(id="abc", key_hash="h", created_at=1, models=("m",), rpm=2, tpm=0)
    client = managed_client(rec)
    assert client.id == client.owner == "key:abc"
    assert client.limits == RateLimits(rpm=2, rpd=None, tpm=0)
    # A changed record (revoked, renamed, new limits) keeps the same owner tag.
    again = managed_client(dataclasses.replace(rec, name="x", rpm=None))
    assert again.owner == client.owner


def test_client_allows_models_by_pattern() -> None:
    assert Client(id="x").allows("anything")
    scoped = Client(id="x", models=("gpt-5*", "fake-model"))
    assert scoped.allows("gpt-5.5") and scoped.allows("fake-model")
    assert not scoped.allows("gpt-4o") and not scoped.allows("fake-model-2")
    assert not Client(id="x", models=()).allows("gpt-5.5")


def test_static_keys_match_any_configured_key() -> None:
    static = StaticKeys(["sk-one", "sk-two", "sk-three"])
    assert len(static) == 3 and static
    hit = static.match("sk-two")
    assert hit is not None and hit.id == "static:2" and hit.owner is None and hit.models is None
    assert static.match("sk-three") == Client(id="static:3")
    for miss in ("sk-tw", "sk-two ", "SK-TWO", ""):
        assert static.match(miss) is None
    assert not StaticKeys([]) and StaticKeys([]).match("") is None
    assert not StaticKeys([""])  # an empty entry is no key


def test_static_keys_keep_only_digests() -> None:
    static = StaticKeys(["sk-secret-value"])
    kept = [value for value in vars(static).values()]
    assert "sk-secret-value" not in repr(kept)
    assert static._digests == (hashlib.sha256(b"sk-secret-value").digest(),)


def test_open_routes() -> None:
    assert is_open("/health", False) and is_open("/ready", False)
    assert not is_open("/metrics", False) and not is_open("/metrics/prometheus", False)
    assert is_open("/metrics", True) and is_open("/metrics/prometheus", True)
    assert not is_open("/metricsx", True) and not is_open("/v1/models", True)


# -- the middleware in process ------------------------------------------------------------------


@pytest.fixture
async def client() -> AsyncIterator[TestClient]:
    config = Config(
        server=ServerConfig(api_keys=("sk-static",), secret_key="k" * 32),
        store=StoreConfig(backend="memory"),
    )
    async with TestClient(TestServer(create_app(config))) as test_client:
        yield test_client


async def test_middleware_with_a_static_key(client: TestClient) -> None:
    r = await client.get("/v1/models")
    assert r.status == 401
    body = await r.json()
    assert body["error"]["type"] == "authentication_error"
    assert "Authorization: Bearer" in body["error"]["message"]
    r = await client.get("/v1/models", headers={"Authorization": "Bearer sk-static"})
    assert r.status == 200
    r = await client.get("/v1/models", headers={"x-api-key": "sk-static"})
    assert r.status == 200
    r = await client.get("/v1/models", headers={"Authorization": "bearer sk-static"})
    assert r.status == 200
    r = await client.post("/anthropic/v1/messages", json={})
    assert r.status == 401
    assert (await r.json())["error"]["type"] == "authentication_error"
    assert (await client.get("/health")).status == 200


async def test_middleware_with_a_managed_key(client: TestClient) -> None:
    from wirebridge.http.keys import GATEWAY

    store = client.app[GATEWAY].state.store
    plaintext, _ = await create_key(store, models=["fake-*"])
    r = await client.get("/v1/models", headers={"Authorization": f"Bearer {plaintext}"})
    assert r.status == 200
    body = {"model": "gpt-5.5", "input": "hi"}
    r = await client.post("/v1/responses", json=body, headers={"x-api-key": plaintext})
    assert r.status == 403
    assert (await r.json())["error"]["code"] == "model_not_allowed"
    # Not JSON: the handler's 400, not the middleware's business.
    r = await client.post("/v1/responses", data=b"{", headers={"x-api-key": plaintext})
    assert r.status == 400
