"""The fake Anthropic upstream speaks Anthropic's wire format: the official ``anthropic`` SDK
parses its JSON, streams and errors, and it refuses what Anthropic refuses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from tests.support.fake_anthropic import (
    FakeAnthropic,
    Refused,
    Reply,
    check_request,
    redacted_block,
    text_block,
    thinking_block,
    tool_use_block,
)

TOOLS: list[Any] = [
    {"name": "get_weather", "input_schema": {"type": "object", "properties": {"c": {}}}}
]
HI: list[Any] = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as f:
        yield f


@pytest.fixture
def client(fake: FakeAnthropic) -> Iterator[anthropic.Anthropic]:
    fake.reset()
    base = fake.base_url.removesuffix("/v1")
    with anthropic.Anthropic(base_url=base, api_key=fake.api_key, max_retries=0) as c:
        yield c


def _reply() -> Reply:
    return Reply.of(
        thinking_block("Let me think."),
        redacted_block(),
        text_block("Checking."),
        tool_use_block("get_weather", {"c": "Paris"}),
        stop_reason="tool_use",
        chunk_size=4,
    )


def test_json_message(client: anthropic.Anthropic, fake: FakeAnthropic) -> None:
    fake.script(_reply())
    msg = client.messages.create(model="claude-x", max_tokens=99, messages=HI, tools=TOOLS)
    assert [b.type for b in msg.content] == [
        "thinking",
        "redacted_thinking",
        "text",
        "tool_use",
    ]
    assert msg.stop_reason == "tool_use" and msg.id.startswith("msg_01")
    assert msg.content[3].input == {"c": "Paris"}  # type: ignore[union-attr]


def test_stream_events(client: anthropic.Anthropic, fake: FakeAnthropic) -> None:
    fake.script(_reply())
    with client.messages.stream(
        model="claude-x", max_tokens=99, messages=HI, tools=TOOLS
    ) as stream:
        kinds = [e.type for e in stream]
        final = stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    assert {"thinking", "signature", "text", "input_json"} <= set(kinds)
    signature = final.content[0].signature  # type: ignore[union-attr]
    assert fake.issued[signature] == "Let me think."
    assert final.content[3].input == {"c": "Paris"}  # type: ignore[union-attr]
    assert fake.last.frames_sent > 10


def test_replayed_thinking_accepted_and_tampered_refused(
    client: anthropic.Anthropic, fake: FakeAnthropic
) -> None:
    fake.script(_reply(), Reply.text("Sunny."))
    first = client.messages.create(model="claude-x", max_tokens=99, messages=HI, tools=TOOLS)
    call_id = first.content[3].id  # type: ignore[union-attr]
    answer = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call_id}]}
    history: list[Any] = [*HI, first.to_param(), answer]
    again = client.messages.create(model="claude-x", max_tokens=99, messages=history, tools=TOOLS)
    assert again.content[0].text == "Sunny."  # type: ignore[union-attr]
    tampered: Any = dict(history[1])
    tampered["content"] = [{**first.content[0].model_dump(), "thinking": "Other."}]
    tampered["content"] += history[1]["content"][1:]
    with pytest.raises(anthropic.BadRequestError, match="Invalid `signature`"):
        bad: Any = [*HI, tampered, answer]
        client.messages.create(model="claude-x", max_tokens=99, messages=bad, tools=TOOLS)


@pytest.mark.parametrize(
    ("reply", "error", "status"),
    [
        (Reply.overloaded(), anthropic.InternalServerError, 529),
        (Reply.rate_limited("7"), anthropic.RateLimitError, 429),
        (Reply.error(400, "bad"), anthropic.BadRequestError, 400),
    ],
    ids=["overloaded", "rate_limited", "invalid_request"],
)
def test_errors(
    client: anthropic.Anthropic, fake: FakeAnthropic, reply: Reply, error: type, status: int
) -> None:
    fake.script(reply)
    with pytest.raises(error) as info:
        client.messages.create(model="claude-x", max_tokens=9, messages=HI)
    err: Any = info.value
    assert err.status_code == status
    assert err.body["type"] == "error" and err.body["error"]["type"]
    if status == 429:
        assert err.response.headers["retry-after"] == "7"


def test_error_event_mid_stream(client: anthropic.Anthropic, fake: FakeAnthropic) -> None:
    error = {"type": "overloaded_error", "message": "Overloaded"}
    fake.script(Reply.text("partial", chunk_size=3, stream_error=error))
    with (
        pytest.raises(anthropic.APIStatusError, match="Overloaded"),
        client.messages.stream(model="claude-x", max_tokens=9, messages=HI) as stream,
    ):
        for _ in stream:
            pass


def test_missing_version_header_and_key(fake: FakeAnthropic) -> None:
    import httpx2

    fake.reset()
    resp = httpx2.post(fake.base_url + "/messages", json={}, headers={"x-api-key": "k"})
    assert resp.status_code == 400 and "anthropic-version" in resp.text
    resp = httpx2.post(
        fake.base_url + "/messages", json={}, headers={"anthropic-version": "2023-06-01"}
    )
    assert resp.status_code == 401 and resp.json()["error"]["type"] == "authentication_error"


BASE: dict[str, Any] = {"model": "m", "max_tokens": 2000, "messages": HI}
USE = {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]}
RESULT = {"type": "tool_result", "tool_use_id": "t1", "content": "ok"}
F_TOOL = [{"name": "f", "input_schema": {"type": "object"}}]
THINK = {"thinking": {"type": "enabled", "budget_tokens": 1024}}


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({**BASE, "max_tokens": None}, "max_tokens"),
        ({**BASE, "frequency_penalty": 1}, "Extra inputs"),
        ({**BASE, "messages": [*HI, *HI]}, "roles must alternate"),
        (
            {**BASE, "messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}]},
            "non-empty",
        ),
        ({**BASE, "messages": [*HI, USE], "tools": F_TOOL}, "without `tool_result`"),
        (
            {
                **BASE,
                "messages": [
                    *HI,
                    USE,
                    {"role": "user", "content": [{"type": "text", "text": "x"}, RESULT]},
                ],
                "tools": F_TOOL,
            },
            "must come before",
        ),
        (
            {**BASE, "messages": [{"role": "user", "content": [RESULT]}], "tools": F_TOOL},
            "unexpected `tool_use_id`",
        ),
        (
            {**BASE, "messages": [*HI, USE, {"role": "user", "content": [RESULT]}]},
            "must define tools",
        ),
        ({**BASE, **THINK, "max_tokens": 1024}, "greater than `thinking.budget_tokens`"),
        ({**BASE, **THINK, "temperature": 0.5}, "temperature"),
        ({**BASE, **THINK, "tools": F_TOOL, "tool_choice": {"type": "any"}}, "forces tool use"),
        (
            {
                **BASE,
                **THINK,
                "messages": [*HI, USE, {"role": "user", "content": [RESULT]}],
                "tools": F_TOOL,
            },
            "must start with a thinking block",
        ),
        ({**BASE, "temperature": 1.5}, "less than or equal to 1"),
    ],
    ids=[
        "max_tokens_required",
        "unknown_field",
        "roles_alternate",
        "empty_text",
        "unanswered_tool_use",
        "results_first",
        "result_without_use",
        "tools_required_with_tool_blocks",
        "budget_below_max_tokens",
        "no_temperature_with_thinking",
        "no_forced_tool_with_thinking",
        "tool_turn_opens_with_thinking",
        "temperature_range",
    ],
)
def test_check_request_refuses(body: dict[str, Any], says: str) -> None:
    with pytest.raises(Refused, match=None) as info:
        check_request(body)
    assert says in str(info.value)


def test_check_request_accepts_a_tool_turn() -> None:
    check_request(
        {**BASE, "messages": [*HI, USE, {"role": "user", "content": [RESULT]}], "tools": F_TOOL}
    )
