"""Every front door over an Anthropic Messages upstream (``provider.api: messages``).

The official openai SDK (Responses and Chat Completions) and the anthropic SDK (Messages) talk to
a gateway whose model ``claude-test`` routes to the fake Anthropic API
(``tests/support/fake_anthropic.py``). The fake refuses what Anthropic refuses — alternation,
unanswered ``tool_use``, thinking signatures it did not issue, ``max_tokens`` missing or not
above the thinking budget — so every upstream request these tests make is one Anthropic would
accept. Responses JSON bodies and stream events are validated against the Open Responses schema.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import openai
import pytest

from tests.conftest import GatewayFactory
from tests.support.fake_anthropic import (
    FakeAnthropic,
    Reply,
    anthropic_usage,
    redacted_block,
    text_block,
    thinking_block,
    tool_use_block,
)
from tests.support.gateway import Gateway, RecordingTransport
from tests.support.reference import CAPTURES as REFERENCE_CAPTURES
from tests.support.validate import check_event_order, parse_sse, validate_event, validate_response

MODEL = "claude-test"
UPSTREAM_MODEL = "claude-sonnet-4-5-20250929"
KEY = "sk-ant-upstream-test"
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
}
CHAT_WEATHER: Any = {
    "type": "function",
    "function": {k: v for k, v in WEATHER_TOOL.items() if k != "type"},
}
APPLY_PATCH_TOOL = {
    "type": "custom",
    "name": "apply_patch",
    "description": "Edit files with a patch. FREEFORM: do not wrap it in JSON.",
    "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/s"},
}
PATCH = '*** Begin Patch\n*** Add File: hi.txt\n+Grüße "world" \\o/\n*** End Patch\n'
THOUGHT = "The user wants the weather in Paris. I will call get_weather."


def config(base_url: str, **provider: Any) -> dict[str, Any]:
    return {
        "server": {"request_timeout": 30},
        "providers": {
            "claude": {
                "api": "messages",
                "base_url": base_url,
                "api_key": KEY,
                "retries": 0,
                **provider,
            }
        },
        "models": [{"model": MODEL, "provider": "claude", "downstream_model": UPSTREAM_MODEL}],
        "claude": {"big": MODEL, "middle": MODEL, "small": MODEL},
    }


@pytest.fixture(scope="module")
def fake_anthropic_server() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(api_key=KEY) as fake:
        yield fake


@pytest.fixture
def fake(fake_anthropic_server: FakeAnthropic) -> Iterator[FakeAnthropic]:
    fake_anthropic_server.reset()
    yield fake_anthropic_server
    refused = [why for _, why in fake_anthropic_server.refused]
    fake_anthropic_server.reset()
    assert not refused, f"the gateway sent requests Anthropic would refuse: {refused}"


@pytest.fixture(scope="module")
def gw(
    fake_anthropic_server: FakeAnthropic, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    """One gateway for the module (``start_gateway``'s factory; a test needing another config
    starts its own with ``start_gateway``)."""
    factory = GatewayFactory(tmp_path_factory.mktemp("anthropic-gw"))
    try:
        yield factory(config(fake_anthropic_server.base_url))
    finally:
        factory.stop_all()


@pytest.fixture
def client(gw: Gateway, fake: FakeAnthropic) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gw.url("/v1"), api_key="sk-client", max_retries=0) as c:
        yield c


# -- helpers -----------------------------------------------------------------------------------


def create(client: openai.OpenAI, **kw: Any) -> tuple[Any, dict[str, Any]]:
    """``responses.create`` → (SDK object, raw JSON body validated against the spec)."""
    raw = client.responses.with_raw_response.create(model=MODEL, **kw)
    body = raw.http_response.json()
    validate_response(body)
    return raw.parse(), body


def stream_events(gw: Gateway, **kw: Any) -> tuple[list[dict[str, Any]], Any]:
    """``responses.stream`` with the SDK's own checks; the raw SSE under it is validated too."""
    rec = RecordingTransport()
    http = httpx2.Client(transport=rec, timeout=30)
    with (
        openai.OpenAI(
            base_url=gw.url("/v1"), api_key="sk-client", max_retries=0, http_client=http
        ) as client,
        client.responses.stream(model=MODEL, **kw) as stream,
    ):
        sdk_types = [event.type for event in stream]
        final = stream.get_final_response()
    events, _ = parse_sse(bytes(rec.bodies[-1]))
    assert [e["type"] for e in events] == sdk_types
    for event in events:
        validate_event(event)
    check_event_order(events)
    return events, final


