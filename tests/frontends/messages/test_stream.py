"""Hub events → Anthropic stream events: grammar, one scenario per rule, and agreement with JSON.

Upstream chunks go through ``ChatStreamDecoder`` → ``ResponseBuilder`` → ``MessagesStreamEncoder``
exactly as ``http/messages.py`` wires them (``support.run_stream``); every stream is checked
with ``support.check_stream``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.upstreams.chat.pipeline import SEALER, chunk, completion, tool_delta, usage, usage_chunk
from wirebridge.frontends.messages.stream import PING, error_event, sse
from wirebridge.hub.seal import ProviderData
from wirebridge.transport.sse import SSEParser

from .support import MODEL, RESPONSE_ID, StreamRun, check_stream, run_json, run_stream

WEATHER = {
    "name": "get_weather",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}
TOOLS = {"tools": [WEATHER]}

TEXT = [chunk({"role": "assistant", "content": "Hel"}), chunk({"content": "lo"}), chunk({}, "stop")]
REASONING_THEN_TEXT = [
    chunk({"role": "assistant", "reasoning_content": "Think"}),
    chunk({"reasoning_content": "ing."}),
    chunk({"content": "Done."}),
    chunk({}, "stop"),
]
TOOL_CALL = [
    chunk(
        {
            "role": "assistant",
            "tool_calls": [tool_delta(0, "", call_id="call_1", name="get_weather")],
        }
    ),
    chunk({"tool_calls": [tool_delta(0, '{"city":')]}),
    chunk({"tool_calls": [tool_delta(0, '"Paris"}')]}),
    chunk({}, "tool_calls"),
]


def assemble(run: StreamRun) -> dict[str, Any]:
    """The message a client builds from the stream, as the anthropic SDK does."""
    message = dict(run.events[0]["message"])
    blocks: list[dict[str, Any]] = []
    json_bufs: dict[int, str] = {}
    for ev in run.events[1:]:
        if ev["type"] == "content_block_start":
            blocks.append(dict(ev["content_block"]))
        elif ev["type"] == "content_block_delta":
            block, delta = blocks[ev["index"]], ev["delta"]
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            elif delta["type"] == "thinking_delta":
                block["thinking"] += delta["thinking"]
            elif delta["type"] == "signature_delta":
                block["signature"] = delta["signature"]
            elif delta["type"] == "input_json_delta":
                json_bufs[ev["index"]] = json_bufs.get(ev["index"], "") + delta["partial_json"]
        elif ev["type"] == "content_block_stop" and ev["index"] in json_bufs:
            blocks[ev["index"]]["input"] = json.loads(json_bufs[ev["index"]] or "{}")
        elif ev["type"] == "message_delta":
            message.update(ev["delta"])
            message["usage"] = {**message["usage"], **ev["usage"]}
    message["content"] = blocks
    return message


def opened(message: dict[str, Any]) -> dict[str, Any]:
    """``message`` with each sealed signature replaced by what it holds (nonces differ)."""
    out = dict(message)
    out["content"] = [
        {**b, "signature": SEALER.open(b["signature"])} if b["type"] == "thinking" else b
        for b in message["content"]
    ]
    return out


def test_message_start_then_text_block_then_stop() -> None:
    run = run_stream([*TEXT, usage_chunk(usage(11, 2))])
    check_stream(run.events)
    assert run.types == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    start = run.events[0]["message"]
    assert start["id"] == "msg_" + RESPONSE_ID.removeprefix("resp_")
    assert (start["type"], start["role"], start["model"], start["content"]) == (
        "message",
        "assistant",
        MODEL,
        [],
    )
    assert start["stop_reason"] is None and start["usage"]["input_tokens"] == 0
    assert run.events[1]["content_block"] == {"type": "text", "text": ""}
    assert [d["text"] for d in run.deltas("text_delta")] == ["Hel", "lo"]
    delta = run.of("message_delta")[0]
    assert delta["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert delta["usage"] == {
        "input_tokens": 11,
        "output_tokens": 2,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


@pytest.mark.parametrize("reasoning_as", ["summary", "text"])
def test_reasoning_is_thinking_block_with_signature_before_its_stop(reasoning_as: str) -> None:
    run = run_stream(REASONING_THEN_TEXT, reasoning_as=reasoning_as)
    check_stream(run.events)
    assert run.events[1]["content_block"] == {"type": "thinking", "thinking": "", "signature": ""}
    assert [d["thinking"] for d in run.deltas("thinking_delta")] == ["Think", "ing."]
    (sig,) = run.deltas("signature_delta")
    stop_at = run.types.index("content_block_stop")
    assert run.events[stop_at - 1]["delta"] == sig  # right before the thinking block's stop
    assert SEALER.open(sig["signature"]) == ProviderData(
        "deepseek", {"reasoning_content": "Thinking."}
    )
    assert run.events[stop_at + 1]["content_block"]["type"] == "text"
    assert run.events[stop_at + 1]["index"] == 1


def test_display_omitted_sends_only_the_signature() -> None:
    run = run_stream(REASONING_THEN_TEXT, show_thinking=False)
    check_stream(run.events)
    assert run.deltas("thinking_delta") == []
    assert len(run.deltas("signature_delta")) == 1


def test_tool_call_is_tool_use_block_with_input_json_deltas() -> None:
    run = run_stream(TOOL_CALL, TOOLS)
    check_stream(run.events)
    assert run.events[1]["content_block"] == {
        "type": "tool_use",
        "id": "call_1",
        "name": "get_weather",
        "input": {},
    }
    partial = "".join(d["partial_json"] for d in run.deltas("input_json_delta"))
    assert json.loads(partial) == {"city": "Paris"}
    assert run.of("message_delta")[0]["delta"]["stop_reason"] == "tool_use"


def test_parallel_tool_calls_are_blocks_in_order() -> None:
    chunks = [
        chunk({"tool_calls": [tool_delta(0, '{"city":"A"}', call_id="c1", name="get_weather")]}),
        chunk({"tool_calls": [tool_delta(1, '{"city":"B"}', call_id="c2", name="get_weather")]}),
        chunk({}, "tool_calls"),
    ]
    run = run_stream(chunks, TOOLS)
    check_stream(run.events)
    starts = run.of("content_block_start")
    assert [(s["index"], s["content_block"]["id"]) for s in starts] == [(0, "c1"), (1, "c2")]


def test_length_cut_is_max_tokens_with_usage() -> None:
    chunks = [chunk({"content": "Part"}), chunk({}, "length"), usage_chunk(usage(5, 1))]
    run = run_stream(chunks)
    check_stream(run.events)
    delta = run.of("message_delta")[0]
    assert delta["delta"]["stop_reason"] == "max_tokens"
    assert delta["usage"]["output_tokens"] == 1


def test_refusal_is_text_block_and_refusal_stop() -> None:
    run = run_stream([chunk({"refusal": "No."}), chunk({}, "stop")])
    check_stream(run.events)
    assert [d["text"] for d in run.deltas("text_delta")] == ["No."]
    assert run.of("message_delta")[0]["delta"]["stop_reason"] == "refusal"


def test_failure_mid_stream_is_error_event_in_anthropic_envelope() -> None:
    run = run_stream([chunk({"content": "Hal"})], fail=("upstream_error", "It broke."))
    check_stream(run.events)
    assert run.types[-1] == "error"
    assert run.events[-1] == {
        "type": "error",
        "error": {"type": "api_error", "message": "It broke."},
    }
    assert "message_stop" not in run.types


def test_upstream_error_chunk_mid_stream() -> None:
    chunks = [chunk({"content": "x"}), {"error": {"code": "overloaded", "message": "Busy."}}]
    run = run_stream(chunks)
    assert run.events[-1]["error"] == {"type": "overloaded_error", "message": "Busy."}


@pytest.mark.parametrize(
    "chunks",
    [
        pytest.param(TEXT, id="text"),
        pytest.param(REASONING_THEN_TEXT, id="reasoning_text"),
        pytest.param(TOOL_CALL, id="tool_call"),
    ],
)
def test_stream_and_json_answers_agree(chunks: list[dict[str, Any]]) -> None:
    streamed = assemble(run_stream(chunks, TOOLS))
    whole = _completion_of(chunks)
    as_json = run_json(whole, TOOLS)
    assert opened(streamed) == opened(as_json)


def _completion_of(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    message: dict[str, Any] = {"content": None}
    finish = "stop"
    for c in chunks:
        choice = c["choices"][0]
        delta = choice["delta"]
        for key in ("content", "reasoning_content"):
            if delta.get(key):
                message[key] = (message.get(key) or "") + delta[key]
        for tc in delta.get("tool_calls") or ():
            calls = message.setdefault("tool_calls", [])
            if tc.get("id"):
                calls.append({"id": tc["id"], "type": "function", "function": dict(tc["function"])})
            else:
                calls[-1]["function"]["arguments"] += tc["function"]["arguments"]
        finish = choice["finish_reason"] or finish
    return completion(message, finish=finish)


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        pytest.param("rate_limit_exceeded", None, "rate_limit_error", id="rate_limit"),
        pytest.param("overloaded", None, "overloaded_error", id="overloaded"),
        pytest.param("anything", None, "api_error", id="other_code"),
        pytest.param(None, 429, "rate_limit_error", id="by_status"),
    ],
)
def test_error_event_types(code: str | None, status: int | None, kind: str) -> None:
    ev = error_event(code, "m", status)
    assert ev == {"type": "error", "error": {"type": kind, "message": "m"}}


def test_sse_frames_name_their_event_and_parse_back() -> None:
    events = run_stream(TEXT).events
    raw = sse(events) + PING
    assert raw.startswith(b"event: message_start\ndata: {")
    parsed = SSEParser().feed(raw)
    assert [name.decode() for name, _ in parsed if name] == [*(e["type"] for e in events), "ping"]
    assert [json.loads(data) for _, data in parsed][:-1] == events
    assert json.loads(parsed[-1][1]) == {"type": "ping"}
