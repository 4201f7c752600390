"""The fake provider's own test: the official ``openai`` SDK must read what it sends."""

from __future__ import annotations

import itertools
import json
import time

import httpx2 as httpx
import openai
import pytest

from tests.support.fake_chat import FakeChat, Reply, chat_usage

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


@pytest.fixture
def client(fake_chat: FakeChat) -> openai.OpenAI:
    with openai.OpenAI(base_url=fake_chat.base_url, api_key="sk-test", max_retries=0) as c:
        yield c


def ask(client: openai.OpenAI, **kw):
    kw.setdefault("model", "upstream-model")
    kw.setdefault("messages", [{"role": "user", "content": "hi"}])
    return client.chat.completions.create(**kw)


def collect(stream) -> list:
    return list(stream)


def assemble_tool_calls(chunks) -> dict[int, dict]:
    calls: dict[int, dict] = {}
    for ch in chunks:
        if not ch.choices:
            continue
        for tc in ch.choices[0].delta.tool_calls or []:
            entry = calls.setdefault(tc.index, {"id": None, "name": None, "arguments": ""})
            if tc.id is not None:
                assert entry["id"] is None, "id sent twice for one call"
                entry["id"] = tc.id
                assert tc.type == "function"
            if tc.function is not None:
                if tc.function.name is not None:
                    entry["name"] = tc.function.name
                entry["arguments"] += tc.function.arguments or ""
    return calls


def test_json_text_records_request(fake_chat: FakeChat, client: openai.OpenAI) -> None:
    fake_chat.script(Reply.text("Hello there", usage=chat_usage(20, 5, cached=8, reasoning=2)))
    resp = ask(client, temperature=0.2)
    assert resp.object == "chat.completion"
    assert resp.id.startswith("chatcmpl-")
    assert resp.model == "upstream-model"
    choice = resp.choices[0]
    assert choice.index == 0
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert choice.message.content == "Hello there"
    assert choice.message.refusal is None
    assert choice.message.tool_calls is None
    assert resp.usage is not None
    assert resp.usage.prompt_tokens == 20
    assert resp.usage.completion_tokens == 5
    assert resp.usage.total_tokens == 25
    assert resp.usage.prompt_tokens_details.cached_tokens == 8
    assert resp.usage.completion_tokens_details.reasoning_tokens == 2

    (req,) = fake_chat.requests
    assert (req.method, req.path) == ("POST", "/v1/chat/completions")
    assert req.headers["authorization"] == "Bearer sk-test"
    assert req.body["messages"] == [{"role": "user", "content": "hi"}]
    assert req.body["temperature"] == 0.2
    assert "stream" not in req.body


def test_json_reasoning_content(fake_chat: FakeChat, client: openai.OpenAI) -> None:
    fake_chat.script(Reply.text("42", reasoning_content="think think"))
    resp = ask(client)
    message = resp.choices[0].message
    assert message.content == "42"
    assert message.model_extra["reasoning_content"] == "think think"


def test_json_parallel_tool_calls(fake_chat: FakeChat, client: openai.OpenAI) -> None:
    fake_chat.script(
        Reply.tool_calls([("get_weather", '{"city":"Paris"}'), ("get_weather", '{"city":"Rome"}')])
    )
    resp = ask(client, tools=TOOLS)
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    calls = choice.message.tool_calls
    assert [c.function.arguments for c in calls] == ['{"city":"Paris"}', '{"city":"Rome"}']
    assert all(c.type == "function" and c.function.name == "get_weather" for c in calls)
    assert len({c.id for c in calls}) == 2
    assert all(c.id.startswith("call_") for c in calls)
    assert fake_chat.last.body["tools"] == TOOLS


