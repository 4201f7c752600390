"""The official openai SDK against a running gateway over the fake Chat Completions upstream.

One gateway process serves the module (``gateway`` fixture); the fake upstream is reset per test.
Every JSON body and every stream event the gateway sends is validated against the Open Responses
schema (``tests.support.validate``), and streams are checked for ordering.
"""

from __future__ import annotations

import json
from typing import Any

import httpx2
import openai
import pydantic
import pytest

from tests.support.fake_chat import FakeChat, Reply, chat_usage
from tests.support.gateway import Gateway, RecordingTransport
from tests.support.validate import (
    check_event_order,
    parse_sse,
    validate_event,
    validate_response,
)

MODEL = "fake-model"

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

APPLY_PATCH_TOOL = {
    "type": "custom",
    "name": "apply_patch",
    "description": "Edit files with a patch. This is a FREEFORM tool, do not wrap it in JSON.",
    "format": {
        "type": "grammar",
        "syntax": "lark",
        "definition": 'start: begin_patch hunk+ end_patch\nbegin_patch: "*** Begin Patch" LF\n',
    },
}

PATCH = '*** Begin Patch\n*** Add File: hello.txt\n+Hello "world"\n+\tback\\slash\n*** End Patch\n'


# -- helpers -----------------------------------------------------------------------------------


def create(client: openai.OpenAI, **kw: Any) -> tuple[Any, dict[str, Any]]:
    """``responses.create`` returning (SDK object, raw JSON body validated against the spec)."""
    kw.setdefault("model", MODEL)
    raw = client.responses.with_raw_response.create(**kw)
    body = raw.http_response.json()
    validate_response(body)
    return raw.parse(), body


def stream_events(gateway: Gateway, **kw: Any) -> tuple[list[dict[str, Any]], Any]:
    """``responses.stream`` with the SDK's own checks; return (raw events, final SDK response).

    The raw SSE bytes are recorded under the SDK; every event is validated, the stream is
    checked with ``check_event_order`` and must hold the same events the SDK yielded.
    """
    kw.setdefault("model", MODEL)
    rec = RecordingTransport()
    http = httpx2.Client(transport=rec, timeout=30)
    with (
        openai.OpenAI(
            base_url=gateway.url("/v1"), api_key="sk-client", max_retries=0, http_client=http
        ) as client,
        client.responses.stream(**kw) as stream,
    ):
        sdk_types = [event.type for event in stream]
        final = stream.get_final_response()
    events, _ = parse_sse(bytes(rec.bodies[-1]))
    assert types_of(events) == sdk_types
    for event in events:
        validate_event(event)
    check_event_order(events)
    return events, final


def post(gateway: Gateway, path: str, body: Any) -> httpx2.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Authorization": "Bearer sk-client", "Content-Type": "application/json"}
    return httpx2.post(gateway.url(path), content=content, headers=headers, timeout=30)


def raw_sse(gateway: Gateway, body: dict[str, Any]) -> list[dict[str, Any]]:
    """POST a streaming request without the SDK; return its events, each validated."""
    headers = {"Authorization": "Bearer sk-client", "Accept": "text/event-stream"}
    with httpx2.stream(
        "POST",
        gateway.url("/v1/responses"),
        json={**body, "stream": True},
        headers=headers,
        timeout=30,
    ) as resp:
        raw = resp.read()
    assert resp.status_code == 200, raw.decode()
    assert resp.headers["content-type"].startswith("text/event-stream")
    events, _ = parse_sse(raw)
    for event in events:
        validate_event(event)
    return events


def envelope(resp: httpx2.Response, status: int) -> dict[str, Any]:
    """Assert an OpenAI error envelope with ``status``; return its ``error`` object."""
    assert resp.status_code == status, f"{resp.status_code}: {resp.text}"
    body = resp.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert {"message", "type", "param", "code"} <= set(err), err
    assert isinstance(err["message"], str) and err["message"], err
    assert isinstance(err["type"], str) and err["type"], err
    return err


def text_of(content: Any) -> str:
    """Text of a Chat Completions message ``content`` (a string or a list of text parts)."""
    if isinstance(content, str):
        return content
    assert isinstance(content, list), content
    return "".join(p["text"] for p in content if p.get("type") == "text")


