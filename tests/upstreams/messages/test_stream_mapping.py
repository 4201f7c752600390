"""Anthropic Messages answer → Responses output: one table row per mapping rule.

Each row feeds Anthropic stream events through ``MessagesStreamDecoder``, folds the hub events
with ``ResponseBuilder`` and numbers them with ``ResponsesStreamEncoder`` (as the gateway does),
validates every event and the stream grammar (``assert_valid_stream``), and compares the final
Response's output, status, incomplete_details, usage and error with the row. The same rows are
then replayed as one non-streamed ``message`` (``message_as_events``): the JSON answer must be
the streamed one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from wirebridge.hub.seal import ProviderData
from wirebridge.upstreams.messages.stream import REFUSAL_TEXT, map_usage, message_as_events

from .pipeline import (
    SEALER,
    as_json,
    block,
    decode,
    delta,
    end,
    start,
    stop,
    stream,
    without_ids,
)

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}}
TOOLS = [
    {"type": "function", "name": "get_weather", "parameters": SCHEMA},
    {"type": "custom", "name": "apply_patch", "description": "Edit files."},
    {"type": "namespace", "name": "mcp", "tools": [{"type": "function", "name": "read_file"}]},
]
SIG = "EqQBCkYIBxgCKkBvX0f1Zr5Jm3+signature=="
PATCH = '*** Begin Patch\n+héllo "wörld" \\ 😀\n*** End Patch\n'
USAGE_IN = {
    "input_tokens": 25,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 0,
    "output_tokens": 1,
}


def text(t: str) -> dict[str, Any]:
    return {"type": "output_text", "text": t, "annotations": [], "logprobs": []}


def refusal(t: str) -> dict[str, Any]:
    return {"type": "refusal", "refusal": t}


def message(*parts: dict[str, Any], status: str = "completed") -> dict[str, Any]:
    return {"type": "message", "status": status, "role": "assistant", "content": list(parts)}


def fcall(call_id: str, arguments: str, name: str = "get_weather", **extra: Any) -> Any:
    return {
        "type": "function_call",
        "status": extra.pop("status", "completed"),
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        **extra,
    }


def reasoning(summary: str, sealed: bool = True) -> dict[str, Any]:
    item: dict[str, Any] = {"type": "reasoning", "summary": []}
    if summary:
        item["summary"] = [{"type": "summary_text", "text": summary}]
    if sealed:
        item["encrypted_content"] = "<sealed>"
    return item


def text_block(i: int, *pieces: str) -> list[dict[str, Any]]:
    return [block(i, "text"), *(delta(i, "text", p) for p in pieces), stop(i)]


def thinking_block(i: int, *pieces: str, sig: str | None = SIG) -> list[dict[str, Any]]:
    out = [block(i, "thinking"), *(delta(i, "thinking", p) for p in pieces)]
    if sig is not None:
        out.append(delta(i, "signature", sig))
    return [*out, stop(i)]


def tool_block(i: int, call_id: str, name: str, *pieces: str, done: bool = True) -> Any:
    out = [block(i, "tool_use", id=call_id, name=name), delta(i, "input_json", "")]
    out += [delta(i, "input_json", p) for p in pieces]
    return [*out, stop(i)] if done else out


@dataclass
class Row:
    events: list[dict[str, Any]]
    output: list[dict[str, Any]]
    status: str = "completed"
    incomplete: str | None = None
    usage: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    fail: tuple[str, str] | None = None
    same_as_json: bool = True  # the row is also a whole message (no error, no torn stream)


def R(row: Row, id: str) -> Any:
    return pytest.param(row, id=id)


USAGE_OUT = map_usage({**USAGE_IN, "output_tokens": 15})

ROWS = [
    R(
        Row(
            [start(), *text_block(0, "Hel", "lo"), *end()],
            [message(text("Hello"))],
            usage=USAGE_OUT,
        ),
        "text_block_to_message",
    ),
    R(
        Row(
            [start(), *text_block(0, "One. "), *text_block(1, "Two."), *end()],
            [message(text("One. Two."))],
            usage=USAGE_OUT,
        ),
        "consecutive_text_blocks_share_one_message",
    ),
    R(
        Row(
            [start(), *thinking_block(0, "Let me ", "think."), *text_block(1, "Hi"), *end()],
            [reasoning("Let me think."), message(text("Hi"))],
            usage=USAGE_OUT,
        ),
        "thinking_to_sealed_reasoning_before_message",
    ),
    R(
        Row(
            [start(), *thinking_block(0, "hm", sig=None), *text_block(1, "Hi"), *end()],
            [reasoning("hm", sealed=False), message(text("Hi"))],
            usage=USAGE_OUT,
            same_as_json=False,  # a JSON thinking block always has its signature
        ),
        "thinking_without_signature_is_not_sealed",
    ),
    R(
        Row(
            [start(), *thinking_block(0), *text_block(1, "Hi"), *end()],
            [reasoning(""), message(text("Hi"))],
            usage=USAGE_OUT,
        ),
        "thinking_not_shown_still_sealed",
    ),
    R(
        Row(
            [
                start(),
                block(0, "redacted_thinking", data="EmwKAhgBEgy3va3p"),
                stop(0),
                *text_block(1, "Hi"),
                *end(),
            ],
            [reasoning(""), message(text("Hi"))],
            usage=USAGE_OUT,
        ),
        "redacted_thinking_to_sealed_reasoning",
    ),
    R(
        Row(
            [
                start(),
                *tool_block(0, "toolu_01A", "get_weather", '{"ci', 'ty": "Paris"}'),
                *end("tool_use"),
            ],
            [fcall("toolu_01A", '{"city": "Paris"}')],
            usage=USAGE_OUT,
        ),
        "tool_use_to_function_call",
    ),
    R(
        Row(
            [
                start(),
                *text_block(0, "Checking."),
                *tool_block(1, "toolu_01A", "get_weather", '{"city":"Paris"}'),
                *tool_block(2, "toolu_01B", "get_weather", '{"city":"Rome"}'),
                *end("tool_use"),
            ],
            [
                message(text("Checking.")),
                fcall("toolu_01A", '{"city":"Paris"}'),
                fcall("toolu_01B", '{"city":"Rome"}'),
            ],
            usage=USAGE_OUT,
        ),
        "text_then_parallel_tool_uses_in_order",
    ),
    R(
        Row(
            [start(), *tool_block(0, "toolu_01A", "get_weather"), *end("tool_use")],
            [fcall("toolu_01A", "{}")],
            usage=USAGE_OUT,
        ),
        "tool_use_without_input_is_empty_object",
    ),
    R(
        Row(
            [
                start(),
                *tool_block(
                    0,
                    "toolu_01P",
                    "apply_patch",
                    *json.dumps({"input": PATCH})[:9],
                    json.dumps({"input": PATCH})[9:],
                ),
                *end("tool_use"),
            ],
            [
                {
                    "type": "custom_tool_call",
                    "status": "completed",
                    "call_id": "toolu_01P",
                    "name": "apply_patch",
                    "input": PATCH,
                }
            ],
            usage=USAGE_OUT,
        ),
        "custom_tool_input_unwrapped",
    ),
    R(
        Row(
            [start(), *tool_block(0, "toolu_01N", "mcp__read_file", "{}"), *end("tool_use")],
            [fcall("toolu_01N", "{}", name="read_file", namespace="mcp")],
            usage=USAGE_OUT,
        ),
        "namespaced_tool_keeps_its_namespace",
    ),
    R(
        Row(
            [start(), *text_block(0, "Once upon"), *end("max_tokens")],
            [message(text("Once upon"), status="incomplete")],
            status="incomplete",
            incomplete="max_output_tokens",
            usage=USAGE_OUT,
        ),
        "max_tokens_is_incomplete",
    ),
    R(
        Row(
            [
                start(),
                *tool_block(0, "toolu_01A", "get_weather", '{"city": "Par'),
                *end("max_tokens"),
            ],
            [fcall("toolu_01A", '{"city": "Par', status="incomplete")],
            status="incomplete",
            incomplete="max_output_tokens",
            usage=USAGE_OUT,
            same_as_json=False,  # a JSON message holds no half input
        ),
        "max_tokens_inside_a_tool_use_is_an_incomplete_call",
    ),
    R(
        Row(
            [start(), *tool_block(0, "toolu_01A", "get_weather", done=False), *end("max_tokens")],
            [fcall("toolu_01A", "{}", status="incomplete")],
            status="incomplete",
            incomplete="max_output_tokens",
            usage=USAGE_OUT,
            same_as_json=False,
        ),
        "max_tokens_before_any_input_is_an_incomplete_call",
    ),
    R(
        Row(
            [start(), *text_block(0, "Long"), *end("model_context_window_exceeded")],
            [message(text("Long"), status="incomplete")],
            status="incomplete",
            incomplete="max_output_tokens",
            usage=USAGE_OUT,
        ),
        "context_window_exceeded_is_incomplete",
    ),
    R(
        Row(
            [start(), *text_block(0, "a, b"), *end("stop_sequence", stop_sequence="END")],
            [message(text("a, b"))],
            usage=USAGE_OUT,
        ),
        "stop_sequence_is_completed",
    ),
    R(
        Row(
            [start(), *end("refusal")],
            [message(refusal(REFUSAL_TEXT))],
            usage=USAGE_OUT,
        ),
        "refusal_without_text_is_a_refusal_part",
    ),
    R(
        Row(
            [
                start(),
                *end("refusal", stop_details={"type": "refusal", "explanation": "Not this."}),
            ],
            [message(refusal("Not this."))],
            usage=USAGE_OUT,
        ),
        "refusal_explanation_is_the_refusal_text",
    ),
    R(
        Row(
            [start(), *text_block(0, "Sure, step one"), *end("refusal")],
            [message(text("Sure, step one"))],
            status="incomplete",
            incomplete="content_filter",
            usage=USAGE_OUT,
        ),
        "refusal_after_text_is_content_filter",
    ),
    R(
        Row(
            [
                start(),
                block(0, "text"),
                delta(0, "text", "partial"),
                {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
            ],
            [message(text("partial"), status="incomplete")],
            status="failed",
            usage=map_usage(USAGE_IN),
            error={"code": "overloaded_error", "message": "Overloaded"},
            same_as_json=False,
        ),
        "error_event_fails_keeping_what_came",
    ),
    R(
        Row(
            [start(), block(0, "thinking"), delta(0, "thinking", "hm")],
            [reasoning("hm", sealed=False)],
            status="failed",
            usage=map_usage(USAGE_IN),
            error={"code": "upstream_error", "message": "cut"},
            fail=("upstream_error", "cut"),
            same_as_json=False,
        ),
        "torn_stream_fails",
    ),
    R(
        Row(
            [
                start(
                    {
                        "input_tokens": 10,
                        "cache_read_input_tokens": 300,
                        "cache_creation_input_tokens": 50,
                        "output_tokens": 1,
                    }
                ),
                *text_block(0, "ok"),
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {
                        "output_tokens": 40,
                        "output_tokens_details": {"thinking_tokens": 12},
                    },
                },
                {"type": "message_stop"},
            ],
            [message(text("ok"))],
            usage={
                "input_tokens": 360,
                "input_tokens_details": {"cached_tokens": 300},
                "output_tokens": 40,
                "output_tokens_details": {"reasoning_tokens": 12},
                "total_tokens": 400,
            },
        ),
        "usage_counts_cache_reads_and_writes_as_input",
    ),
    R(
        Row(
            [
                start(),
                block(0, "text"),
                {"type": "ping"},
                delta(0, "text", "x"),
                stop(0),
                {"type": "ping"},
                *end(),
            ],
            [message(text("x"))],
            usage=USAGE_OUT,
        ),
        "pings_are_nothing",
    ),
    R(
        Row(
            [
                start(),
                block(0, "server_tool_use", id="srvtoolu_1", name="web_search", input={}),
                delta(0, "input_json", '{"query":"x"}'),
                stop(0),
                *text_block(1, "Found."),
                *end(),
            ],
            [message(text("Found."))],
            usage=USAGE_OUT,
        ),
        "server_tool_blocks_are_not_client_items",
    ),
]


@pytest.mark.parametrize("row", ROWS)
def test_response_rule(row: Row) -> None:
    run = stream(row.events, decode({"input": "hi", "tools": TOOLS}), fail=row.fail)
    resp = run.response
    assert without_ids(resp["output"]) == row.output
    assert resp["status"] == row.status
    assert resp["incomplete_details"] == ({"reason": row.incomplete} if row.incomplete else None)
    assert resp["usage"] == row.usage
    assert resp["error"] == row.error
    if row.status == "failed":
        assert run.types[-2:] == ["error", "response.failed"]
    else:
        assert not run.of("error")


def _as_message(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The whole message a stream of ``events`` spells (what a JSON answer would hold)."""
    msg = dict(events[0]["message"])
    blocks: dict[int, dict[str, Any]] = {}
    for ev in events[1:]:
        if ev["type"] == "content_block_start":
            blocks[ev["index"]] = dict(ev["content_block"])
        elif ev["type"] == "content_block_delta":
            b, d = blocks[ev["index"]], ev["delta"]
            if d["type"] == "input_json_delta":
                b["_json"] = b.get("_json", "") + d["partial_json"]
            else:
                key = {"text_delta": "text", "thinking_delta": "thinking"}.get(
                    d["type"], "signature"
                )
                b[key] = b.get(key, "") + d[key]
        elif ev["type"] == "message_delta":
            msg.update(ev["delta"])
            msg["usage"] = {**msg["usage"], **ev["usage"]}
    for b in blocks.values():
        if "_json" in b:
            b["input"] = json.loads(b.pop("_json") or "{}")
    msg["content"] = [blocks[i] for i in sorted(blocks)]
    return msg


