"""Several gateway processes over one store: durability and sharing of stored responses.

* Two gateways on one PostgreSQL, then one Redis: a response made through one is retrieved,
  listed, continued and deleted through the other; a reasoning blob sealed by one opens on the
  other (both configs set the same ``server.secret_key``).
* A gateway SIGKILLed mid-stream: the survivor serves every response finished before, and the
  response in flight is absent (a response is written only once finished), never "completed".
* 200 chained turns (20 conversations x 10 turns) driven concurrently through two gateways
  sharing one SQLite file, turns alternating between them: nothing lost, every conversation
  complete upstream, all within a time bound.

Each gateway has its own ``WIREBRIDGE_HOME``; the store and the sealing key are what they share.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.support.fake_chat import FakeChat, Reply
from tests.support.gateway import Gateway
from tests.support.servers import running, start_postgres, start_redis

MODEL = "fake-model"
SECRET = "shared-sealing-secret-for-tests"
CLIENT_KEY = "sk-client"

StartGateway = Callable[..., Gateway]


@pytest.fixture(scope="module")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from running(start_postgres, tmp_path_factory.mktemp("postgres"))


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from running(start_redis, tmp_path_factory.mktemp("redis"))


@pytest.fixture
def shared_store(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """The ``store:`` config section every gateway of the test shares."""
    backend: str = request.param
    if backend == "postgres":
        return {"backend": "postgres", "url": request.getfixturevalue("postgres_url")}
    if backend == "redis":
        return {"backend": "redis", "url": request.getfixturevalue("redis_url")}
    return {"backend": "sqlite", "path": str(tmp_path / "shared" / "wirebridge.db")}


def _pair(
    start_gateway: StartGateway, gateway_config: Callable[..., dict[str, Any]], store: dict
) -> tuple[Gateway, Gateway]:
    def config() -> dict[str, Any]:
        cfg = gateway_config(secret_key=SECRET)
        cfg["store"] = dict(store)
        return cfg

    one, two = start_gateway(config()), start_gateway(config())
    assert one.home != two.home
    return one, two


def _client(gw: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url("/v1"), api_key=CLIENT_KEY, max_retries=0, timeout=30)


def _async_client(gw: Gateway) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=gw.url("/v1"), api_key=CLIENT_KEY, max_retries=0, timeout=60)


# -- (a), (b) two instances, one store ---------------------------------------------------------


def test_a_redis_store_that_went_away_is_used_again_once_it_is_back(
    fake_chat: FakeChat,
    start_gateway: StartGateway,
    gateway_config: Callable[..., dict[str, Any]],
    tmp_path: Path,
) -> None:
    """The gateway keeps one connection to Redis: when Redis restarts, the requests in between
    get a 503 in OpenAI's envelope, and the first command after it is back connects again."""
    url, stop = start_redis(tmp_path / "first")
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    cfg = gateway_config(secret_key=SECRET)
    cfg["store"] = {"backend": "redis", "url": url}
    gw = start_gateway(cfg)
    fake_chat.script(*[Reply.text("Hello.")] * 3)
    with _client(gw) as c:
        before = c.responses.create(model=MODEL, input="Hi")
        assert c.responses.retrieve(before.id).output_text == "Hello."
        stop()
        with pytest.raises(openai.APIStatusError) as away:
            c.responses.create(model=MODEL, input="Hi again")
        assert away.value.status_code == 503
        assert "response store is unavailable" in away.value.message
        _, stop_again = start_redis(tmp_path / "again", port=port)
        try:
            after = c.responses.create(model=MODEL, input="Hi once more")
            assert c.responses.retrieve(after.id).output_text == "Hello."
            with pytest.raises(openai.NotFoundError):  # a Redis without persistence forgot it
                c.responses.retrieve(before.id)
        finally:
            stop_again()