def upstream_body(fake: FakeChat, n: int = -1) -> dict[str, Any]:
    reqs = fake.chat_requests
    assert reqs, "the upstream received no chat request"
    return reqs[n].body


def output_of(body: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [o for o in body["output"] if o["type"] == kind]


def types_of(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


# -- basics ------------------------------------------------------------------------------------


def test_health(gateway: Gateway) -> None:
    resp = httpx2.get(gateway.url("/health"), timeout=10)
    assert resp.status_code == 200


def test_models_list(gateway: Gateway, openai_client: openai.OpenAI) -> None:
    raw = httpx2.get(gateway.url("/v1/models"), timeout=10)
    assert raw.status_code == 200
    body = raw.json()
    assert body["object"] == "list"
    assert all(m["object"] == "model" and isinstance(m["id"], str) for m in body["data"])
    ids = {m.id for m in openai_client.models.list().data}
    assert {"fake-model", "gpt-5.5"} <= ids


def test_text(fake_chat: FakeChat, openai_client: openai.OpenAI) -> None:
    fake_chat.script(Reply.text("Hello from upstream", usage=chat_usage(11, 4)))
    resp, body = create(openai_client, input="Say hi")
    assert resp.status == "completed"
    assert resp.output_text == "Hello from upstream"
    assert resp.model == MODEL
    assert resp.id.startswith("resp_")
    (msg,) = body["output"]
    assert msg["type"] == "message"
    assert msg["id"].startswith("msg_")
    assert msg["role"] == "assistant"
    assert msg["status"] == "completed"
    (part,) = msg["content"]
    assert (part["type"], part["text"], part["annotations"]) == (
        "output_text",
        "Hello from upstream",
        [],
    )
    assert body["usage"]["input_tokens"] == 11
    assert body["usage"]["output_tokens"] == 4

    (req,) = fake_chat.chat_requests
    assert req.headers["authorization"] == "Bearer sk-upstream-test"
    up = req.body
    assert up["model"] == "upstream-model"
    assert [m["role"] for m in up["messages"]] == ["user"]
    assert text_of(up["messages"][0]["content"]) == "Say hi"


def test_instructions(fake_chat: FakeChat, openai_client: openai.OpenAI) -> None:
    fake_chat.script(Reply.text("Yes."))
    resp, _ = create(openai_client, instructions="You are terse.", input="Are you there?")
    assert resp.instructions == "You are terse."
    assert resp.output_text == "Yes."
    messages = upstream_body(fake_chat)["messages"]
    assert [m["role"] for m in messages] == ["system", "user"]
    assert text_of(messages[0]["content"]) == "You are terse."
    assert text_of(messages[1]["content"]) == "Are you there?"


async def test_async_client_text_and_stream(
    fake_chat: FakeChat, async_openai_client: openai.AsyncOpenAI
) -> None:
    fake_chat.script(Reply.text("async hello"), Reply.text("async stream", chunk_size=3))
    resp = await async_openai_client.responses.create(model=MODEL, input="hi")
    assert resp.output_text == "async hello"
    async with async_openai_client.responses.stream(model=MODEL, input="hi") as stream:
        types = [event.type async for event in stream]
        final = await stream.get_final_response()
    assert types[:2] == ["response.created", "response.in_progress"]
    assert types[-1] == "response.completed"
    assert types.count("response.output_text.delta") == 4
    assert final.output_text == "async stream"


# -- structured output -------------------------------------------------------------------------


class Person(pydantic.BaseModel):
    name: str
    age: int


PERSON_SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
    "additionalProperties": False,
}


def test_structured_output_json_schema(fake_chat: FakeChat, openai_client: openai.OpenAI) -> None:
    fake_chat.script(Reply.text('{"name": "Ada", "age": 36}'))
    fmt = {"type": "json_schema", "name": "person", "schema": PERSON_SCHEMA, "strict": True}
    resp, body = create(openai_client, input="Who?", text={"format": fmt})
    assert json.loads(resp.output_text) == {"name": "Ada", "age": 36}
    assert body["text"]["format"]["type"] == "json_schema"
    assert body["text"]["format"]["name"] == "person"
    rf = upstream_body(fake_chat)["response_format"]
    assert rf["type"] == "json_schema"
    assert rf["json_schema"]["name"] == "person"
    assert rf["json_schema"]["schema"] == PERSON_SCHEMA
    assert rf["json_schema"]["strict"] is True


def test_structured_output_sdk_parse(fake_chat: FakeChat, openai_client: openai.OpenAI) -> None:
    fake_chat.script(Reply.text('{"name": "Grace", "age": 85}', chunk_size=4))
    parsed = openai_client.responses.parse(model=MODEL, input="Who?", text_format=Person)
    assert parsed.output_parsed == Person(name="Grace", age=85)
    rf = upstream_body(fake_chat)["response_format"]
    assert rf["type"] == "json_schema"
    assert rf["json_schema"]["schema"]["required"] == ["name", "age"]


# -- streaming ---------------------------------------------------------------------------------


def test_stream_text(gateway: Gateway, fake_chat: FakeChat) -> None:
    text = "Streaming through the gateway, chunk by chunk."
    fake_chat.script(Reply.text(text, chunk_size=5))
    events, final = stream_events(gateway, input="Stream please")
    assert final.output_text == text
    assert final.status == "completed"
    deltas = [e["delta"] for e in events if e["type"] == "response.output_text.delta"]
    assert "".join(deltas) == text
    assert len(deltas) > 1, "text should be streamed in several deltas"
    assert types_of(events)[-1] == "response.completed"
    up = upstream_body(fake_chat)
    assert up["stream"] is True


def test_stream_raw_framing(gateway: Gateway, fake_chat: FakeChat) -> None:
    fake_chat.script(Reply.text("framed", chunk_size=2))
    events = raw_sse(gateway, {"model": MODEL, "input": "hi"})
    final = check_event_order(events)
    assert final["output"][0]["content"][0]["text"] == "framed"
    validate_response(final)


# -- tools -------------------------------------------------------------------------------------


def test_function_tool_round_trip(fake_chat: FakeChat, openai_client: openai.OpenAI) -> None:
    fake_chat.script(
        Reply.tool_calls([("call_weather_1", "get_weather", '{"city":"Paris"}')]),
        Reply.text("It is 18C and sunny in Paris."),
    )
    user = {"role": "user", "content": "Weather in Paris?"}
    _resp, body = create(openai_client, input=[user], tools=[WEATHER_TOOL])
    (call,) = body["output"]
    assert call["type"] == "function_call"
    assert call["id"].startswith("fc_")
    assert call["call_id"] == "call_weather_1"
    assert call["name"] == "get_weather"
    assert call["arguments"] == '{"city":"Paris"}'
    assert call["status"] == "completed"

    (tool,) = upstream_body(fake_chat)["tools"]
    assert tool["type"] == "function"
    assert tool["function"]["name"] == "get_weather"
    assert tool["function"]["description"] == WEATHER_TOOL["description"]
    assert tool["function"]["parameters"] == WEATHER_TOOL["parameters"]

    output = {"type": "function_call_output", "call_id": "call_weather_1", "output": "18C sunny"}
    resp2, _ = create(openai_client, input=[user, call, output], tools=[WEATHER_TOOL])
    assert resp2.output_text == "It is 18C and sunny in Paris."
    messages = upstream_body(fake_chat)["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool"]
    (tc,) = messages[1]["tool_calls"]
    assert tc["id"] == "call_weather_1"
    assert tc["type"] == "function"
    assert tc["function"]["name"] == "get_weather"
    assert json.loads(tc["function"]["arguments"]) == {"city": "Paris"}
    assert messages[2]["tool_call_id"] == "call_weather_1"
    assert text_of(messages[2]["content"]) == "18C sunny"


PARALLEL = [
    ("call_par_a", "get_weather", json.dumps({"city": "Paris", "note": "a" * 30})),
    ("call_par_b", "get_weather", json.dumps({"city": "Rome", "note": "b" * 30})),
    ("call_par_c", "get_weather", json.dumps({"city": "Oslo", "note": "c" * 30})),
]


@pytest.mark.parametrize("interleave", [False, True], ids=["sequential", "interleaved"])
def test_parallel_tool_calls_stream(
    gateway: Gateway, fake_chat: FakeChat, interleave: bool
) -> None:
    fake_chat.script(Reply.tool_calls(PARALLEL, chunk_size=6, interleave_tools=interleave))
    events, final = stream_events(gateway, input="Three cities", tools=[WEATHER_TOOL])
    calls = [o.to_dict() for o in final.output if o.type == "function_call"]
    assert [(c["call_id"], c["name"], c["arguments"]) for c in calls] == PARALLEL
    assert len({c["id"] for c in calls}) == 3
    assert all(c["status"] == "completed" for c in calls)
    done = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    assert [d["call_id"] for d in done if d["type"] == "function_call"] == [p[0] for p in PARALLEL]
    arg_done = [e for e in events if e["type"] == "response.function_call_arguments.done"]
    assert [e["arguments"] for e in arg_done] == [p[2] for p in PARALLEL]


@pytest.mark.parametrize("interleave", [False, True], ids=["sequential", "interleaved"])
def test_parallel_tool_calls_json(
    fake_chat: FakeChat, openai_client: openai.OpenAI, interleave: bool
) -> None:
    fake_chat.script(Reply.tool_calls(PARALLEL, chunk_size=6, interleave_tools=interleave))
    _, body = create(openai_client, input="Three cities", tools=[WEATHER_TOOL])
    calls = output_of(body, "function_call")
    assert [(c["call_id"], c["name"], c["arguments"]) for c in calls] == PARALLEL
    assert len({c["id"] for c in calls}) == 3


def _shim_arg(upstream: dict[str, Any]) -> str:
    """The string argument of the function shim the gateway sent upstream for apply_patch."""
    (shim,) = [t for t in upstream["tools"] if t["function"]["name"] == "apply_patch"]
    assert shim["type"] == "function"
    params = shim["function"]["parameters"]
    assert params["type"] == "object"
    (arg,) = params["required"]
    assert params["properties"][arg]["type"] == "string"
    return arg


def _patch_call(upstream: dict[str, Any]) -> Reply:
    args = json.dumps({_shim_arg(upstream): PATCH})
    return Reply.tool_calls([("call_patch_1", "apply_patch", args)], chunk_size=9)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_custom_tool_round_trip(
    gateway: Gateway, fake_chat: FakeChat, openai_client: openai.OpenAI, stream: bool
) -> None:
    fake_chat.script(_patch_call, Reply.text("Patched."))
    request = {"model": MODEL, "input": "Create hello.txt", "tools": [APPLY_PATCH_TOOL]}
    if stream:
        events = raw_sse(gateway, request)
        final = check_event_order(events)
        validate_response(final)
        (item,) = final["output"]
        inputs = [e for e in events if e["type"] == "response.custom_tool_call_input.done"]
        assert [e["input"] for e in inputs] == [PATCH]
        assert not [e for e in events if e["type"].startswith("response.function_call")]
    else:
        _, body = create(openai_client, **request)
        (item,) = body["output"]
    assert item["type"] == "custom_tool_call"
    assert item["call_id"] == "call_patch_1"
    assert item["name"] == "apply_patch"
    assert item["input"] == PATCH, "custom tool input must be the raw text, not JSON-wrapped"
    arg = _shim_arg(upstream_body(fake_chat))

    out = {"type": "custom_tool_call_output", "call_id": "call_patch_1", "output": "Done!"}
    user = {"role": "user", "content": "Create hello.txt"}
    resp, _ = create(openai_client, input=[user, item, out], tools=[APPLY_PATCH_TOOL])
    assert resp.output_text == "Patched."
    messages = upstream_body(fake_chat)["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool"]
    (tc,) = messages[1]["tool_calls"]
    assert tc["id"] == "call_patch_1"
    assert tc["function"]["name"] == "apply_patch"
    assert json.loads(tc["function"]["arguments"]) == {arg: PATCH}
    assert messages[2]["tool_call_id"] == "call_patch_1"
    assert text_of(messages[2]["content"]) == "Done!"


def test_unsupported_tool_type_is_400(fake_chat: FakeChat, gateway: Gateway) -> None:
    body = {
        "model": MODEL,
        "input": "search my files",
        "tools": [{"type": "file_search", "vector_store_ids": ["vs_1"]}],
    }
    err = envelope(post(gateway, "/v1/responses", body), 400)
    assert "file_search" in f"{err['message']} {err['param']}"
    assert fake_chat.chat_requests == []


@pytest.mark.parametrize(
    ("field", "value"),
    [("conversation", "conv_1"), ("prompt", {"id": "pmpt_1", "variables": {"city": "Paris"}})],
)
@pytest.mark.parametrize("stream", [False, True])
def test_openai_stored_object_is_400_not_dropped(
    fake_chat: FakeChat, openai_client: openai.OpenAI, field: str, value: Any, stream: bool
) -> None:
    """A chat upstream would answer without the conversation's items or the prompt's text."""
    with pytest.raises(openai.BadRequestError) as info:
        openai_client.responses.create(model=MODEL, input="hi", stream=stream, **{field: value})
    assert info.value.status_code == 400
    body = info.value.body
    assert isinstance(body, dict) and body["param"] == field, body
    assert body["code"] == "unsupported_feature"
    assert "Chat Completions" in body["message"]
    assert fake_chat.chat_requests == []


def test_web_search_tool_is_dropped(fake_chat: FakeChat, openai_client: openai.OpenAI) -> None:
    fake_chat.script(Reply.text("no search needed"))
    resp, _ = create(
        openai_client,
        input="hi",
        tools=[{"type": "web_search"}, WEATHER_TOOL],
    )
    assert resp.output_text == "no search needed"
    tools = upstream_body(fake_chat)["tools"]
    assert [t["function"]["name"] for t in tools] == ["get_weather"]
    assert "web_search" not in json.dumps(upstream_body(fake_chat))


# -- reasoning (DeepSeek reasoning_content) ----------------------------------------------------

REASONING = "The user asks 2+2. Two plus two is four."


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_reasoning_item_and_replay(
    gateway: Gateway, fake_chat: FakeChat, openai_client: openai.OpenAI, stream: bool
) -> None:
    fake_chat.script(
        Reply.text("2+2 = 4.", reasoning_content=REASONING, chunk_size=7),
        Reply.text("3+3 = 6."),
    )
    user = {"role": "user", "content": "What is 2+2?"}
    request = {"input": [user], "store": False, "include": ["reasoning.encrypted_content"]}
    if stream:
        events, _ = stream_events(gateway, **request)
        output = events[-1]["response"]["output"]
    else:
        _, body = create(openai_client, **request)
        output = body["output"]
    assert [o["type"] for o in output] == ["reasoning", "message"]
    rs = output[0]
    assert rs["id"].startswith("rs_")
    assert rs["summary"] == [{"type": "summary_text", "text": REASONING}]
    blob = rs["encrypted_content"]
    assert isinstance(blob, str) and len(blob) > 20
    assert REASONING not in blob and "two is four" not in blob, "the blob must be sealed"
    assert output[1]["content"][0]["text"] == "2+2 = 4."

    follow_up = {"role": "user", "content": "And 3+3?"}
    resp2, _ = create(openai_client, input=[user, rs, output[1], follow_up], store=False)
    assert resp2.output_text == "3+3 = 6."
    messages = upstream_body(fake_chat)["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert text_of(messages[1]["content"]) == "2+2 = 4."
    assert messages[1]["reasoning_content"] == REASONING


def test_reasoning_replayed_with_tool_calls(
    fake_chat: FakeChat, openai_client: openai.OpenAI
) -> None:
    """DeepSeek rejects a tool-call turn whose assistant message lost its reasoning_content."""
    fake_chat.script(
        Reply.tool_calls(
            [("call_r1", "get_weather", '{"city":"Lima"}')], reasoning_content="Need weather."
        ),
        Reply.text("Lima is mild."),
    )
    user = {"role": "user", "content": "Weather in Lima?"}
    _, body = create(
        openai_client, input=[user], tools=[WEATHER_TOOL], include=["reasoning.encrypted_content"]
    )
    assert [o["type"] for o in body["output"]] == ["reasoning", "function_call"]
    out = {"type": "function_call_output", "call_id": "call_r1", "output": "mild"}
    create(openai_client, input=[user, *body["output"], out], tools=[WEATHER_TOOL])
    messages = upstream_body(fake_chat)["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool"]
    assert messages[1]["reasoning_content"] == "Need weather."
    assert messages[1]["tool_calls"][0]["id"] == "call_r1"


def _tamper(blob: str) -> str:
    mid = len(blob) // 2
    return blob[:mid] + ("A" if blob[mid] != "A" else "B") + blob[mid + 1 :]


@pytest.mark.parametrize("forgery", ["forged", "tampered"])
def test_forged_encrypted_content_is_never_forwarded(
    fake_chat: FakeChat, openai_client: openai.OpenAI, forgery: str
) -> None:
    fake_chat.script(Reply.text("Four.", reasoning_content="secret chain of thought"))
    _, body = create(openai_client, input="2+2?", include=["reasoning.encrypted_content"])
    rs, msg = body["output"]
    blob = "gAAAAforged-by-client==" if forgery == "forged" else _tamper(rs["encrypted_content"])
    assert blob != rs["encrypted_content"]
    fake_reasoning = {**rs, "encrypted_content": blob}
    fake_chat.reset()
    fake_chat.script(Reply.text("ok"))
    history = [
        {"role": "user", "content": "2+2?"},
        fake_reasoning,
        msg,
        {"role": "user", "content": "and now?"},
    ]
    resp = openai_client.responses.with_raw_response.create(model=MODEL, input=history)
    assert resp.http_response.status_code == 200
    raw = fake_chat.last.raw.decode()
    assert blob not in raw
    assert "secret chain of thought" not in raw
    for m in upstream_body(fake_chat)["messages"]:
        assert "reasoning_content" not in m or not m["reasoning_content"], m


# -- incomplete and usage ----------------------------------------------------------------------


def test_length_is_incomplete_json(fake_chat: FakeChat, openai_client: openai.OpenAI) -> None:
    fake_chat.script(Reply.text("Once upon a", finish_reason="length", usage=chat_usage(10, 16)))
    resp, body = create(openai_client, input="Tell a story", max_output_tokens=16)
    assert body["status"] == "incomplete"
    assert body["incomplete_details"] == {"reason": "max_output_tokens"}
    assert resp.output_text == "Once upon a"
    assert body["usage"]["input_tokens"] == 10
    assert body["usage"]["output_tokens"] == 16
    up = upstream_body(fake_chat)
    assert 16 in (up.get("max_tokens"), up.get("max_completion_tokens"))


def test_length_is_incomplete_stream(gateway: Gateway, fake_chat: FakeChat) -> None:
    fake_chat.script(
        Reply.text("Once upon a", finish_reason="length", usage=chat_usage(10, 16), chunk_size=4)
    )
    events = raw_sse(gateway, {"model": MODEL, "input": "Tell a story"})
    final = check_event_order(events)
    assert events[-1]["type"] == "response.incomplete"
    assert final["status"] == "incomplete"
    assert final["incomplete_details"] == {"reason": "max_output_tokens"}
    assert final["usage"]["input_tokens"] == 10
    assert final["usage"]["output_tokens"] == 16


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_usage_mapping(
    gateway: Gateway, fake_chat: FakeChat, openai_client: openai.OpenAI, stream: bool
) -> None:
    usage = chat_usage(100, 40, cached=64, reasoning=25)
    fake_chat.script(Reply.text("counted", reasoning_content="hmm", usage=usage))
    if stream:
        events, final = stream_events(gateway, input="count")
        usage = events[-1]["response"]["usage"]
        assert final.usage.output_tokens_details.reasoning_tokens == 25
        assert upstream_body(fake_chat)["stream_options"]["include_usage"] is True
    else:
        _, body = create(openai_client, input="count")
        usage = body["usage"]
    assert usage["input_tokens"] == 100
    assert usage["output_tokens"] == 40
    assert usage["total_tokens"] == 140
    assert usage["input_tokens_details"]["cached_tokens"] == 64
    assert usage["output_tokens_details"]["reasoning_tokens"] == 25


# -- upstream errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_upstream_429_keeps_retry_after(
    fake_chat: FakeChat, openai_client: openai.OpenAI, stream: bool
) -> None:
    fake_chat.script(
        Reply.error(
            429,
            {
                "error": {
                    "message": "Rate limit reached",
                    "type": "rate_limit_error",
                    "param": None,
                    "code": "rate_limit_exceeded",
                }
            },
            headers={"Retry-After": "7"},
        )
    )
    with pytest.raises(openai.RateLimitError) as info:
        openai_client.responses.create(model=MODEL, input="hi", stream=stream)
    err = envelope(info.value.response, 429)
    assert info.value.response.headers["retry-after"] == "7"
    assert err["type"] == "rate_limit_error"


def test_upstream_401_is_502(fake_chat: FakeChat, gateway: Gateway) -> None:
    fake_chat.script(Reply.error(401))
    resp = post(gateway, "/v1/responses", {"model": MODEL, "input": "hi"})
    envelope(resp, 502)
    assert "sk-upstream-test" not in resp.text


def test_upstream_500_is_502(fake_chat: FakeChat, gateway: Gateway) -> None:
    fake_chat.script(Reply.error(500), Reply.error(500), Reply.error(500))
    envelope(post(gateway, "/v1/responses", {"model": MODEL, "input": "hi"}), 502)


@pytest.mark.parametrize("failure", ["connection_cut", "error_chunk"])
def test_mid_stream_failure(gateway: Gateway, fake_chat: FakeChat, failure: str) -> None:
    text = "x" * 60
    if failure == "connection_cut":
        reply = Reply.text(text, chunk_size=5, fail_after=4, delay=0.05)
    else:
        reply = Reply.text(
            text,
            chunk_size=5,
            stream_error={"message": "overloaded", "type": "server_error", "code": None},
            stream_error_after=4,
        )
    fake_chat.script(reply)
    events = raw_sse(gateway, {"model": MODEL, "input": "go"})
    final = check_event_order(events)
    assert types_of(events)[-2:] == ["error", "response.failed"]
    assert final["status"] == "failed"
    assert isinstance(final["error"]["message"], str) and final["error"]["message"]
    deltas = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert deltas == "x" * 15, "text received before the failure should have been streamed"


# -- request validation ------------------------------------------------------------------------


def test_unknown_model_is_404(fake_chat: FakeChat, openai_client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        openai_client.responses.create(model="no-such-model", input="hi")
    err = envelope(info.value.response, 404)
    assert err["code"] == "model_not_found"
    assert fake_chat.requests == []


def test_malformed_json_is_400(fake_chat: FakeChat, gateway: Gateway) -> None:
    err = envelope(post(gateway, "/v1/responses", b'{"model": "fake-model", "input": '), 400)
    assert err["type"] == "invalid_request_error"
    assert fake_chat.requests == []


@pytest.mark.parametrize(
    ("field", "value"),
    [("input", 42), ("temperature", "hot"), ("tools", {"type": "function"})],
)
def test_wrong_field_type_is_400(
    fake_chat: FakeChat, gateway: Gateway, field: str, value: Any
) -> None:
    body = {"model": MODEL, "input": "hi", field: value}
    err = envelope(post(gateway, "/v1/responses", body), 400)
    assert err["type"] == "invalid_request_error"
    assert field in f"{err['param']} {err['message']}"
    assert fake_chat.chat_requests == []


def test_chunked_body_is_read_whole_and_capped(
    fake_chat: FakeChat, start_gateway, gateway_config
) -> None:
    """A body of no stated length (chunked) is read piece by piece: joined whole below the cap,
    refused with 413 once it passes it."""
    small = start_gateway(gateway_config(max_body_bytes=4000))
    headers = {"Authorization": "Bearer sk-client", "Content-Type": "application/json"}

    def chunked(body: dict[str, Any]) -> httpx2.Response:
        data = json.dumps(body).encode()
        pieces = (data[i : i + 100] for i in range(0, len(data), 100))  # one write each
        return httpx2.post(small.url("/v1/responses"), content=pieces, headers=headers, timeout=30)

    fake_chat.script(Reply.text("whole"))
    text = "abc " * 800  # 3,200 bytes: 33 pieces
    ok = chunked({"model": MODEL, "input": text})
    assert ok.status_code == 200, ok.text
    assert ok.json()["output"][0]["content"][0]["text"] == "whole"
    assert fake_chat.chat_requests[-1].body["messages"][-1]["content"] == text
    calls = len(fake_chat.chat_requests)
    envelope(chunked({"model": MODEL, "input": "x" * 5000}), 413)
    assert len(fake_chat.chat_requests) == calls


def test_body_over_cap_is_413(fake_chat: FakeChat, start_gateway, gateway_config) -> None:
    small = start_gateway(gateway_config(max_body_bytes=1000))
    envelope(post(small, "/v1/responses", {"model": MODEL, "input": "x" * 5000}), 413)
    assert fake_chat.chat_requests == []
    fake_chat.script(Reply.text("small is fine"))
    ok = post(small, "/v1/responses", {"model": MODEL, "input": "hi"})
    assert ok.status_code == 200, ok.text
    assert ok.json()["output"][0]["content"][0]["text"] == "small is fine"
