"""The items of an upstream Responses stream, and the events a thin stream never sent.

Some servers stream only ``output_item.done`` and the terminal event, or put items in the
terminal event that were never streamed. A client is owed every ``output_item.added``, content
and summary part, delta and ``.done``: these functions make them up from the finished item.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Event = dict[str, Any]


class Part:
    """A content part (message text or refusal, reasoning text) or a reasoning summary part."""

    __slots__ = ("done", "kind", "text", "text_done")

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.text: list[str] = []
        self.text_done = False
        self.done = False


class Item:
    __slots__ = ("args", "args_done", "content", "done", "id", "index", "skeleton", "summary")

    def __init__(self, index: int, item_id: str, skeleton: dict[str, Any]) -> None:
        self.index, self.id, self.skeleton = index, item_id, skeleton
        self.done = False
        self.content: dict[int, Part] = {}  # content_index -> part
        self.summary: dict[int, Part] = {}  # summary_index -> part
        self.args: list[str] = []  # function arguments / custom tool input streamed
        self.args_done = False

    @property
    def type(self) -> str:
        return str(self.skeleton.get("type"))

    def base(self) -> Event:
        return {"item_id": self.id, "output_index": self.index}


def skeleton(raw: dict[str, Any], item_id: str) -> dict[str, Any]:
    """The item as ``output_item.added`` shows it: nothing generated yet."""
    item = {k: v for k, v in raw.items() if k != "encrypted_content"}
    item["id"] = item_id
    kind = item.get("type")
    if kind == "message":
        item["content"] = []
    elif kind == "reasoning":
        item["summary"] = []
        item.pop("content", None)
    elif kind == "function_call":
        item["arguments"] = ""
    elif kind == "custom_tool_call":
        item["input"] = ""
    if "status" in item or kind in ("message", "function_call", "custom_tool_call"):
        item["status"] = "in_progress"
    return item


def from_state(item: Item, status: str) -> dict[str, Any]:
    """The finished item built from what was streamed (the upstream never sent it whole)."""
    final = dict(item.skeleton)
    if "status" in final:
        final["status"] = status
    kind = item.type
    if kind == "message":
        final["content"] = [_part_object(p.kind, "".join(p.text)) for _, p in _sorted(item.content)]
    elif kind == "reasoning":
        final["summary"] = [
            {"type": "summary_text", "text": "".join(p.text)} for _, p in _sorted(item.summary)
        ]
        if item.content:
            final["content"] = [
                {"type": "reasoning_text", "text": "".join(p.text)}
                for _, p in _sorted(item.content)
            ]
    elif kind == "function_call":
        final["arguments"] = "".join(item.args)
    elif kind == "custom_tool_call":
        final["input"] = "".join(item.args)
    return final


def _sorted(table: dict[int, Part]) -> list[tuple[int, Part]]:
    return sorted(table.items())


def _part_object(kind: str, text: str) -> dict[str, Any]:
    if kind == "refusal":
        return {"type": "refusal", "refusal": text}
    if kind == "reasoning_text":
        return {"type": "reasoning_text", "text": text}
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _empty_part(ptype: str, final: dict[str, Any]) -> dict[str, Any]:
    """A part as its ``.added`` event shows it, before any text."""
    if ptype in _TEXT_EVENTS:
        return _part_object(ptype, "") if ptype != "summary_text" else {"type": ptype, "text": ""}
    return dict(final)


def _part_text(part: dict[str, Any]) -> str | None:
    text = part.get("refusal") if part.get("type") == "refusal" else part.get("text")
    return text if isinstance(text, str) else None


_TEXT_EVENTS = {
    "output_text": "response.output_text",
    "refusal": "response.refusal",
    "summary_text": "response.reasoning_summary_text",
    "reasoning_text": "response.reasoning_text",
}


def part_for(item: Item, event: Event, out: list[Event]) -> Part | None:
    """The part a text event is about; a message or summary part nobody announced is added."""
    kind = event["type"]
    summary = kind.startswith("response.reasoning_summary_text")
    field = "summary_index" if summary else "content_index"
    key = event.setdefault(field, 0)
    if not isinstance(key, int):
        return None
    table = item.summary if summary else item.content
    part = table.get(key)
    if part is not None:
        return part
    if kind.startswith("response.reasoning_text"):
        part = table[key] = Part("reasoning_text")  # raw reasoning text has no part events
        return part
    ptype = "summary_text" if summary else kind.split(".")[1]
    part = table[key] = Part(ptype)
    _announce(item, key, _part_object(ptype, ""), summary, out)
    return part


def _announce(item: Item, key: int, empty: dict[str, Any], summary: bool, out: list[Event]) -> None:
    if summary:
        out.append(
            {
                "type": "response.reasoning_summary_part.added",
                **item.base(),
                "summary_index": key,
                "part": {"type": "summary_text", "text": ""},
            }
        )
    else:
        out.append(
            {
                "type": "response.content_part.added",
                **item.base(),
                "content_index": key,
                "part": empty,
            }
        )


def finish_part(
    item: Item,
    key: int,
    final: dict[str, Any],
    summary: bool,
    part: Part | None,
    out: list[Event],
    close: bool = True,
) -> None:
    """Send what a client is still owed of one part, up to its ``.done`` events."""
    ptype = "summary_text" if summary else str(final.get("type") or "output_text")
    table = item.summary if summary else item.content
    text = _part_text(final)
    if part is None:
        part = table[key] = Part(ptype)
        if ptype != "reasoning_text":
            _announce(item, key, _empty_part(ptype, final), summary, out)
    prefix = _TEXT_EVENTS.get(ptype)
    index = {"summary_index" if summary else "content_index": key}
    if prefix is not None and text is not None and not part.text_done:
        sent = "".join(part.text)
        if text != sent and text.startswith(sent):
            delta: Event = {"type": prefix + ".delta", **item.base(), **index}
            delta["delta"] = text[len(sent) :]
            if ptype == "output_text":
                delta["logprobs"] = []
            out.append(delta)
        done: Event = {"type": prefix + ".done", **item.base(), **index}
        if ptype == "refusal":
            done["refusal"] = text
        else:
            done["text"] = text
        if ptype == "output_text":
            done["logprobs"] = final.get("logprobs") or []
        out.append(done)
        part.text_done = True
    if close and not part.done and ptype != "reasoning_text":
        kind = "response.reasoning_summary_part.done" if summary else "response.content_part.done"
        out.append({"type": kind, **item.base(), **index, "part": final})
        part.done = True


def _fill_message(item: Item, final: dict[str, Any], out: list[Event]) -> None:
    for key, part in enumerate(final.get("content") or ()):
        if isinstance(part, dict):
            finish_part(item, key, part, False, item.content.get(key), out)


def _fill_reasoning(item: Item, final: dict[str, Any], out: list[Event]) -> None:
    for key, part in enumerate(final.get("summary") or ()):
        if isinstance(part, dict):
            finish_part(item, key, part, True, item.summary.get(key), out)
    for key, part in enumerate(final.get("content") or ()):
        if isinstance(part, dict):
            finish_part(item, key, part, False, item.content.get(key), out)


def _fill_call(item: Item, final: dict[str, Any], out: list[Event]) -> None:
    custom = item.type == "custom_tool_call"
    field = "input" if custom else "arguments"
    prefix = "response.custom_tool_call_input" if custom else "response.function_call_arguments"
    value = final.get(field)
    if not isinstance(value, str):
        value = "".join(item.args)
        final[field] = value
    sent = "".join(item.args)
    if not item.args_done:
        if value != sent and value.startswith(sent):
            out.append({"type": prefix + ".delta", **item.base(), "delta": value[len(sent) :]})
        done: Event = {"type": prefix + ".done", **item.base(), field: value}
        if not custom:
            done["name"] = final.get("name")
        out.append(done)
        item.args_done = True


def fill_nothing(item: Item, final: dict[str, Any], out: list[Event]) -> None:
    return None


FILLERS: dict[str, Callable[[Item, dict[str, Any], list[Event]], None]] = {
    "message": _fill_message,
    "reasoning": _fill_reasoning,
    "function_call": _fill_call,
    "custom_tool_call": _fill_call,
}


# -- terminal details ------------------------------------------------------------------------
