"""Every front door, with every upstream kind, in every scenario: one parametrized matrix.

Each cell drives a front door with its official SDK (streamed) against a gateway whose models go
to one upstream kind's scripted fake, and checks what the client saw and what the upstream got.
The gateway has one retry per provider and a fallback model, so "429 then success" and "500
then fallback" are answered without the client noticing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.e2e.matrix.drivers import DRIVERS
from tests.e2e.matrix.model import Say
from tests.e2e.matrix.upstreams import UPSTREAMS, Upstream
from tests.support.gateway import Gateway

CALL = ("call_m1", "get_weather", '{"city": "Oslo"}')
CALL2 = ("call_m2", "get_weather", '{"city": "Rome"}')


@dataclass
class Env:
    upstream: Upstream
    fake: Any
    gateway: Gateway


def matrix_config(upstream: Upstream, fake: Any) -> dict[str, Any]:
    return {
        "server": {"request_timeout": 20},
        "providers": {"up": {**upstream.provider(fake), "retries": 1, "cooldown": 0}},
        "models": [
            {
                "model": "matrix",
                "provider": "up",
                "downstream_model": "matrix-upstream",
                "fallbacks": ["matrix-backup"],
            },
            {"model": "matrix-backup", "provider": "up", "downstream_model": "backup-upstream"},
            {"model": "matrix-solo", "provider": "up", "downstream_model": "solo-upstream"},
        ],
    }


@pytest.fixture(scope="session")
def fake_responses_server() -> Iterator[Any]:
    from tests.support.fake_responses import FakeResponses

    fake = FakeResponses().start()
    try:
        yield fake
    finally:
        fake.close()


@pytest.fixture(scope="session")
def fake_chatgpt_server() -> Iterator[Any]:
    from tests.support.fake_chatgpt import FakeChatGPT

    fake = FakeChatGPT().start()
    try:
        yield fake
    finally:
        fake.close()


@pytest.fixture(scope="session")
def fake_anthropic_matrix() -> Iterator[Any]:
    from tests.support.fake_anthropic import FakeAnthropic

    fake = FakeAnthropic().start()
    try:
        yield fake
    finally:
        fake.close()


@pytest.fixture(scope="module", params=UPSTREAMS, ids=lambda u: u.name)
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    upstream: Upstream = request.param
    fake = request.getfixturevalue(upstream.fake_fixture)
    gw = Gateway.start(matrix_config(upstream, fake), tmp_path_factory.mktemp(upstream.name))
    try:
        yield Env(upstream, fake, gw)
    finally:
        gw.stop()


@pytest.fixture
def cell(env: Env) -> Iterator[Env]:
    env.fake.reset()
    yield env
    env.fake.reset()


@pytest.fixture(params=DRIVERS, ids=lambda d: d.name)
def driver_cls(request: pytest.FixtureRequest) -> Any:
    return request.param


def args(call: tuple[str, str, str]) -> tuple[str, str, Any]:
    return call[0], call[1], json.loads(call[2])


def test_text(cell: Env, driver_cls: Any) -> None:
    cell.upstream.script(cell.fake, [Say(text="Hello from the matrix.")])
    seen = driver_cls(cell.gateway.base_url, "matrix").ask("hi")
    assert (seen.text, seen.finish) == ("Hello from the matrix.", "stop")


def test_tool_round_trip(cell: Env, driver_cls: Any) -> None:
    cell.upstream.script(cell.fake, [Say(calls=(CALL,)), Say(text="It is sunny in Oslo.")])
    d = driver_cls(cell.gateway.base_url, "matrix")
    first = d.ask("weather in Oslo?")
    assert [args(c) for c in first.calls] == [args(CALL)] and first.finish == "tool"
    second = d.answer_tools({"call_m1": "sunny"})
    assert second.text == "It is sunny in Oslo."
    last = cell.upstream.requests(cell.fake)[-1]
    assert cell.upstream.tool_output(last, "call_m1") == "sunny"


def test_parallel_tools(cell: Env, driver_cls: Any) -> None:
    cell.upstream.script(cell.fake, [Say(calls=(CALL, CALL2)), Say(text="Both done.")])
    d = driver_cls(cell.gateway.base_url, "matrix")
    first = d.ask("weather in Oslo and Rome?")
    assert [args(c) for c in first.calls] == [args(CALL), args(CALL2)]
    assert d.answer_tools({"call_m1": "snow", "call_m2": "sun"}).text == "Both done."
    last = cell.upstream.requests(cell.fake)[-1]
    assert cell.upstream.tool_output(last, "call_m1") == "snow"
    assert cell.upstream.tool_output(last, "call_m2") == "sun"


def test_reasoning_replay(cell: Env, driver_cls: Any) -> None:
    cell.upstream.script(
        cell.fake,
        [Say(reasoning="Let me think it over.", text="First answer."), Say(text="Second.")],
    )
    d = driver_cls(cell.gateway.base_url, "matrix")
    first = d.ask("think")
    assert first.reasoning == "Let me think it over." and first.text == "First answer."
    assert d.ask("and then?").text == "Second."
    last = cell.upstream.requests(cell.fake)[-1]
    # A Chat Completions client keeps reasoning only as text: an upstream that needs its own
    # blob back gets nothing for it (never a wrong blob), and the turn still succeeds.
    expect = driver_cls.name != "chat" or cell.upstream.replays_plain_text
    assert cell.upstream.replayed(cell.fake, last, "Let me think it over.") is expect


def test_length_cut(cell: Env, driver_cls: Any) -> None:
    cell.upstream.script(cell.fake, [Say(text="This answer was cut", finish="length")])
    seen = driver_cls(cell.gateway.base_url, "matrix").ask("long please")
    assert (seen.text, seen.finish) == ("This answer was cut", "length")


def test_429_then_success(cell: Env, driver_cls: Any) -> None:
    cell.upstream.script(cell.fake, [Say(error=429, retry_after="0"), Say(text="After a retry.")])
    seen = driver_cls(cell.gateway.base_url, "matrix").ask("hi")
    assert seen.text == "After a retry."
    assert len(cell.upstream.requests(cell.fake)) == 2


def test_500_then_fallback(cell: Env, driver_cls: Any) -> None:
    cell.upstream.script(
        cell.fake, [Say(error=500), Say(error=500), Say(text="The backup answered.")]
    )
    seen = driver_cls(cell.gateway.base_url, "matrix").ask("hi")
    assert seen.text == "The backup answered."
    models = [b.get("model") for b in cell.upstream.requests(cell.fake)]
    assert models == ["matrix-upstream", "matrix-upstream", "backup-upstream"]
    if driver_cls.name != "messages":  # Anthropic answers carry the name the client asked for
        assert seen.model == "matrix-backup"


def test_upstream_error(cell: Env, driver_cls: Any) -> None:
    cell.upstream.script(cell.fake, [Say(error=500), Say(error=500)])
    seen = driver_cls(cell.gateway.base_url, "matrix-solo").ask("hi")
    assert (seen.finish, seen.error_status) == ("error", 502)