def run(gw: Gateway, client: openai.OpenAI, stream: bool, **kw: Any) -> list[dict[str, Any]]:
    """The output items of a Responses call, streamed or not."""
    if stream:
        events, _ = stream_events(gw, **kw)
        return list(events[-1]["response"]["output"])
    _, body = create(client, **kw)
    return list(body["output"])


def upstream(fake: FakeAnthropic, n: int = -1) -> dict[str, Any]:
    reqs = fake.message_requests
    assert reqs, "the upstream received no messages request"
    body: dict[str, Any] = reqs[n].body
    return body


def envelope(resp: httpx2.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, f"{resp.status_code}: {resp.text}"
    body = resp.json()
    assert set(body) == {"error"}, body
    err: dict[str, Any] = body["error"]
    assert isinstance(err["message"], str) and err["message"], err
    return err


def say(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


USER = say("Weather in Paris?")
AUTH = {"Authorization": "Bearer sk-client", "Accept": "text/event-stream"}
STREAMS = pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])


# -- Responses: text -----------------------------------------------------------------------------


def test_text_json(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    usage = anthropic_usage(20, 9, cache_read=64, cache_write=10)
    fake.script(Reply.text("Hello from Claude", usage=usage))
    resp, body = create(client, instructions="Be terse.", input="Say hi", user="u-7")
    assert resp.output_text == "Hello from Claude"
    assert resp.status == "completed" and resp.model == MODEL
    assert body["usage"]["input_tokens"] == 94
    assert body["usage"]["input_tokens_details"]["cached_tokens"] == 64
    assert body["usage"]["output_tokens"] == 9
    req = fake.message_requests[-1]
    assert req.headers["x-api-key"] == KEY
    assert req.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in req.headers
    assert req.body == {
        "model": UPSTREAM_MODEL,
        "system": "Be terse.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Say hi"}]}],
        "max_tokens": 8192,
        "metadata": {"user_id": "u-7"},
    }


def test_text_stream(gw: Gateway, fake: FakeAnthropic) -> None:
    text = "Streaming from Claude, block by block."
    fake.script(Reply.text(text, chunk_size=5))
    events, final = stream_events(gw, input="Stream please", max_output_tokens=500)
    assert final.output_text == text and final.status == "completed"
    deltas = [e["delta"] for e in events if e["type"] == "response.output_text.delta"]
    assert "".join(deltas) == text and len(deltas) > 1
    up = upstream(fake)
    assert up["stream"] is True and up["max_tokens"] == 500
    assert fake.message_requests[-1].headers["accept"] == "text/event-stream"


# -- Responses: tools ----------------------------------------------------------------------------


@STREAMS
def test_function_tool_round_trip(
    gw: Gateway, client: openai.OpenAI, fake: FakeAnthropic, stream: bool
) -> None:
    fake.script(
        Reply.tool_use(
            [("toolu_01WeatherParis", "get_weather", {"city": "Paris"})],
            text="Let me check.",
            chunk_size=4,
        ),
        Reply.text("It is 18C and sunny in Paris."),
    )
    output = run(gw, client, stream, input=[USER], tools=[WEATHER_TOOL])
    assert [o["type"] for o in output] == ["message", "function_call"]
    call = output[1]
    assert (call["call_id"], call["name"]) == ("toolu_01WeatherParis", "get_weather")
    assert json.loads(call["arguments"]) == {"city": "Paris"}
    assert upstream(fake)["tools"] == [
        {
            "name": "get_weather",
            "description": "Current weather for a city.",
            "input_schema": WEATHER_TOOL["parameters"],
        }
    ]

    result = {"type": "function_call_output", "call_id": call["call_id"], "output": "18C sunny"}
    resp, _ = create(client, input=[USER, *output, result], tools=[WEATHER_TOOL])
    assert resp.output_text == "It is 18C and sunny in Paris."
    assert upstream(fake)["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me check."},
                {
                    "type": "tool_use",
                    "id": "toolu_01WeatherParis",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_01WeatherParis",
                    "content": "18C sunny",
                }
            ],
        },
    ]