def test_stream_text_split_with_usage(fake_chat: FakeChat, client: openai.OpenAI) -> None:
    fake_chat.script(Reply.text("Hello streaming world", chunk_size=4, usage=chat_usage(3, 4)))
    chunks = collect(ask(client, stream=True, stream_options={"include_usage": True}))
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    first = chunks[0].choices[0].delta
    assert first.role == "assistant"
    assert first.content == ""
    text_chunks = [c.choices[0].delta.content for c in chunks if c.choices]
    assert "".join(t for t in text_chunks if t) == "Hello streaming world"
    assert sum(1 for t in text_chunks if t) == 6  # 21 chars / 4
    finish = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finish[-1] == "stop"
    assert all(f is None for f in finish[:-1])
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (3, 4)
    assert all(c.usage is None for c in chunks[:-1])
    assert fake_chat.last.body["stream"] is True


def test_stream_without_include_usage_has_no_usage_chunk(
    fake_chat: FakeChat, client: openai.OpenAI
) -> None:
    fake_chat.script(Reply.text("abc"))
    chunks = collect(ask(client, stream=True))
    assert all(c.choices for c in chunks)
    assert all(c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_stream_reasoning_then_content(fake_chat: FakeChat, client: openai.OpenAI) -> None:
    fake_chat.script(Reply.text("Answer", reasoning_content="Let me think", chunk_size=5))
    chunks = collect(ask(client, stream=True))
    reasoning = "".join(
        c.choices[0].delta.model_extra.get("reasoning_content") or "" for c in chunks
    )
    content = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert (reasoning, content) == ("Let me think", "Answer")
    # reasoning strictly before content, like DeepSeek
    kinds = [
        "r" if c.choices[0].delta.model_extra.get("reasoning_content") else "c"
        for c in chunks
        if c.choices[0].delta.content or c.choices[0].delta.model_extra.get("reasoning_content")
    ]
    assert kinds == sorted(kinds, reverse=True)
    assert kinds.count("r") == 3


@pytest.mark.parametrize("interleave", [False, True])
def test_stream_parallel_tool_calls(
    fake_chat: FakeChat, client: openai.OpenAI, interleave: bool
) -> None:
    args_a = json.dumps({"city": "Paris", "unit": "celsius"})
    args_b = json.dumps({"city": "Rome", "unit": "fahrenheit"})
    fake_chat.script(
        Reply.tool_calls(
            [("get_weather", args_a), ("get_weather", args_b)],
            chunk_size=7,
            interleave_tools=interleave,
        )
    )
    chunks = collect(ask(client, tools=TOOLS, stream=True))
    calls = assemble_tool_calls(chunks)
    assert sorted(calls) == [0, 1]
    assert calls[0]["arguments"] == args_a
    assert calls[1]["arguments"] == args_b
    assert calls[0]["name"] == calls[1]["name"] == "get_weather"
    assert calls[0]["id"] != calls[1]["id"]
    # the first chunk of each call carries id, type, name and empty arguments
    starts = [
        tc for c in chunks for tc in (c.choices[0].delta.tool_calls or []) if tc.id is not None
    ]
    assert [s.function.arguments for s in starts] == ["", ""]
    order = [tc.index for c in chunks for tc in (c.choices[0].delta.tool_calls or [])]
    switches = sum(1 for a, b in itertools.pairwise(order) if a != b)
    assert switches > 1 if interleave else switches == 1
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_error_429_keeps_retry_after(fake_chat: FakeChat, client: openai.OpenAI) -> None:
    fake_chat.script(
        Reply.error(
            429,
            {"error": {"message": "slow down", "type": "rate_limit_error", "code": None}},
            headers={"Retry-After": "7"},
        )
    )
    with pytest.raises(openai.RateLimitError) as info:
        ask(client)
    assert info.value.status_code == 429
    assert info.value.response.headers["retry-after"] == "7"
    assert info.value.body["message"] == "slow down"


def test_error_401_default_envelope(fake_chat: FakeChat, client: openai.OpenAI) -> None:
    fake_chat.script(Reply.error(401))
    with pytest.raises(openai.AuthenticationError) as info:
        ask(client, stream=True)
    assert info.value.code == "invalid_api_key"


def test_unscripted_request_fails_loudly(fake_chat: FakeChat, client: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as info:
        ask(client)
    assert "no scripted reply" in info.value.message
    assert len(fake_chat.unscripted) == 1


def test_fail_after_cuts_the_stream(fake_chat: FakeChat, client: openai.OpenAI) -> None:
    fake_chat.script(Reply.text("x" * 50, chunk_size=5, fail_after=3))
    seen = []
    with pytest.raises((httpx.RemoteProtocolError, openai.APIConnectionError)):
        for chunk in ask(client, stream=True):
            seen.append(chunk)
    assert len(seen) == 3


def test_fail_after_on_json_request(fake_chat: FakeChat, client: openai.OpenAI) -> None:
    fake_chat.script(Reply.text("never sent", fail_after=0))
    with pytest.raises(openai.APIConnectionError):
        ask(client)


def test_in_stream_error_chunk(fake_chat: FakeChat, client: openai.OpenAI) -> None:
    fake_chat.script(
        Reply.text(
            "partial answer",
            chunk_size=4,
            stream_error={"message": "upstream overloaded", "type": "server_error", "code": None},
            stream_error_after=2,
        )
    )
    seen = []
    with pytest.raises(openai.APIError) as info:
        for chunk in ask(client, stream=True):
            seen.append(chunk)
    assert "upstream overloaded" in info.value.message
    assert len(seen) == 2


def test_raw_chunks_are_sent_verbatim(fake_chat: FakeChat, client: openai.OpenAI) -> None:
    base = {"id": "chatcmpl-raw", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    fake_chat.script(
        Reply.raw_chunks(
            [
                {**base, "choices": [{"index": 0, "delta": {"content": "A"}}]},
                ": keep-alive comment\n\n",
                {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
            ]
        )
    )
    chunks = collect(ask(client, stream=True))
    assert [c.id for c in chunks] == ["chatcmpl-raw", "chatcmpl-raw"]
    assert chunks[0].choices[0].delta.content == "A"


def test_script_order_and_stream_follows_request(
    fake_chat: FakeChat, client: openai.OpenAI
) -> None:
    fake_chat.script(Reply.text("one"), Reply.text("two"))
    assert ask(client).choices[0].message.content == "one"
    chunks = collect(ask(client, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "two"
    assert fake_chat.pending == 0
    assert len(fake_chat.chat_requests) == 2


def test_delay_per_chunk(fake_chat: FakeChat, client: openai.OpenAI) -> None:
    fake_chat.script(Reply.text("abcdef", chunk_size=2, delay=0.05))
    started = time.monotonic()
    chunks = collect(ask(client, stream=True))
    elapsed = time.monotonic() - started
    # role chunk + 3 content chunks + finish chunk = 5 chunks, each delayed
    assert len(chunks) == 5
    assert elapsed >= 0.25


def test_models_list(fake_chat: FakeChat, client: openai.OpenAI) -> None:
    fake_chat.models = ["upstream-model", "other-model"]
    models = client.models.list()
    assert [m.id for m in models.data] == ["upstream-model", "other-model"]
    assert all(m.object == "model" for m in models.data)
    assert fake_chat.last.path == "/v1/models"


def test_reset_clears_everything(fake_chat: FakeChat, client: openai.OpenAI) -> None:
    fake_chat.script(Reply.text("a"), Reply.text("b"))
    ask(client)
    fake_chat.reset()
    assert fake_chat.requests == []
    assert fake_chat.pending == 0


def test_standalone_context_manager() -> None:
    with FakeChat() as fake:
        fake.script(Reply.text("solo"))
        with openai.OpenAI(base_url=fake.base_url, api_key="k", max_retries=0) as c:
            assert ask(c).choices[0].message.content == "solo"
    with pytest.raises(httpx.ConnectError):
        httpx.get(fake.base_url + "/models", timeout=2)


def test_callable_reply_sees_the_request(fake_chat: FakeChat, client: openai.OpenAI) -> None:
    fake_chat.script(lambda body: Reply.text(f"you said {body['messages'][-1]['content']}"))
    assert ask(client).choices[0].message.content == "you said hi"
