"""Schema and ordering checks for Responses API objects and streams.

``validate_response`` and ``validate_event`` check against the Open Responses spec through the
``openresponses_types`` pydantic models. Where OpenAI's API (what Codex and the SDK expect) has
something the spec lacks, the object is checked against a small hand-written list of required
fields taken from OpenAI's API reference, and only the rest goes through the spec models:

* events ``response.custom_tool_call_input.delta/.done`` and ``response.reasoning_text.delta/.done``
  (the spec calls the latter ``response.reasoning.delta/.done``; both dialects are accepted);
* ``custom_tool_call`` / ``custom_tool_call_output`` items (the spec's item union lacks them);
* non-function tools in ``response.tools`` (the spec's ``Tool`` is only ``FunctionTool``);
* ``text.format`` of type ``json_schema``: the spec types ``schema`` as ``null`` only, OpenAI
  echoes the schema object.

The ``error`` event must satisfy both shapes: nested ``error: {type, code, message, param}`` (the
spec) and flat ``message``/``code``/``param`` (the OpenAI SDK).

``check_event_order`` checks the invariants a stream must keep (see DESIGN.md §3).
"""

from __future__ import annotations

import copy
import itertools
import json
from typing import Any

import openresponses_types as ort
from pydantic import BaseModel, ValidationError

__all__ = [
    "TERMINAL_EVENTS",
    "check_event_order",
    "parse_sse",
    "validate_event",
    "validate_response",
]

TERMINAL_EVENTS = ("response.completed", "response.incomplete", "response.failed")
RESPONSE_STATUSES = {"completed", "incomplete", "failed", "in_progress", "queued", "cancelled"}

EVENT_MODELS: dict[str, type[BaseModel]] = {
    "response.created": ort.ResponseCreatedStreamingEvent,
    "response.queued": ort.ResponseQueuedStreamingEvent,
    "response.in_progress": ort.ResponseInProgressStreamingEvent,
    "response.completed": ort.ResponseCompletedStreamingEvent,
    "response.failed": ort.ResponseFailedStreamingEvent,
    "response.incomplete": ort.ResponseIncompleteStreamingEvent,
    "response.output_item.added": ort.ResponseOutputItemAddedStreamingEvent,
    "response.output_item.done": ort.ResponseOutputItemDoneStreamingEvent,
    "response.reasoning_summary_part.added": ort.ResponseReasoningSummaryPartAddedStreamingEvent,
    "response.reasoning_summary_part.done": ort.ResponseReasoningSummaryPartDoneStreamingEvent,
    "response.content_part.added": ort.ResponseContentPartAddedStreamingEvent,
    "response.content_part.done": ort.ResponseContentPartDoneStreamingEvent,
    "response.output_text.delta": ort.ResponseOutputTextDeltaStreamingEvent,
    "response.output_text.done": ort.ResponseOutputTextDoneStreamingEvent,
    "response.refusal.delta": ort.ResponseRefusalDeltaStreamingEvent,
    "response.refusal.done": ort.ResponseRefusalDoneStreamingEvent,
    "response.reasoning.delta": ort.ResponseReasoningDeltaStreamingEvent,
    "response.reasoning.done": ort.ResponseReasoningDoneStreamingEvent,
    "response.reasoning_summary_text.delta": ort.ResponseReasoningSummaryDeltaStreamingEvent,
    "response.reasoning_summary_text.done": ort.ResponseReasoningSummaryDoneStreamingEvent,
    "response.output_text.annotation.added": ort.ResponseOutputTextAnnotationAddedStreamingEvent,
    "response.function_call_arguments.delta": ort.ResponseFunctionCallArgumentsDeltaStreamingEvent,
    "response.function_call_arguments.done": ort.ResponseFunctionCallArgumentsDoneStreamingEvent,
    "error": ort.ErrorStreamingEvent,
}

