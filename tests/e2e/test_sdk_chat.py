"""The official openai SDK's Chat Completions calls against a running gateway.

One gateway process serves the module (``gateway`` fixture) over the fake Chat Completions
upstream (profile deepseek), reset per test. The SDK parses every answer with its own models;
raw bodies are checked where the wire shape matters (chunk fields, usage chunk, [DONE]).
"""

from __future__ import annotations

import json
from typing import Any

import httpx2
import openai
import pydantic
import pytest

from tests.support.fake_chat import FakeChat, Reply, chat_usage
from tests.support.gateway import Gateway
from tests.support.validate import parse_sse

MODEL = "fake-model"
PNG = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4"
    "DwABBAEAwS2OUAAAAABJRU5ErkJggg=="
)

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}
PARALLEL = [
    ("call_p1", "get_weather", '{"city": "Paris"}'),
    ("call_p2", "get_weather", '{"city": "Tokyo"}'),
    ("call_p3", "get_weather", '{"city": "Lima"}'),
]


def ask(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def upstream_body(fake: FakeChat, n: int = -1) -> dict[str, Any]:
    reqs = fake.chat_requests
    assert reqs, "the upstream received no chat request"
    return reqs[n].body


def post(gateway: Gateway, body: Any, path: str = "/v1/chat/completions") -> httpx2.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Authorization": "Bearer sk-client", "Content-Type": "application/json"}
    return httpx2.post(gateway.url(path), content=content, headers=headers, timeout=30)


def raw_chunks(gateway: Gateway, body: dict[str, Any]) -> list[dict[str, Any]]:
    """POST a streaming chat request without the SDK; return its chunks ([DONE] checked)."""
    headers = {"Authorization": "Bearer sk-client"}
    with httpx2.stream(
        "POST",
        gateway.url("/v1/chat/completions"),
        json={"model": MODEL, **body, "stream": True},
        headers=headers,
        timeout=30,
    ) as resp:
        raw = resp.read()
    assert resp.status_code == 200, raw.decode()
    assert resp.headers["content-type"].startswith("text/event-stream")
    chunks, _ = parse_sse(raw)
    return chunks


def envelope(resp: httpx2.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, f"{resp.status_code}: {resp.text}"
    body = resp.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert {"message", "type", "param", "code"} <= set(err), err
    assert isinstance(err["message"], str) and err["message"], err
    return err


# -- create ------------------------------------------------------------------------------------


def test_create_text(gateway: Gateway, fake_chat: FakeChat, openai_client: openai.OpenAI) -> None:
    fake_chat.script(Reply.text("Hello from upstream", usage=chat_usage(11, 4, cached=3)))
    raw = openai_client.chat.completions.with_raw_response.create(
        model=MODEL, messages=ask("Say hi")
    )
    body = raw.http_response.json()
    completion = raw.parse()
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == MODEL
    (choice,) = completion.choices
    assert choice.index == 0
    assert choice.message.role == "assistant"
    assert choice.message.content == "Hello from upstream"
    assert choice.message.refusal is None
    assert choice.message.tool_calls is None
    assert choice.finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (11, 4)
    assert completion.usage.total_tokens == 15
    assert completion.usage.prompt_tokens_details.cached_tokens == 3
    assert set(body) >= {"id", "object", "created", "model", "choices", "usage"}
    assert body["choices"][0]["logprobs"] is None
    assert "system_fingerprint" in body and body["system_fingerprint"] is None

    (req,) = fake_chat.chat_requests
    assert req.headers["authorization"] == "Bearer sk-upstream-test"
    assert req.body["model"] == "upstream-model"
    assert req.body["messages"] == [{"role": "user", "content": "Say hi"}]


def test_create_with_system_prompt(fake_chat: FakeChat, openai_client: openai.OpenAI) -> None:
    fake_chat.script(Reply.text("Yes."))
    completion = openai_client.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "system", "content": "You are terse."},
            {"role": "developer", "content": "Answer in one word."},
            {"role": "user", "content": "Are you there?"},
        ],
    )
    assert completion.choices[0].message.content == "Yes."
    messages = upstream_body(fake_chat)["messages"]
    assert messages == [
        {"role": "system", "content": "You are terse.\n\nAnswer in one word."},
        {"role": "user", "content": "Are you there?"},
    ]


