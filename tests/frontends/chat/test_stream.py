"""ChatChunkEncoder: the shape of every chunk, as OpenAI streams ``chat.completion.chunk``.

Upstream chunks go through ``ChatStreamDecoder`` and the accumulator first (``support.run``), so
the encoder sees the hub events the gateway produces.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.upstreams.chat.pipeline import chunk, tool_delta, usage, usage_chunk
from wirebridge.frontends.chat.request import ChatOptions
from wirebridge.frontends.chat.stream import SSE_DONE, ChatChunkEncoder, encode_sse
from wirebridge.transport.sse import SSEParser

from .support import fold, run

USER = {"role": "user", "content": "hi"}
TOOLS = [
    {"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
    for n in ("a", "b", "c")
]
TEXT = [chunk({"role": "assistant", "content": ""}), chunk({"content": "Hi"}), chunk({}, "stop")]


def body(**more: Any) -> dict[str, Any]:
    return {"messages": [USER], "stream": True, **more}


def choice_chunks(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for c in chunks if "error" not in c and c["choices"]]


def deltas(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c["choices"][0]["delta"] for c in choice_chunks(chunks)]


def test_first_chunk_is_the_role_with_empty_content() -> None:
    first = run(TEXT, body()).chunks[0]
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    assert first["choices"][0]["finish_reason"] is None


@pytest.mark.parametrize("include_usage", [True, False], ids=["with_usage", "without_usage"])
def test_every_chunk_has_the_openai_shape(include_usage: bool) -> None:
    options = {"stream_options": {"include_usage": True}} if include_usage else {}
    chunks = run([*TEXT, usage_chunk(usage())], body(**options)).chunks
    ids = {c["id"] for c in chunks}
    assert len(ids) == 1 and ids.pop().startswith("chatcmpl-")
    assert {c["created"] for c in chunks} == {chunks[0]["created"]}
    for c in chunks:
        assert c["object"] == "chat.completion.chunk"
        assert c["model"] == "m"
    body_chunks = choice_chunks(chunks)
    for c in body_chunks:
        assert set(c) == {"id", "object", "created", "model", "choices"} | (
            {"usage"} if include_usage else set()
        )
        (ch,) = c["choices"]
        assert ch["index"] == 0 and ch["logprobs"] is None
        if include_usage:
            assert c["usage"] is None
    reasons = [c["choices"][0]["finish_reason"] for c in body_chunks]
    assert reasons == [None] * (len(reasons) - 1) + ["stop"]
    assert body_chunks[-1]["choices"][0]["delta"] == {}
    if include_usage:
        last = chunks[-1]
        assert last["choices"] == []
        assert last["usage"]["prompt_tokens"] == 11
        assert last["usage"]["completion_tokens"] == 7
        assert last["usage"]["total_tokens"] == 18
    else:
        assert all(c["choices"] for c in chunks)


def test_content_and_reasoning_deltas_as_they_come() -> None:
    chunks = run(
        [
            chunk({"reasoning_content": "a"}),
            chunk({"reasoning_content": "b"}),
            chunk({"content": "c"}),
            chunk({"content": "d"}),
            chunk({}, "stop"),
        ],
        body(),
    ).chunks
    assert deltas(chunks)[1:-1] == [
        {"reasoning_content": "a"},
        {"reasoning_content": "b"},
        {"content": "c"},
        {"content": "d"},
    ]


def test_raw_reasoning_text_deltas_are_reasoning_content() -> None:
    enc = ChatChunkEncoder("resp_1", "m", 1, ChatOptions())
    (_role, c) = enc.feed({"type": "response.reasoning_text.delta", "delta": "hmm"})
    assert c["choices"][0]["delta"] == {"reasoning_content": "hmm"}


def test_refusal_deltas() -> None:
    chunks = run([chunk({"refusal": "No"}), chunk({"refusal": "pe"}), chunk({}, "stop")], body())
    assert deltas(chunks.chunks)[1:-1] == [{"refusal": "No"}, {"refusal": "pe"}]


@pytest.mark.parametrize("interleave", [False, True], ids=["sequential", "interleaved"])
def test_tool_calls_get_indexes_in_order_of_appearance(interleave: bool) -> None:
    calls = [("c1", "a", '{"x":1}'), ("c2", "b", '{"y":22}'), ("c3", "c", "{}")]
    firsts = [tool_delta(i, "", call_id=cid, name=n) for i, (cid, n, _) in enumerate(calls)]
    halves = [
        [tool_delta(i, args[:3]), tool_delta(i, args[3:])] for i, (_, _, args) in enumerate(calls)
    ]
    if interleave:
        order = firsts + [h[0] for h in halves] + [h[1] for h in halves]
    else:
        order = [tc for i in range(3) for tc in (firsts[i], *halves[i])]
    upstream = [chunk({"tool_calls": [tc]}) for tc in order] + [chunk({}, "tool_calls")]
    r = run(upstream, body(tools=TOOLS))
    tool_deltas = [tc for d in deltas(r.chunks) for tc in d.get("tool_calls", ())]
    assert [tc["index"] for tc in tool_deltas] == sorted(tc["index"] for tc in tool_deltas)
    starts = [tc for tc in tool_deltas if "id" in tc]
    assert starts == [
        {"index": i, "id": cid, "type": "function", "function": {"name": n, "arguments": ""}}
        for i, (cid, n, _) in enumerate(calls)
    ]
    for tc in tool_deltas:
        if "id" not in tc:
            assert set(tc) == {"index", "function"} and set(tc["function"]) == {"arguments"}
    folded = fold(r.chunks)
    assert [
        (t["id"], t["function"]["name"], t["function"]["arguments"])
        for t in folded["message"]["tool_calls"]
    ] == calls
    assert folded["finish_reason"] == "tool_calls"


def test_legacy_functions_stream_function_call_deltas() -> None:
    upstream = [
        chunk({"tool_calls": [tool_delta(0, '{"q"', call_id="c1", name="f")]}),
        chunk({"tool_calls": [tool_delta(0, ":1}")]}),
        chunk({}, "tool_calls"),
    ]
    r = run(upstream, body(functions=[{"name": "f"}]))
    assert deltas(r.chunks)[1:] == [
        {"function_call": {"name": "f", "arguments": ""}},
        {"function_call": {"arguments": '{"q"'}},
        {"function_call": {"arguments": ":1}"}},
        {},
    ]
    assert choice_chunks(r.chunks)[-1]["choices"][0]["finish_reason"] == "function_call"


def test_failure_mid_stream_is_an_error_chunk_after_what_came() -> None:
    r = run(
        [chunk({"content": "par"}), chunk({"content": "tial"})],
        body(stream_options={"include_usage": True}),
        fail=("upstream_error", "The upstream connection broke."),
    )
    assert deltas(r.chunks)[1:] == [{"content": "par"}, {"content": "tial"}]
    last = r.chunks[-1]
    assert last == {
        "error": {
            "message": "The upstream connection broke.",
            "type": "server_error",
            "param": None,
            "code": "upstream_error",
        }
    }
    assert not any(c["choices"][0]["finish_reason"] for c in choice_chunks(r.chunks))


def test_upstream_error_chunk_becomes_an_error_chunk() -> None:
    r = run([chunk({"content": "x"}), {"error": {"message": "overloaded", "code": "busy"}}], body())
    assert r.chunks[-1]["error"]["message"] == "overloaded"
    assert r.chunks[-1]["error"]["code"] == "busy"


def test_finish_without_a_terminal_event_is_an_error() -> None:
    enc = ChatChunkEncoder("resp_1", "m", 1, ChatOptions())
    out = enc.finish()
    assert out[0]["choices"][0]["delta"]["role"] == "assistant"
    assert "error" in out[-1]
    assert enc.finish() == []


def test_nothing_after_the_terminal_event() -> None:
    enc = ChatChunkEncoder("resp_1", "m", 1, ChatOptions())
    done = {"type": "response.completed", "response": {"status": "completed", "output": []}}
    assert enc.feed(done)[-1]["choices"][0]["finish_reason"] == "stop"
    assert enc.feed({"type": "response.output_text.delta", "delta": "late"}) == []
    assert enc.finish() == []


def test_events_without_a_chat_counterpart_are_skipped() -> None:
    enc = ChatChunkEncoder("resp_1", "m", 1, ChatOptions())
    enc.start()
    for kind in ("response.content_part.added", "response.output_text.done", "response.created"):
        assert enc.feed({"type": kind}) == []


def test_sse_framing() -> None:
    enc = ChatChunkEncoder("resp_1", "m", 1, ChatOptions())
    raw = encode_sse(enc.start()) + enc.sse(
        [{"type": "response.output_text.delta", "delta": "é\n", "logprobs": []}]
    )
    raw += SSE_DONE
    parser = SSEParser()
    events = parser.feed(raw)
    datas = [data for _, data in events]
    assert datas[-1] == b"[DONE]"
    assert [orjson.loads(d)["choices"][0]["delta"] for d in datas[:-1]] == [
        {"role": "assistant", "content": "", "refusal": None},
        {"content": "é\n"},
    ]