# Required fields of OpenAI event types the Open Responses spec lacks (OpenAI API reference:
# ResponseCustomToolCallInputDeltaEvent / ...DoneEvent, ResponseReasoningTextDeltaEvent / ...Done).
_BASE = {"type": str, "sequence_number": int, "item_id": str, "output_index": int}
OPENAI_ONLY_EVENTS: dict[str, dict[str, Any]] = {
    "response.custom_tool_call_input.delta": {**_BASE, "delta": str},
    "response.custom_tool_call_input.done": {**_BASE, "input": str},
    "response.reasoning_text.delta": {**_BASE, "content_index": int, "delta": str},
    "response.reasoning_text.done": {**_BASE, "content_index": int, "text": str},
}

# Required fields of OpenAI items the spec's item union lacks (ResponseCustomToolCall and
# ResponseCustomToolCallOutput). ``id`` is optional in OpenAI's type; a gateway should send it.
OPENAI_ONLY_ITEMS: dict[str, dict[str, Any]] = {
    "custom_tool_call": {"type": str, "id": str, "call_id": str, "name": str, "input": str},
    "custom_tool_call_output": {"type": str, "call_id": str, "output": (str, list)},
}

# Non-function tools a response may echo (OpenAI's CustomTool; hosted tools only need ``type``).
OPENAI_ONLY_TOOLS: dict[str, dict[str, Any]] = {
    "custom": {"type": str, "name": str},
}


def _fail(what: str, obj: Any, detail: str) -> AssertionError:
    return AssertionError(f"{what} is invalid: {detail}\n  object: {obj!r}"[:4000])


def _require(what: str, obj: Any, fields: dict[str, Any]) -> None:
    if not isinstance(obj, dict):
        raise _fail(what, obj, "not an object")
    for name, kind in fields.items():
        if name not in obj:
            raise _fail(what, obj, f"missing required field {name!r}")
        value = obj[name]
        # bool is an int subclass: never accept it where a number is required
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise _fail(what, obj, f"field {name!r} should be {kind}, got {value!r}")


def _check_openai_item(item: dict[str, Any], what: str) -> None:
    fields = OPENAI_ONLY_ITEMS[item["type"]]
    _require(what, item, fields)
    if "status" in item and item["status"] not in ("in_progress", "completed", "incomplete"):
        raise _fail(what, item, f"bad status {item['status']!r}")


def _normalize_response(resp: Any, what: str) -> dict[str, Any]:
    """Hand-check the parts the spec lacks; return a copy the spec models can validate."""
    if not isinstance(resp, dict):
        raise _fail(what, resp, "not an object")
    out = copy.deepcopy(resp)
    output = out.get("output")
    if isinstance(output, list):
        kept = []
        for n, item in enumerate(output):
            if isinstance(item, dict) and item.get("type") in OPENAI_ONLY_ITEMS:
                _check_openai_item(item, f"{what}.output[{n}]")
            else:
                kept.append(item)
        out["output"] = kept
    tools = out.get("tools")
    if isinstance(tools, list):
        kept = []
        for n, tool in enumerate(tools):
            kind = tool.get("type") if isinstance(tool, dict) else None
            if kind == "function" or not isinstance(kind, str):
                kept.append(tool)
            else:
                _require(f"{what}.tools[{n}]", tool, OPENAI_ONLY_TOOLS.get(kind, {"type": str}))
        out["tools"] = kept
    fmt = (out.get("text") or {}).get("format") if isinstance(out.get("text"), dict) else None
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        _require(
            f"{what}.text.format",
            fmt,
            {"type": str, "name": str, "schema": dict, "strict": bool},
        )
        fmt["schema"] = None  # the spec types it as null; the real schema was checked above
    return out


def _validate_model(model: type[BaseModel], obj: dict[str, Any], what: str) -> BaseModel:
    try:
        return model.model_validate(obj)
    except ValidationError as exc:
        raise _fail(what, obj, str(exc)) from None