@pytest.mark.parametrize("shared_store", ["postgres", "redis"], indirect=True)
def test_two_instances_share_responses(
    fake_chat: FakeChat,
    start_gateway: StartGateway,
    gateway_config: Callable[..., dict[str, Any]],
    shared_store: dict[str, Any],
) -> None:
    one, two = _pair(start_gateway, gateway_config, shared_store)
    fake_chat.script(
        Reply.text("Paris.", reasoning_content="capital of France"),
        Reply.text("About 2.1 million.", reasoning_content="population", chunk_size=3),
        Reply.text("Lyon."),
    )
    with _client(one) as a, _client(two) as b:
        first = a.responses.create(model=MODEL, input="Capital of France?")
        got = b.responses.retrieve(first.id)
        assert got.status == "completed" and got.output_text == "Paris."
        listed = b.responses.input_items.list(first.id).data
        assert [i.model_dump()["content"][0]["text"] for i in listed] == ["Capital of France?"]

        # Continued through the other instance, streamed: the whole conversation goes upstream,
        # with the reasoning that instance one sealed (it opens with the shared key).
        with b.responses.stream(
            model=MODEL, input="Population?", previous_response_id=first.id
        ) as stream:
            second = stream.get_final_response()
        assert second.output_text == "About 2.1 million."
        messages = fake_chat.chat_requests[1].body["messages"]
        assert [(m["role"], m.get("content")) for m in messages] == [
            ("user", "Capital of France?"),
            ("assistant", "Paris."),
            ("user", "Population?"),
        ]
        assert messages[1]["reasoning_content"] == "capital of France"

        # And back: instance one chains from what instance two stored.
        third = a.responses.create(
            model=MODEL, input="Second city?", previous_response_id=second.id
        )
        assert third.output_text == "Lyon."
        messages = fake_chat.chat_requests[2].body["messages"]
        assert [m["role"] for m in messages] == ["user", "assistant"] * 2 + ["user"]
        assert messages[3]["reasoning_content"] == "population"
        assert a.responses.retrieve(second.id).previous_response_id == first.id

        # Deleted through one: gone for the other, even for chaining (it had it cached).
        b.responses.delete(second.id)
        with pytest.raises(openai.NotFoundError):
            a.responses.retrieve(second.id)
        with pytest.raises(openai.NotFoundError) as exc:
            a.responses.create(model=MODEL, input="x", previous_response_id=second.id)
        assert exc.value.code == "previous_response_not_found"

        # An id PostgreSQL's text cannot hold (a NUL character) is not found: not a 503.
        with pytest.raises(openai.NotFoundError):
            a.responses.retrieve(first.id + "\x00")
        with pytest.raises(openai.NotFoundError) as exc:
            a.responses.create(model=MODEL, input="x", previous_response_id=first.id + "\x00")
        assert exc.value.code == "previous_response_not_found"
    assert len(fake_chat.chat_requests) == 3


# -- (c) SIGKILL mid-stream ----------------------------------------------------------------------


@pytest.mark.parametrize("shared_store", ["postgres", "redis", "sqlite"], indirect=True)
def test_killed_instance_loses_only_its_response_in_flight(
    fake_chat: FakeChat,
    start_gateway: StartGateway,
    gateway_config: Callable[..., dict[str, Any]],
    shared_store: dict[str, Any],
) -> None:
    victim, survivor = _pair(start_gateway, gateway_config, shared_store)
    fake_chat.script(
        Reply.text("one"),
        Reply.text("two", chunk_size=1),
        Reply.text("three"),
        Reply.text("never finished " * 40, chunk_size=2, delay=0.05),  # ~15 s if left alone
    )
    finished: list[openai.types.responses.Response] = []
    with _client(victim) as v, _client(survivor) as s:
        finished.append(v.responses.create(model=MODEL, input="1"))
        with v.responses.stream(
            model=MODEL, input="2", previous_response_id=finished[0].id
        ) as stream:
            finished.append(stream.get_final_response())
        finished.append(v.responses.create(model=MODEL, input="3", store=True))

        in_flight, deltas = None, 0
        with v.responses.stream(
            model=MODEL, input="4", previous_response_id=finished[1].id
        ) as stream:
            for event in stream:
                if event.type == "response.created":
                    in_flight = event.response.id
                elif event.type == "response.output_text.delta":
                    deltas += 1
                    if deltas == 5:  # well inside the answer: kill -9 the instance
                        os.kill(victim.proc.pid, signal.SIGKILL)
                        victim.proc.wait(10)
                        break
        assert in_flight is not None and not victim.alive
        assert victim.proc.returncode == -signal.SIGKILL

        for done in finished:
            got = s.responses.retrieve(done.id)
            assert got.status == "completed" and got.output_text == done.output_text
            assert s.responses.input_items.list(done.id).data
        with pytest.raises(openai.NotFoundError):
            s.responses.retrieve(in_flight)
        with pytest.raises(openai.NotFoundError) as exc:
            s.responses.create(model=MODEL, input="5", previous_response_id=in_flight)
        assert exc.value.code == "previous_response_not_found"

        # The survivor still continues the conversations that did finish.
        fake_chat.script(Reply.text("after the crash"))
        after = s.responses.create(model=MODEL, input="5", previous_response_id=finished[1].id)
        assert after.output_text == "after the crash"
        roles = [m["role"] for m in fake_chat.chat_requests[-1].body["messages"]]
        assert roles == ["user", "assistant"] * 2 + ["user"]