def test_create_with_image_part(fake_chat: FakeChat, openai_client: openai.OpenAI) -> None:
    fake_chat.script(Reply.text("A red pixel."))
    completion = openai_client.chat.completions.create(
        model=MODEL,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": PNG, "detail": "low"}},
                ],
            }
        ],
    )
    assert completion.choices[0].message.content == "A red pixel."
    (msg,) = upstream_body(fake_chat)["messages"]
    assert msg["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": PNG, "detail": "low"}},
    ]


def test_path_without_v1(gateway: Gateway, fake_chat: FakeChat) -> None:
    fake_chat.script(Reply.text("ok"))
    resp = post(gateway, {"model": MODEL, "messages": ask("hi")}, path="/chat/completions")
    assert resp.status_code == 200, resp.text
    assert resp.json()["choices"][0]["message"]["content"] == "ok"


# -- stream ------------------------------------------------------------------------------------


def test_stream_chunks(gateway: Gateway, fake_chat: FakeChat, openai_client: openai.OpenAI) -> None:
    fake_chat.script(Reply.text("Hello, streaming world", chunk_size=4, usage=chat_usage(9, 5)))
    stream = openai_client.chat.completions.create(
        model=MODEL,
        messages=ask("hi"),
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert len({c.id for c in chunks}) == 1
    assert all(c.object == "chat.completion.chunk" and c.model == MODEL for c in chunks)
    first = chunks[0].choices[0]
    assert first.delta.role == "assistant" and first.delta.content == ""
    body, usage = chunks[:-1], chunks[-1]
    text = "".join(c.choices[0].delta.content or "" for c in body)
    assert text == "Hello, streaming world"
    assert len([c for c in body if c.choices[0].delta.content]) == 6
    reasons = [c.choices[0].finish_reason for c in body]
    assert reasons[-1] == "stop" and set(reasons[:-1]) == {None}
    assert all(c.usage is None for c in body)
    assert usage.choices == []
    assert usage.usage is not None
    assert (usage.usage.prompt_tokens, usage.usage.completion_tokens) == (9, 5)


def test_stream_raw_wire(gateway: Gateway, fake_chat: FakeChat) -> None:
    fake_chat.script(Reply.text("Hi there", chunk_size=3))
    chunks = raw_chunks(gateway, {"messages": ask("hi")})
    for c in chunks:
        assert set(c) == {"id", "object", "created", "model", "choices"}, c
        (choice,) = c["choices"]
        assert set(choice) == {"index", "delta", "finish_reason", "logprobs"}
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    assert chunks[-1]["choices"][0] == {
        "index": 0,
        "delta": {},
        "finish_reason": "stop",
        "logprobs": None,
    }


# -- tools -------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_tool_round_trip(fake_chat: FakeChat, openai_client: openai.OpenAI, stream: bool) -> None:
    fake_chat.script(
        Reply.tool_calls([("call_w1", "get_weather", '{"city": "Paris"}')], chunk_size=5),
        Reply.text("It is sunny in Paris."),
    )
    messages: list[Any] = ask("Weather in Paris?")
    if stream:
        with openai_client.chat.completions.stream(
            model=MODEL, messages=messages, tools=[WEATHER_TOOL]
        ) as s:
            for _ in s:
                pass
            completion: Any = s.get_final_completion()
    else:
        completion = openai_client.chat.completions.create(
            model=MODEL, messages=messages, tools=[WEATHER_TOOL]
        )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    (tc,) = choice.message.tool_calls
    assert (tc.id, tc.type, tc.function.name) == ("call_w1", "function", "get_weather")
    assert json.loads(tc.function.arguments) == {"city": "Paris"}
    assert upstream_body(fake_chat)["tools"] == [WEATHER_TOOL]

    messages += [
        choice.message.model_dump(exclude_none=True, exclude={"parsed", "annotations"}),
        {"role": "tool", "tool_call_id": "call_w1", "content": "sunny, 21C"},
    ]
    final = openai_client.chat.completions.create(
        model=MODEL, messages=messages, tools=[WEATHER_TOOL]
    )
    assert final.choices[0].message.content == "It is sunny in Paris."
    up = upstream_body(fake_chat)["messages"]
    assert [m["role"] for m in up] == ["user", "assistant", "tool"]
    assert up[1]["tool_calls"][0]["id"] == "call_w1"
    assert json.loads(up[1]["tool_calls"][0]["function"]["arguments"]) == {"city": "Paris"}
    assert up[2] == {"role": "tool", "tool_call_id": "call_w1", "content": "sunny, 21C"}


@pytest.mark.parametrize("interleave", [False, True], ids=["sequential", "interleaved"])
def test_parallel_tool_calls_streamed(
    fake_chat: FakeChat, openai_client: openai.OpenAI, interleave: bool
) -> None:
    fake_chat.script(Reply.tool_calls(PARALLEL, chunk_size=6, interleave_tools=interleave))
    with openai_client.chat.completions.stream(
        model=MODEL, messages=ask("Three cities"), tools=[WEATHER_TOOL]
    ) as s:
        done = [e for e in s if e.type == "tool_calls.function.arguments.done"]
        completion = s.get_final_completion()
    assert [(e.index, e.name, e.arguments) for e in done] == [
        (i, name, args) for i, (_, name, args) in enumerate(PARALLEL)
    ]
    calls = completion.choices[0].message.tool_calls
    assert [(c.id, c.function.name, c.function.arguments) for c in calls] == PARALLEL
    assert completion.choices[0].finish_reason == "tool_calls"


# -- reasoning (DeepSeek reasoning_content) ----------------------------------------------------

REASONING = "The user asks 2+2. Two plus two is four."


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_reasoning_content_passed_through_and_replayed(
    fake_chat: FakeChat, openai_client: openai.OpenAI, stream: bool
) -> None:
    fake_chat.script(
        Reply.text("2+2 = 4.", reasoning_content=REASONING, chunk_size=7),
        Reply.text("3+3 = 6."),
    )
    if stream:
        chunks = list(
            openai_client.chat.completions.create(
                model=MODEL, messages=ask("What is 2+2?"), stream=True
            )
        )
        deltas = [c.choices[0].delta for c in chunks]
        reasoning = "".join(getattr(d, "reasoning_content", None) or "" for d in deltas)
        content = "".join(d.content or "" for d in deltas)
        first_text = next(i for i, d in enumerate(deltas) if d.content)
        assert all(not getattr(d, "reasoning_content", None) for d in deltas[first_text:])
    else:
        msg = (
            openai_client.chat.completions.create(model=MODEL, messages=ask("What is 2+2?"))
            .choices[0]
            .message
        )
        reasoning, content = msg.reasoning_content, msg.content  # type: ignore[attr-defined]
    assert reasoning == REASONING
    assert content == "2+2 = 4."

    history = [
        *ask("What is 2+2?"),
        {"role": "assistant", "content": content, "reasoning_content": reasoning},
        *ask("And 3+3?"),
    ]
    follow = openai_client.chat.completions.create(model=MODEL, messages=history)
    assert follow.choices[0].message.content == "3+3 = 6."
    up = upstream_body(fake_chat)["messages"]
    assert up[1] == {"role": "assistant", "content": "2+2 = 4.", "reasoning_content": REASONING}


# -- structured output -------------------------------------------------------------------------


class Person(pydantic.BaseModel):
    name: str
    age: int


def test_structured_output_parse(fake_chat: FakeChat, openai_client: openai.OpenAI) -> None:
    fake_chat.script(Reply.text('{"name": "Ada", "age": 36}'))
    completion = openai_client.chat.completions.parse(
        model=MODEL, messages=ask("Who?"), response_format=Person
    )
    assert completion.choices[0].message.parsed == Person(name="Ada", age=36)
    fmt = upstream_body(fake_chat)["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "Person"
    assert fmt["json_schema"]["strict"] is True
    assert set(fmt["json_schema"]["schema"]["properties"]) == {"name", "age"}


def test_json_object_response_format(fake_chat: FakeChat, openai_client: openai.OpenAI) -> None:
    fake_chat.script(Reply.text('{"ok": true}'))
    openai_client.chat.completions.create(
        model=MODEL, messages=ask("JSON please"), response_format={"type": "json_object"}
    )
    assert upstream_body(fake_chat)["response_format"] == {"type": "json_object"}


# -- limits and usage --------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_length_cut_is_finish_reason_length(
    fake_chat: FakeChat, openai_client: openai.OpenAI, stream: bool
) -> None:
    fake_chat.script(
        Reply.text("Once upon a", finish_reason="length", usage=chat_usage(10, 16), chunk_size=4)
    )
    kw: dict[str, Any] = {"model": MODEL, "messages": ask("Tell a story"), "max_tokens": 16}
    if stream:
        chunks = list(
            openai_client.chat.completions.create(
                **kw, stream=True, stream_options={"include_usage": True}
            )
        )
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        reason = [c.choices[0].finish_reason for c in chunks if c.choices][-1]
        usage = chunks[-1].usage
    else:
        completion = openai_client.chat.completions.create(**kw)
        text = completion.choices[0].message.content or ""
        reason, usage = completion.choices[0].finish_reason, completion.usage
    assert text == "Once upon a"
    assert reason == "length"
    assert usage is not None and usage.completion_tokens == 16
    assert upstream_body(fake_chat)["max_tokens"] == 16


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_upstream_429_keeps_retry_after(
    fake_chat: FakeChat, openai_client: openai.OpenAI, stream: bool
) -> None:
    fake_chat.script(Reply.error(429, headers={"Retry-After": "7"}))
    with pytest.raises(openai.RateLimitError) as info:
        openai_client.chat.completions.create(model=MODEL, messages=ask("hi"), stream=stream)
    assert info.value.response.headers["retry-after"] == "7"
    err = envelope(info.value.response, 429)
    assert err["type"] == "rate_limit_error"


def test_unknown_model_is_404(fake_chat: FakeChat, openai_client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        openai_client.chat.completions.create(model="no-such-model", messages=ask("hi"))
    err = envelope(info.value.response, 404)
    assert err["code"] == "model_not_found"
    assert fake_chat.requests == []


def test_n_above_one_is_400(fake_chat: FakeChat, openai_client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        openai_client.chat.completions.create(model=MODEL, messages=ask("hi"), n=2)
    err = envelope(info.value.response, 400)
    assert err["param"] == "n"
    assert "one choice" in err["message"]
    assert fake_chat.requests == []


@pytest.mark.parametrize(
    ("field", "value"),
    [("messages", "hi"), ("temperature", "hot"), ("tools", {"type": "function"})],
)
def test_wrong_field_type_is_400(
    fake_chat: FakeChat, gateway: Gateway, field: str, value: Any
) -> None:
    body = {"model": MODEL, "messages": ask("hi"), field: value}
    err = envelope(post(gateway, body), 400)
    assert err["type"] == "invalid_request_error"
    assert err["param"] == field
    assert fake_chat.chat_requests == []


def test_malformed_json_is_400(fake_chat: FakeChat, gateway: Gateway) -> None:
    err = envelope(post(gateway, b'{"model": "fake-model", "messages": '), 400)
    assert err["type"] == "invalid_request_error"


def test_mid_stream_failure_is_an_error_chunk(
    gateway: Gateway, fake_chat: FakeChat, openai_client: openai.OpenAI
) -> None:
    reply = Reply.text(
        "x" * 60,
        chunk_size=5,
        stream_error={"message": "overloaded", "type": "server_error", "code": None},
        stream_error_after=4,
    )
    fake_chat.script(reply, reply)
    chunks = raw_chunks(gateway, {"messages": ask("go")})
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks[:-1])
    assert text == "x" * 15, "text received before the failure should have been streamed"
    assert chunks[-1] == {
        "error": {
            "message": "overloaded",
            "type": "server_error",
            "param": None,
            "code": "server_error",
        }
    }
    with pytest.raises(openai.APIError, match="overloaded"):
        for _ in openai_client.chat.completions.create(
            model=MODEL, messages=ask("go"), stream=True
        ):
            pass


# -- passthrough -------------------------------------------------------------------------------


def test_unknown_fields_reach_the_chat_upstream(
    fake_chat: FakeChat, openai_client: openai.OpenAI
) -> None:
    fake_chat.script(Reply.text("ok"))
    vendor = {"deep": [1, {"a": None}], "flag": True}
    openai_client.chat.completions.create(
        model=MODEL,
        messages=ask("hi"),
        logit_bias={"50256": -100},
        extra_body={"x_vendor": vendor, "top_k": 40},
    )
    up = upstream_body(fake_chat)
    assert up["x_vendor"] == vendor
    assert up["top_k"] == 40
    assert up["logit_bias"] == {"50256": -100}