def validate_response(resp: dict[str, Any], what: str = "response") -> BaseModel:
    """Validate a Response object (JSON body or the ``response`` of a lifecycle event)."""
    normalized = _normalize_response(resp, what)
    model = _validate_model(ort.ResponseResource, normalized, what)
    if resp.get("object") != "response":
        raise _fail(what, resp, "object must be 'response'")
    status = resp.get("status")
    if status not in RESPONSE_STATUSES:
        raise _fail(what, resp, f"unknown status {status!r}")
    if status == "completed" and not isinstance(resp.get("completed_at"), int):
        raise _fail(what, resp, "a completed response needs an integer completed_at")
    if status == "incomplete" and not resp.get("incomplete_details"):
        raise _fail(what, resp, "an incomplete response needs incomplete_details")
    if status == "failed" and not resp.get("error"):
        raise _fail(what, resp, "a failed response needs error")
    return model


def validate_event(event: dict[str, Any]) -> BaseModel | dict[str, Any]:
    """Validate one streaming event against its type's model (or hand-written field list)."""
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise _fail("event", event, "no string 'type'")
    etype = event["type"]
    what = f"event {etype} #{event.get('sequence_number')}"
    if etype in OPENAI_ONLY_EVENTS:
        _require(what, event, OPENAI_ONLY_EVENTS[etype])
        return event
    model = EVENT_MODELS.get(etype)
    if model is None:
        raise _fail(what, event, f"unknown event type {etype!r}")
    obj = copy.deepcopy(event)
    if isinstance(obj.get("response"), dict):
        validate_response(obj["response"], f"{what}.response")
        obj["response"] = _normalize_response(obj["response"], f"{what}.response")
    item = obj.get("item")
    if isinstance(item, dict) and item.get("type") in OPENAI_ONLY_ITEMS:
        _check_openai_item(item, f"{what}.item")
        obj["item"] = None  # the spec union allows null; the item was checked by hand
    if etype == "error":
        # the OpenAI SDK reads the flat fields
        _require(what, event, {"message": str})
        for name in ("code", "param"):
            if name in event and event[name] is not None and not isinstance(event[name], str):
                raise _fail(what, event, f"flat {name!r} must be a string or null")
    return _validate_model(model, obj, what)


# -- ordering ----------------------------------------------------------------------------------


class _Item:
    def __init__(self, index: int, item: dict[str, Any]) -> None:
        self.index = index
        self.id = item.get("id")
        self.type = item.get("type")
        self.done = False
        self.parts: dict[int, dict[str, Any]] = {}  # content_index -> {"done": bool, "text": str}
        self.summary: dict[int, dict[str, Any]] = {}  # summary_index -> same
        self.reasoning_text: dict[int, str] = {}
        self.arguments = ""
        self.input = ""
        self.final: dict[str, Any] | None = None


def _text_of_part(part: dict[str, Any]) -> str | None:
    if part.get("type") == "refusal":
        return part.get("refusal")
    return part.get("text")