@pytest.mark.parametrize("row", [r for r in ROWS if r.values[0].same_as_json])
def test_json_answer_is_the_streamed_answer(row: Row) -> None:
    req = decode({"input": "hi", "tools": TOOLS})
    message = _as_message(row.events)
    streamed = stream(message_as_events(message), req).response
    got = as_json(message, req)
    for resp in (got, streamed):
        assert _compact(without_ids(resp["output"])) == _compact(row.output)
        assert resp["status"] == row.status
        assert resp["usage"] == row.usage


def _compact(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Items with their arguments re-serialised (a JSON message's input is an object)."""
    return [
        {**i, "arguments": json.dumps(json.loads(i["arguments"]))} if "arguments" in i else i
        for i in items
    ]


def test_thinking_blob_opens_to_the_signature() -> None:
    run = stream([start(), *thinking_block(0, "Because."), *text_block(1, "A"), *end()])
    item = run.response["output"][0]
    blob = item["encrypted_content"]
    assert blob.startswith("wb1.") and SIG not in blob and "Because" not in blob
    assert SEALER.open(blob) == ProviderData(
        "anthropic", {"thinking": "Because.", "signature": SIG}
    )


def test_redacted_blob_opens_to_its_data() -> None:
    run = stream([start(), block(0, "redacted_thinking", data="EmwKAh"), stop(0), *end()])
    blob = run.response["output"][0]["encrypted_content"]
    assert SEALER.open(blob) == ProviderData("anthropic", {"redacted": "EmwKAh"})


def test_thinking_as_raw_text() -> None:
    run = stream(
        [start(), *thinking_block(0, "Step 1."), *text_block(1, "A"), *end()], reasoning_as="text"
    )
    item = run.response["output"][0]
    assert item["content"] == [{"type": "reasoning_text", "text": "Step 1."}]
    assert "response.reasoning_text.delta" in run.types
    assert "response.reasoning_summary_text.delta" not in run.types


def test_tool_call_is_done_when_its_block_stops() -> None:
    """Codex runs a tool as soon as its item is done: that is at content_block_stop, before the
    message's end."""
    events = [start(), *tool_block(0, "toolu_01A", "get_weather", '{"city":"Oslo"}')]
    run = stream([*events, *end("tool_use")])
    done_at = run.types.index("response.output_item.done")
    from wirebridge.upstreams.messages.stream import MessagesStreamDecoder

    decoder = MessagesStreamDecoder(decode({"input": "x", "tools": TOOLS}).tools, SEALER.seal)
    fed = [ev for e in events for ev in decoder.feed(e)]
    assert fed[-1]["type"] == "response.output_item.done"
    assert fed[-1]["item"]["arguments"] == '{"city":"Oslo"}'
    assert done_at < run.types.index("response.completed")


def test_ids_and_model() -> None:
    run = stream(
        [
            start(model="claude-opus-4-1"),
            *thinking_block(0, "r"),
            *text_block(1, "t"),
            *tool_block(2, "toolu_01A", "get_weather", "{}"),
            *end("tool_use"),
        ],
        decode({"input": "x", "tools": TOOLS}),
    )
    ids = [item["id"] for item in run.response["output"]]
    assert [i.split("_")[0] for i in ids] == ["rs", "msg", "fc"]
    assert run.decoder.model == "claude-opus-4-1"
