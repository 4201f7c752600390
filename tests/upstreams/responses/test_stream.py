"""Upstream Responses events → the client's stream and final Response: one row per rule.

Each row renders a scripted upstream answer exactly as ``FakeResponses`` sends it (OpenAI's
event format), feeds it through the decoder, the accumulator and the stream encoder, validates
every client event against the schema, checks the stream grammar, and compares the final
Response with the row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.support.fake_responses import (
    Reply,
    custom_tool_call,
    function_call,
    message,
    responses_usage,
)

from .support import FAMILY, as_json, comparable, opened, render, run

SHAPES = ["full", "minimal", "terminal_only", "empty_terminal"]


@dataclass
class Row:
    name: str
    reply: Reply
    status: str = "completed"
    types: list[str] = field(default_factory=list)  # output item types
    details: dict[str, Any] | None = None
    error_code: str | None = None


ROWS = [
    Row("text", Reply.text("Hello, world!", chunk_size=4), types=["message"]),
    Row(
        "reasoning then text",
        Reply.text("Yes.", "Let me think about it.", chunk_size=5),
        types=["reasoning", "message"],
    ),
    Row(
        "parallel function calls",
        Reply.items(
            function_call("get_weather", '{"city": "Paris"}'),
            function_call("get_time", '{"tz": "CET"}'),
            chunk_size=3,
        ),
        types=["function_call", "function_call"],
    ),
    Row(
        "custom tool call",
        Reply.items(custom_tool_call("apply_patch", '*** Begin Patch\n+"x" \\ y\n*** End Patch\n')),
        types=["custom_tool_call"],
    ),
    Row(
        "length cut",
        Reply.text("Once upon a", status="incomplete", chunk_size=4),
        status="incomplete",
        types=["message"],
        details={"reason": "max_output_tokens"},
    ),
    Row(
        "content filter cut",
        Reply.text("Sorry", status="incomplete", incomplete_reason="content_filter"),
        status="incomplete",
        types=["message"],
        details={"reason": "content_filter"},
    ),
    Row(
        "upstream failure",
        Reply.items(status="failed", error={"code": "server_error", "message": "boom"}),
        status="failed",
        error_code="server_error",
    ),
]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.name)
def test_stream_rows(row: Row, shape: str) -> None:
    upstream, events = render(row.reply.with_(stream_shape=shape))
    result = run(events)
    resp = result.response
    assert resp["id"] == "resp_gateway"  # the gateway's id, never the upstream's
    assert resp["status"] == row.status
    assert [o["type"] for o in resp["output"]] == row.types
    assert resp["incomplete_details"] == row.details
    assert resp["usage"] == upstream["usage"]  # usage passes through, cut or not
    if row.error_code is not None:
        assert resp["error"]["code"] == row.error_code
        assert result.types[-2] == "error"  # before response.failed, for both kinds of client
    # Items, their ids and their content are the upstream's; only reasoning blobs are sealed.
    expected = []
    for item in upstream["output"]:
        blob = item.get("encrypted_content")
        if blob is not None:
            item = {
                **item,
                "encrypted_content": (FAMILY, {"encrypted_content": blob, "id": item["id"]}),
            }
        expected.append(item)
    assert comparable(resp["output"]) == expected
    # The same answer as JSON gives the same Response.
    assert comparable(as_json(upstream)["output"]) == expected


def test_upstream_sequence_numbers_and_obfuscation_are_not_relayed() -> None:
    _, events = render(Reply.text("abcdefgh", chunk_size=2))
    result = run(events)
    seqs = [e["sequence_number"] for e in result.events]
    assert seqs == list(range(len(seqs)))
    assert not any("obfuscation" in e for e in result.events)
    assert result.types.count("response.created") == 1  # the gateway's own, not the upstream's


def test_reasoning_blob_is_sealed_for_this_family() -> None:
    upstream, events = render(Reply.text("ok", "plan"))
    rs = run(events).response["output"][0]
    original = upstream["output"][0]
    assert rs["encrypted_content"].startswith("wb1.")
    pd = opened(rs)
    assert pd is not None and pd.family == FAMILY
    assert pd.data == {"encrypted_content": original["encrypted_content"], "id": original["id"]}
    assert rs["id"] == original["id"]


def test_reasoning_without_blob_has_no_encrypted_content() -> None:
    _, events = render(Reply.text("ok", "plan"), body={"model": "m"})  # include not asked
    rs = run(events).response["output"][0]
    assert "encrypted_content" not in rs


def test_unknown_events_are_dropped_and_hosted_items_pass() -> None:
    search = {"id": "ws_1", "type": "web_search_call", "status": "completed", "action": {}}
    _, events = render(Reply.items(search, message("found it")))
    extra = {
        "type": "response.web_search_call.searching",
        "item_id": "ws_1",
        "output_index": 0,
        "sequence_number": 99,
    }
    events.insert(3, extra)
    result = run(events, validate=False)  # the schema has no web_search_call item
    assert "response.web_search_call.searching" not in result.types
    assert [o["type"] for o in result.response["output"]] == ["web_search_call", "message"]


def test_output_indexes_are_renumbered_in_order() -> None:
    _, events = render(Reply.items(message("a"), message("b")))
    for ev in events:
        if "output_index" in ev:
            ev["output_index"] += 5
    result = run(events)
    added = [e["output_index"] for e in result.of("response.output_item.added")]
    assert added == [0, 1]


def test_item_without_id_gets_one() -> None:
    item = message("hi")
    del item["id"]
    events = [
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {"type": "response.completed", "response": {"status": "completed", "output": []}},
    ]
    result = run(events)
    (out,) = result.response["output"]
    assert out["id"].startswith("msg_")
    assert result.of("response.output_item.added")[0]["item"]["id"] == out["id"]


def test_open_responses_reasoning_names_become_the_hubs() -> None:
    rs = {"id": "rs_1", "type": "reasoning", "summary": []}
    base = {"item_id": "rs_1", "output_index": 0, "content_index": 0}
    done_item = {**rs, "content": [{"type": "reasoning_text", "text": "abc"}]}
    events = [
        {"type": "response.output_item.added", "output_index": 0, "item": rs},
        {"type": "response.reasoning.delta", **base, "delta": "ab"},
        {"type": "response.reasoning.delta", **base, "delta": "c"},
        {"type": "response.reasoning.done", **base, "text": "abc"},
        {"type": "response.output_item.done", "output_index": 0, "item": done_item},
        {"type": "response.completed", "response": {"status": "completed", "output": []}},
    ]
    result = run(events)
    assert result.types.count("response.reasoning_text.delta") == 2
    assert result.response["output"][0]["content"] == [{"type": "reasoning_text", "text": "abc"}]


def test_error_event_without_terminal_fails_with_its_error() -> None:
    _, events = render(
        Reply.text("partial", stream_error={"code": "rate_limit_exceeded", "message": "slow down"})
    )
    result = run(events)
    assert result.response["status"] == "failed"
    assert result.response["error"] == {"code": "rate_limit_exceeded", "message": "slow down"}
    assert [o["type"] for o in result.response["output"]] == ["message"]


def test_nested_error_event() -> None:
    events = [{"type": "error", "error": {"type": "server_error", "code": "x1", "message": "m"}}]
    result = run(events)
    assert result.response["error"] == {"code": "x1", "message": "m"}


def test_torn_stream_closes_open_items_and_fails() -> None:
    _, events = render(Reply.text("Hello there", chunk_size=3))
    cut = events[
        : events.index(next(e for e in events if e["type"] == "response.output_text.done"))
    ]
    result = run(cut, fail=("upstream_error", "The upstream connection broke."))
    resp = result.response
    assert resp["status"] == "failed"
    assert resp["error"]["code"] == "upstream_error"
    (msg,) = resp["output"]
    assert msg["status"] == "incomplete"
    assert msg["content"][0]["text"] == "Hello there"


def test_stream_without_terminal_fails() -> None:
    _, events = render(Reply.text("x"))
    result = run(events[:-1])
    assert result.response["status"] == "failed"
    assert "closed the stream" in result.response["error"]["message"]


def test_events_after_the_terminal_are_ignored() -> None:
    _, events = render(Reply.text("x"))
    events.append({"type": "response.output_text.delta", "output_index": 0, "delta": "late"})
    result = run(events)
    assert result.types[-1] == "response.completed"


def test_usage_missing_details_is_completed() -> None:
    _upstream, events = render(Reply.text("x", usage={"input_tokens": 3, "output_tokens": 2}))
    usage = run(events).response["usage"]
    assert usage == {
        "input_tokens": 3,
        "output_tokens": 2,
        "total_tokens": 5,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens_details": {"reasoning_tokens": 0},
    }
    assert run(render(Reply.text("x", usage=None))[1]).response["usage"] is None
    assert responses_usage()["total_tokens"] == 30


def test_json_in_an_unfinished_status_fails() -> None:
    upstream, _ = render(Reply.text("x"))
    resp = as_json({**upstream, "status": "in_progress"})
    assert resp["status"] == "failed"
    assert "in_progress" in resp["error"]["message"]


def test_message_stream_missing_part_events_is_completed() -> None:
    """Deltas for a part nobody announced get its content_part.added; a thin item.done gets
    the .done events it is owed."""
    item = message("Hello")
    added = {**item, "content": [], "status": "in_progress"}
    base = {"item_id": item["id"], "output_index": 0, "content_index": 0}
    events = [
        {"type": "response.output_item.added", "output_index": 0, "item": added},
        {"type": "response.output_text.delta", **base, "delta": "Hel"},
        {"type": "response.output_text.delta", **base, "delta": "lo"},
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {"type": "response.completed", "response": {"status": "completed"}},
    ]
    result = run(events)
    assert result.types[2:-1] == [
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
    ]


def test_reasoning_text_part_events_are_not_relayed() -> None:
    """Some servers wrap raw reasoning text in content parts; the hub's reasoning text has none."""
    rs = {"id": "rs_2", "type": "reasoning", "summary": []}
    base = {"item_id": "rs_2", "output_index": 0, "content_index": 0}
    part = {"type": "reasoning_text", "text": "hm"}
    events = [
        {"type": "response.output_item.added", "output_index": 0, "item": rs},
        {"type": "response.content_part.added", **base, "part": {**part, "text": ""}},
        {"type": "response.reasoning_text.delta", **base, "delta": "hm"},
        {"type": "response.reasoning_text.done", **base, "text": "hm"},
        {"type": "response.content_part.done", **base, "part": part},
        {"type": "response.output_item.done", "output_index": 0, "item": {**rs, "content": [part]}},
        {"type": "response.completed", "response": {"status": "completed"}},
    ]
    result = run(events)
    assert "response.content_part.added" not in result.types
    assert result.types.count("response.reasoning_text.done") == 1
    assert result.response["output"][0]["content"] == [part]


def test_item_done_without_output_index_finds_its_item() -> None:
    item = message("hi")
    _, events = render(Reply.items(item))
    for ev in events:
        if ev["type"] == "response.output_item.done":
            del ev["output_index"]
    result = run(events)
    assert result.types.count("response.output_item.added") == 1
    assert [o["id"] for o in result.response["output"]] == [item["id"]]