def check_event_order(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Assert the stream invariants; return the terminal event's response.

    One response id everywhere; ``sequence_number`` 0, then strictly increasing; created then
    in_progress first; items added in output_index order 0, 1, 2 … each done once after its
    deltas; content and summary parts added … done around their deltas; the ``.done`` texts equal
    the concatenated deltas; exactly one terminal event, last, whose output matches the done items.
    """
    assert events, "empty stream"
    types = [e.get("type") for e in events]
    # A background response announces itself queued before it starts.
    head = types[:3] if types[1:2] == ["response.queued"] else types[:2]
    assert head in (
        ["response.created", "response.in_progress"],
        ["response.created", "response.queued", "response.in_progress"],
    ), (
        f"stream must start with response.created, [response.queued,] response.in_progress; "
        f"got {types[:3]}"
    )
    seqs = [e.get("sequence_number") for e in events]
    assert seqs[0] == 0, f"first sequence_number must be 0, got {seqs[0]}"
    for a, b in itertools.pairwise(seqs):
        assert isinstance(b, int) and b > a, f"sequence_number not strictly increasing: {seqs}"
    terminals = [n for n, t in enumerate(types) if t in TERMINAL_EVENTS]
    assert len(terminals) == 1, f"expected exactly one terminal event, got {types}"
    assert terminals[0] == len(events) - 1, f"terminal event must be last: {types}"

    response_id = events[0]["response"]["id"]
    items: list[_Item] = []

    def item_at(event: dict[str, Any]) -> _Item:
        idx = event.get("output_index")
        assert isinstance(idx, int) and 0 <= idx < len(items), (
            f"{event['type']} refers to output_index {idx} before its output_item.added"
        )
        it = items[idx]
        assert not it.done, f"{event['type']} for output_index {idx} after output_item.done"
        if "item_id" in event:
            assert event["item_id"] == it.id, (
                f"{event['type']} item_id {event['item_id']!r} != added item id {it.id!r}"
            )
        return it

    def part_of(table: dict[int, dict[str, Any]], key: int, event: dict[str, Any]):
        assert key in table, f"{event['type']} for part {key} before it was added"
        assert not table[key]["done"], f"{event['type']} for part {key} after it was done"
        return table[key]

    for event in events:
        etype = event["type"]
        if "response" in event:
            assert event["response"]["id"] == response_id, (
                f"{etype} carries response id {event['response']['id']!r}, "
                f"stream started with {response_id!r}"
            )
        if etype == "response.output_item.added":
            assert event["output_index"] == len(items), (
                f"output_item.added at output_index {event['output_index']}, expected {len(items)}"
            )
            assert isinstance(event["item"].get("id"), str), "added item without an id"
            assert all(it.id != event["item"]["id"] for it in items), "duplicate item id"
            items.append(_Item(event["output_index"], event["item"]))
        elif etype == "response.output_item.done":
            it = item_at(event)
            done_before = [i.index for i in items if not i.done and i.index < it.index]
            assert not done_before, f"item {it.index} done before items {done_before}"
            item = event["item"]
            assert item.get("id") == it.id, "output_item.done item id differs from added"
            assert item.get("type") == it.type, "output_item.done item type differs from added"
            open_parts = [k for k, p in it.parts.items() if not p["done"]]
            assert not open_parts, f"item {it.index} done with open content parts {open_parts}"
            open_summary = [k for k, p in it.summary.items() if not p["done"]]
            assert not open_summary, f"item {it.index} done with open summary parts"
            if it.type == "message":
                texts = [_text_of_part(p) for p in item.get("content", [])]
                assert texts == [it.parts[k]["text"] for k in sorted(it.parts)], (
                    "message content in output_item.done differs from the streamed parts"
                )
            if it.type == "function_call" and it.arguments:
                assert item.get("arguments") == it.arguments, "arguments differ from deltas"
            if it.type == "custom_tool_call" and it.input:
                assert item.get("input") == it.input, "custom tool input differs from deltas"
            if it.type == "reasoning" and it.summary:
                texts = [s.get("text") for s in item.get("summary", [])]
                assert texts == [it.summary[k]["text"] for k in sorted(it.summary)], (
                    "reasoning summary in output_item.done differs from the streamed parts"
                )
            it.done = True
            it.final = item
        elif etype in ("response.content_part.added", "response.reasoning_summary_part.added"):
            it = item_at(event)
            table, key_name = (
                (it.parts, "content_index")
                if etype == "response.content_part.added"
                else (it.summary, "summary_index")
            )
            key = event[key_name]
            assert key == len(table), f"{etype} {key_name} {key}, expected {len(table)}"
            table[key] = {"done": False, "text": "", "deltas": ""}
        elif etype in ("response.content_part.done", "response.reasoning_summary_part.done"):
            it = item_at(event)
            is_content = etype == "response.content_part.done"
            table = it.parts if is_content else it.summary
            key = event["content_index" if is_content else "summary_index"]
            part = part_of(table, key, event)
            assert part.get("text_done"), f"{etype} before its text .done event"
            assert _text_of_part(event["part"]) == part["text"], f"{etype} text differs"
            part["done"] = True
        elif etype in (
            "response.output_text.delta",
            "response.refusal.delta",
            "response.reasoning_summary_text.delta",
        ):
            it = item_at(event)
            summary = etype == "response.reasoning_summary_text.delta"
            table = it.summary if summary else it.parts
            part = part_of(table, event["summary_index" if summary else "content_index"], event)
            assert not part.get("text_done"), f"{etype} after the text was done"
            part["deltas"] += event["delta"]
        elif etype in (
            "response.output_text.done",
            "response.refusal.done",
            "response.reasoning_summary_text.done",
        ):
            it = item_at(event)
            summary = etype == "response.reasoning_summary_text.done"
            table = it.summary if summary else it.parts
            part = part_of(table, event["summary_index" if summary else "content_index"], event)
            text = event["refusal"] if etype == "response.refusal.done" else event["text"]
            assert text == part["deltas"], f"{etype} text {text!r} != deltas {part['deltas']!r}"
            part["text"] = text
            part["text_done"] = True
        elif etype in ("response.reasoning_text.delta", "response.reasoning.delta"):
            it = item_at(event)
            assert it.type == "reasoning", f"{etype} on a {it.type} item"
            idx = event["content_index"]
            it.reasoning_text[idx] = it.reasoning_text.get(idx, "") + event["delta"]
        elif etype in ("response.reasoning_text.done", "response.reasoning.done"):
            it = item_at(event)
            got = it.reasoning_text.get(event["content_index"], "")
            assert event["text"] == got, f"{etype} text differs from its deltas"
        elif etype == "response.function_call_arguments.delta":
            it = item_at(event)
            assert it.type == "function_call", f"{etype} on a {it.type} item"
            it.arguments += event["delta"]
        elif etype == "response.function_call_arguments.done":
            it = item_at(event)
            assert it.type == "function_call", f"{etype} on a {it.type} item"
            assert event["arguments"] == it.arguments, "arguments .done differs from deltas"
        elif etype == "response.custom_tool_call_input.delta":
            it = item_at(event)
            assert it.type == "custom_tool_call", f"{etype} on a {it.type} item"
            it.input += event["delta"]
        elif etype == "response.custom_tool_call_input.done":
            it = item_at(event)
            assert it.type == "custom_tool_call", f"{etype} on a {it.type} item"
            assert event["input"] == it.input, "custom tool input .done differs from deltas"

    terminal = events[-1]
    final = terminal["response"]
    expected_status = terminal["type"].removeprefix("response.")
    assert final["status"] == expected_status, (
        f"{terminal['type']} carries status {final['status']!r}"
    )
    if terminal["type"] != "response.failed":
        open_items = [it.index for it in items if not it.done]
        assert not open_items, f"items never done: {open_items}"
        assert [o.get("id") for o in final["output"]] == [it.id for it in items], (
            "terminal response output ids differ from the streamed items"
        )
        for it, out in zip(items, final["output"], strict=True):
            assert out == it.final, f"terminal output[{it.index}] differs from its output_item.done"
    return final


def parse_sse(raw: bytes | str) -> tuple[list[dict[str, Any]], list[str]]:
    """Parse a Responses SSE body; return (events, every ``data:`` payload as text).

    Checks the framing: an ``event:`` name, when present, equals the data's ``type``; ``[DONE]``
    is the last data payload and appears once.
    """
    text = raw.decode() if isinstance(raw, bytes) else raw
    payloads: list[str] = []
    events: list[dict[str, Any]] = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name = None
        data_lines = []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[len("event:") :].strip()
            elif line.startswith("data:"):
                data_lines.append(line[len("data:") :].removeprefix(" "))
        if not data_lines:
            continue
        data = "\n".join(data_lines)
        payloads.append(data)
        if data == "[DONE]":
            continue
        event = json.loads(data)
        if name is not None:
            assert name == event.get("type"), (
                f"SSE event: {name!r} != data type {event.get('type')!r}"
            )
        events.append(event)
    assert payloads and payloads[-1] == "[DONE]", f"stream must end with [DONE]: {payloads[-3:]}"
    assert payloads.count("[DONE]") == 1, "[DONE] sent more than once"
    return events, payloads