def test_parallel_tool_uses(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    fake.script(
        Reply.tool_use([("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Rome"})]),
        Reply.text("Both sunny."),
    )
    _, body = create(client, input=[USER], tools=[WEATHER_TOOL])
    calls = body["output"]
    assert [json.loads(c["arguments"])["city"] for c in calls] == ["Paris", "Rome"]
    only_one = {"type": "function_call_output", "call_id": calls[0]["call_id"], "output": "sunny"}
    create(client, input=[USER, *calls, only_one], tools=[WEATHER_TOOL])
    results = upstream(fake)["messages"][2]["content"]
    assert [r["tool_use_id"] for r in results] == [c["call_id"] for c in calls]
    assert results[1]["is_error"] is True, "an unanswered tool_use gets a placeholder result"


@STREAMS
def test_custom_tool_round_trip(
    gw: Gateway, client: openai.OpenAI, fake: FakeAnthropic, stream: bool
) -> None:
    fake.script(
        Reply.tool_use([("apply_patch", {"input": PATCH})], chunk_size=7),
        Reply.text("Patched."),
    )
    output = run(gw, client, stream, input="create hi.txt", tools=[APPLY_PATCH_TOOL])
    (call,) = output
    assert call["type"] == "custom_tool_call" and call["input"] == PATCH
    tool = upstream(fake)["tools"][0]
    assert tool["name"] == "apply_patch"
    assert tool["input_schema"]["properties"] == {
        "input": {"type": "string", "description": "The raw tool input."}
    }
    out = {"type": "custom_tool_call_output", "call_id": call["call_id"], "output": "Done"}
    create(client, input=[say("create hi.txt"), call, out], tools=[APPLY_PATCH_TOOL])
    use = upstream(fake)["messages"][1]["content"][0]
    assert use["input"] == {"input": PATCH}


# -- Responses: thinking -------------------------------------------------------------------------


@STREAMS
def test_thinking_replayed_with_its_signature(
    gw: Gateway, client: openai.OpenAI, fake: FakeAnthropic, stream: bool
) -> None:
    thought = thinking_block(THOUGHT)
    fake.script(
        Reply.of(thought, tool_use_block("get_weather", {"city": "Paris"}, "toolu_01Think")).with_(
            stop_reason="tool_use", chunk_size=9
        ),
        Reply.text("Sunny in Paris."),
    )
    turn = {
        "tools": [WEATHER_TOOL],
        "reasoning": {"effort": "high", "summary": "auto"},
        "include": ["reasoning.encrypted_content"],
        "store": False,
        "temperature": 0.4,
    }
    output = run(gw, client, stream, input=[USER], **turn)
    assert [o["type"] for o in output] == ["reasoning", "function_call"]
    reasoning = output[0]
    assert reasoning["summary"] == [{"type": "summary_text", "text": THOUGHT}]
    blob = reasoning["encrypted_content"]
    signature = thought["signature"]
    assert blob.startswith("wb1.") and signature not in blob and "weather" not in blob
    first = upstream(fake)
    assert first["thinking"] == {"type": "enabled", "budget_tokens": 24576}
    assert first["max_tokens"] > 24576
    assert "temperature" not in first, "Anthropic refuses temperature with thinking"

    result = {"type": "function_call_output", "call_id": "toolu_01Think", "output": "sunny"}
    resp, _ = create(client, input=[USER, *output, result], **turn)
    assert resp.output_text == "Sunny in Paris."
    second = upstream(fake)
    assert second["thinking"] == {"type": "enabled", "budget_tokens": 24576}
    assistant = second["messages"][1]
    assert assistant["content"][0] == {
        "type": "thinking",
        "thinking": THOUGHT,
        "signature": signature,
    }
    assert assistant["content"][1]["type"] == "tool_use"