# -- (d) 200 concurrent chained turns on SQLite ----------------------------------------------

CHAINS, TURNS = 20, 10
TIME_LIMIT = 120.0  # seconds for all 200 turns; a deadlock fails here instead of hanging


def _echo(body: dict[str, Any]) -> Reply:
    asked = body["messages"][-1]["content"]
    return Reply.text(f"reply to {asked}", chunk_size=8)


async def _chain(clients: list[openai.AsyncOpenAI], c: int) -> list[str]:
    ids: list[str] = []
    prev: str | None = None
    for t in range(TURNS):
        client = clients[(c + t) % len(clients)]  # every turn on the other instance
        text = f"chain {c} turn {t}"
        if t % 2:
            stream = await client.responses.create(
                model=MODEL, input=text, previous_response_id=prev, stream=True
            )
            final = None
            async for event in stream:
                if event.type == "response.completed":
                    final = event.response
            assert final is not None, text
        else:
            final = await client.responses.create(
                model=MODEL, input=text, previous_response_id=prev
            )
        assert final.output_text == f"reply to {text}"
        prev = final.id
        ids.append(final.id)
    return ids


@pytest.mark.parametrize("shared_store", ["sqlite"], indirect=True)
async def test_200_concurrent_chained_turns(
    fake_chat: FakeChat,
    start_gateway: StartGateway,
    gateway_config: Callable[..., dict[str, Any]],
    shared_store: dict[str, Any],
) -> None:
    gateways = _pair(start_gateway, gateway_config, shared_store)
    fake_chat.script(*[_echo] * (CHAINS * TURNS))
    clients = [_async_client(gw) for gw in gateways]
    started = time.monotonic()
    try:
        chains = await asyncio.wait_for(
            asyncio.gather(*(_chain(clients, c) for c in range(CHAINS))), TIME_LIMIT
        )
        elapsed = time.monotonic() - started

        # Nothing lost: every turn retrievable from either instance, linked to the one before.
        async def check(c: int, t: int, rid: str) -> None:
            got = await clients[t % 2].responses.retrieve(rid)
            assert got.status == "completed" and got.output_text == f"reply to chain {c} turn {t}"
            assert got.previous_response_id == (chains[c][t - 1] if t else None)

        await asyncio.wait_for(
            asyncio.gather(
                *(check(c, t, rid) for c, ids in enumerate(chains) for t, rid in enumerate(ids))
            ),
            TIME_LIMIT,
        )
    finally:
        for client in clients:
            await client.close()
    assert len({rid for ids in chains for rid in ids}) == CHAINS * TURNS
    assert fake_chat.pending == 0 and not fake_chat.unscripted

    # Every conversation's last upstream request held the whole conversation, in order.
    last = {r.body["messages"][-1]["content"]: r.body for r in fake_chat.chat_requests}
    for c in range(CHAINS):
        body = last[f"chain {c} turn {TURNS - 1}"]
        expected = []
        for t in range(TURNS):
            expected.append(("user", f"chain {c} turn {t}"))
            if t < TURNS - 1:
                expected.append(("assistant", f"reply to chain {c} turn {t}"))
        assert [(m["role"], m["content"]) for m in body["messages"]] == expected
    print(f"{CHAINS * TURNS} chained turns through 2 gateways on SQLite in {elapsed:.1f} s")