def test_redacted_thinking_round_trip(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    redacted = redacted_block()
    fake.script(Reply.of(redacted, text_block("Hi.")), Reply.text("Again."))
    request = {"reasoning": {"effort": "low"}, "include": ["reasoning.encrypted_content"]}
    _, body = create(client, input="Hi", **request)
    rs, msg = body["output"]
    assert rs["type"] == "reasoning" and rs["summary"] == []
    assert redacted["data"] not in rs["encrypted_content"]
    create(client, input=[say("Hi"), rs, msg, say("Again")], **request)
    assert upstream(fake)["messages"][1]["content"][0] == redacted


def test_other_reasoning_is_never_sent(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    fake.script(Reply.text("ok"))
    foreign = {"type": "reasoning", "summary": [], "encrypted_content": "gAAAAforged=="}
    create(client, input=[say("Hi"), foreign, say("Again")])
    assert "forged" not in fake.last.raw.decode()


# -- Responses: incomplete and errors ------------------------------------------------------------


@STREAMS
def test_length_cut_is_incomplete(
    gw: Gateway, client: openai.OpenAI, fake: FakeAnthropic, stream: bool
) -> None:
    fake.script(Reply.text("Once upon a", stop_reason="max_tokens", usage=anthropic_usage(10, 16)))
    if stream:  # (the SDK's stream helper wants response.completed: read the raw stream)
        body = {"model": MODEL, "input": "Tell a story", "max_output_tokens": 16, "stream": True}
        resp = httpx2.post(gw.url("/v1/responses"), json=body, headers=AUTH, timeout=30)
        events, _ = parse_sse(resp.content)
        for event in events:
            validate_event(event)
        final = check_event_order(events)
        assert events[-1]["type"] == "response.incomplete"
    else:
        _, final = create(client, input="Tell a story", max_output_tokens=16)
    assert final["status"] == "incomplete"
    assert final["incomplete_details"] == {"reason": "max_output_tokens"}
    assert final["output"][0]["status"] == "incomplete"
    assert final["output"][0]["content"][0]["text"] == "Once upon a"
    assert (final["usage"]["input_tokens"], final["usage"]["output_tokens"]) == (10, 16)
    assert upstream(fake)["max_tokens"] == 16


@STREAMS
def test_429_keeps_retry_after(client: openai.OpenAI, fake: FakeAnthropic, stream: bool) -> None:
    fake.script(Reply.rate_limited("7"))
    with pytest.raises(openai.RateLimitError) as info:
        client.responses.create(model=MODEL, input="hi", stream=stream)
    err = envelope(info.value.response, 429)
    assert info.value.response.headers["retry-after"] == "7"
    assert err["type"] == "rate_limit_error"


@STREAMS
def test_529_overloaded_is_503(client: openai.OpenAI, fake: FakeAnthropic, stream: bool) -> None:
    fake.script(Reply.overloaded())
    with pytest.raises(openai.InternalServerError) as info:
        client.responses.create(model=MODEL, input="hi", stream=stream)
    err = envelope(info.value.response, 503)
    assert err["type"] == "overloaded_error"
    assert "Overloaded" in err["message"]


def test_529_is_retried(start_gateway: GatewayFactory, fake: FakeAnthropic) -> None:
    gw = start_gateway(config(fake.base_url, retries=1))
    fake.script(Reply.overloaded(), Reply.text("Second time lucky."))
    with openai.OpenAI(base_url=gw.url("/v1"), api_key="k", max_retries=0) as client:
        resp = client.responses.create(model=MODEL, input="hi")
    assert resp.output_text == "Second time lucky."
    assert len(fake.message_requests) == 2


def test_upstream_400_is_400(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    fake.script(Reply.error(400, "prompt is too long: 210000 tokens > 200000 maximum"))
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model=MODEL, input="hi")
    err = envelope(info.value.response, 400)
    assert err["type"] == "invalid_request_error"
    assert "prompt is too long" in err["message"]


def test_error_event_mid_stream_fails(gw: Gateway, fake: FakeAnthropic) -> None:
    error = {"type": "overloaded_error", "message": "Overloaded"}
    fake.script(Reply.text("x" * 40, chunk_size=5, stream_error=error, stream_error_after=6))
    body = {"model": MODEL, "input": "go", "stream": True}
    resp = httpx2.post(gw.url("/v1/responses"), json=body, headers=AUTH, timeout=30)
    events, _ = parse_sse(resp.content)
    for event in events:
        validate_event(event)
    final = check_event_order(events)
    assert [e["type"] for e in events][-2:] == ["error", "response.failed"]
    assert final["status"] == "failed" and final["error"]["code"] == "overloaded_error"
    deltas = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert deltas == "x" * 15, "what came before the error is kept"


def test_untranslatable_is_400(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model=MODEL, input="hi", text={"format": {"type": "json_object"}})
    err = envelope(info.value.response, 400)
    assert err["param"] == "text.format"
    assert fake.message_requests == []


# -- Chat Completions front door -----------------------------------------------------------------


@STREAMS
def test_chat_text(client: openai.OpenAI, fake: FakeAnthropic, stream: bool) -> None:
    fake.script(Reply.text("Hello via chat", chunk_size=4, usage=anthropic_usage(11, 4)))
    messages: Any = [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi"}]
    if stream:
        chunks = list(
            client.chat.completions.create(
                model=MODEL, messages=messages, stream=True, stream_options={"include_usage": True}
            )
        )
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
        usage = chunks[-1].usage
    else:
        completion = client.chat.completions.create(model=MODEL, messages=messages)
        text = completion.choices[0].message.content or ""
        assert completion.choices[0].finish_reason == "stop"
        usage = completion.usage
    assert text == "Hello via chat"
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens) == (11, 4)
    up = upstream(fake)
    assert up["system"] == "Be kind."
    assert up["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]


@STREAMS
def test_chat_tool_round_trip(client: openai.OpenAI, fake: FakeAnthropic, stream: bool) -> None:
    fake.script(
        Reply.tool_use([("toolu_01Chat", "get_weather", {"city": "Paris"})], chunk_size=5),
        Reply.text("Sunny."),
    )
    messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    if stream:
        with client.chat.completions.stream(
            model=MODEL, messages=messages, tools=[CHAT_WEATHER]
        ) as s:
            for _ in s:
                pass
            completion: Any = s.get_final_completion()
    else:
        completion = client.chat.completions.create(
            model=MODEL, messages=messages, tools=[CHAT_WEATHER]
        )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    (tc,) = choice.message.tool_calls
    assert (tc.id, tc.function.name) == ("toolu_01Chat", "get_weather")
    assert json.loads(tc.function.arguments) == {"city": "Paris"}
    messages += [
        choice.message.model_dump(exclude_none=True, exclude={"parsed", "annotations"}),
        {"role": "tool", "tool_call_id": "toolu_01Chat", "content": "sunny"},
    ]
    final = client.chat.completions.create(model=MODEL, messages=messages, tools=[CHAT_WEATHER])
    assert final.choices[0].message.content == "Sunny."
    up = upstream(fake)["messages"]
    assert [m["role"] for m in up] == ["user", "assistant", "user"]
    assert up[1]["content"][-1]["id"] == "toolu_01Chat"
    assert up[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_01Chat", "content": "sunny"}
    ]


# -- Messages front door -------------------------------------------------------------------------


@pytest.fixture
def claude(gw: Gateway, fake: FakeAnthropic) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=gw.base_url, api_key="sk-ant-client", max_retries=0) as c:
        yield c


ANTHROPIC_TOOLS: list[Any] = [
    {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "input_schema": WEATHER_TOOL["parameters"],
    }
]


def test_messages_client_thinking_round_trip(
    claude: anthropic.Anthropic, fake: FakeAnthropic
) -> None:
    thought = thinking_block(THOUGHT)
    fake.script(
        Reply.of(
            thought,
            text_block("Checking."),
            {"type": "tool_use", "id": "toolu_01M", "name": "get_weather", "input": {"city": "P"}},
            stop_reason="tool_use",
        ),
        Reply.text("Sunny."),
    )
    thinking: Any = {"type": "enabled", "budget_tokens": 2048}
    ask: list[Any] = [{"role": "user", "content": "Weather?"}]
    first = claude.messages.create(
        model=MODEL, max_tokens=4096, messages=ask, tools=ANTHROPIC_TOOLS, thinking=thinking
    )
    assert [b.type for b in first.content] == ["thinking", "text", "tool_use"]
    shown = first.content[0]
    assert shown.thinking == THOUGHT  # type: ignore[union-attr]
    assert shown.signature.startswith("wb1.")  # type: ignore[union-attr]
    assert upstream(fake)["thinking"] == thinking, "the client's own thinking is sent as it is"

    answer = {"type": "tool_result", "tool_use_id": "toolu_01M", "content": "sunny"}
    history = [*ask, first.to_param(), {"role": "user", "content": [answer]}]
    again = claude.messages.create(
        model=MODEL, max_tokens=4096, messages=history, tools=ANTHROPIC_TOOLS, thinking=thinking
    )
    assert again.content[0].text == "Sunny."  # type: ignore[union-attr]
    replayed = upstream(fake)["messages"][1]["content"][0]
    assert replayed == thought, "Anthropic gets its own signature back"


def test_messages_client_fields_pass_through(
    claude: anthropic.Anthropic, fake: FakeAnthropic
) -> None:
    fake.script(Reply.text("ok", chunk_size=1))
    with claude.messages.stream(
        model=MODEL,
        max_tokens=300,
        messages=[{"role": "user", "content": "hi"}],
        stop_sequences=["END"],
        extra_body={"top_k": 5},
    ) as stream:
        text = stream.get_final_text()
    assert text == "ok"
    up = upstream(fake)
    assert (up["top_k"], up["stop_sequences"], up["max_tokens"]) == (5, ["END"], 300)


def test_messages_client_sees_overloaded(claude: anthropic.Anthropic, fake: FakeAnthropic) -> None:
    fake.script(Reply.overloaded())
    with pytest.raises(anthropic.APIStatusError) as info:
        claude.messages.create(
            model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    assert info.value.status_code == 503
    assert info.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]


CAPTURES = REFERENCE_CAPTURES / "claude"


def test_claude_code_request_reaches_anthropic_with_its_signature(
    gw: Gateway, fake: FakeAnthropic
) -> None:
    (path,) = (CAPTURES / "02_tool_bash_with_thinking_replay").glob("002_*.json")
    body = json.loads(path.read_text())["body"]
    body = json.loads(body) if isinstance(body, str) else body
    sent = [
        b
        for m in body["messages"]
        if m["role"] == "assistant" and isinstance(m["content"], list)
        for b in m["content"]
        if b["type"] == "thinking"
    ]
    assert sent
    for block in sent:  # Anthropic issued these signatures to Claude Code
        fake.issued[block["signature"]] = block["thinking"]
    fake.script(Reply.text("done", chunk_size=2))
    headers = {"x-api-key": "sk-ant-client", "anthropic-version": "2023-06-01"}
    resp = httpx2.post(gw.url("/v1/messages?beta=true"), json=body, headers=headers, timeout=30)
    assert resp.status_code == 200, resp.text
    assert '"text_delta"' in resp.text
    up = upstream(fake)
    replayed = [
        b
        for m in up["messages"]
        if m["role"] == "assistant"
        for b in m["content"]
        if b["type"] == "thinking"
    ]
    assert replayed == [{k: b[k] for k in ("type", "thinking", "signature")} for b in sent]
    assert up["context_management"] == body["context_management"]
    assert up["thinking"] == body["thinking"]
