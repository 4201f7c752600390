"""Output items under construction, each emitting its own Responses stream events.

Upstream stream decoders (chat today; Anthropic and others later) open one of these per output
item and push deltas into it; the item knows which events its type owes the client, from
``output_item.added`` through ``output_item.done``. Keeping the event grammar here means every
upstream produces the same stream.
"""

from __future__ import annotations

from typing import Any, Protocol

import orjson

from wirebridge.hub import ids
from wirebridge.hub.jsonfield import JsonStringField
from wirebridge.hub.tools import ToolSet

Event = dict[str, Any]


class OpenItem(Protocol):
    index: int
    id: str
    closed: bool

    def added(self) -> dict[str, Any]: ...

    def close(self, out: list[Event], encrypted: str | None, status: str = "completed") -> None: ...


def _done(out: list[Event], index: int, item: dict[str, Any]) -> None:
    out.append({"type": "response.output_item.done", "output_index": index, "item": item})


class ReasoningItem:
    """Reasoning text, shown as a summary (``mode="summary"``) or as raw reasoning text."""

    def __init__(self, index: int, item_id: str, mode: str = "summary") -> None:
        self.index, self.id, self.mode = index, item_id, mode
        self.closed = False
        self._texts: list[str] = []

    def added(self) -> dict[str, Any]:
        return {"id": self.id, "type": "reasoning", "summary": []}

    def text(self) -> str:
        return "".join(self._texts)

    def delta(self, text: str, out: list[Event]) -> None:
        base = {"item_id": self.id, "output_index": self.index}
        if self.mode == "summary":
            if not self._texts:
                part = {"type": "summary_text", "text": ""}
                out.append(
                    {
                        "type": "response.reasoning_summary_part.added",
                        **base,
                        "summary_index": 0,
                        "part": part,
                    }
                )
            out.append(
                {
                    "type": "response.reasoning_summary_text.delta",
                    **base,
                    "summary_index": 0,
                    "delta": text,
                }
            )
        else:
            out.append(
                {"type": "response.reasoning_text.delta", **base, "content_index": 0, "delta": text}
            )
        self._texts.append(text)

    def close(self, out: list[Event], encrypted: str | None, status: str = "completed") -> None:
        self.closed = True
        text = self.text()
        base = {"item_id": self.id, "output_index": self.index}
        item: dict[str, Any] = {"id": self.id, "type": "reasoning", "summary": []}
        if self.mode == "summary":
            part = {"type": "summary_text", "text": text}
            out.append(
                {
                    "type": "response.reasoning_summary_text.done",
                    **base,
                    "summary_index": 0,
                    "text": text,
                }
            )
            out.append(
                {
                    "type": "response.reasoning_summary_part.done",
                    **base,
                    "summary_index": 0,
                    "part": part,
                }
            )
            item["summary"] = [part]
        else:
            out.append(
                {"type": "response.reasoning_text.done", **base, "content_index": 0, "text": text}
            )
            item["content"] = [{"type": "reasoning_text", "text": text}]
        if encrypted is not None:
            item["encrypted_content"] = encrypted
        _done(out, self.index, item)


class MessageItem:
    """An assistant message: a run of output_text / refusal parts."""

    def __init__(self, index: int, item_id: str) -> None:
        self.index, self.id = index, item_id
        self.closed = False
        self._parts: list[dict[str, Any]] = []
        self._kind: str | None = None  # kind of the open part
        self._buf: list[str] = []
        self._logprobs: list[dict[str, Any]] = []

    def added(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }

    def delta(
        self, kind: str, text: str, out: list[Event], logprobs: list[dict[str, Any]] | None = None
    ) -> None:
        if kind != self._kind:
            self._close_part(out)
            self._kind = kind
            out.append(
                {
                    "type": "response.content_part.added",
                    "item_id": self.id,
                    "output_index": self.index,
                    "content_index": len(self._parts),
                    "part": _part(kind, ""),
                }
            )
        self._buf.append(text)
        ev = {
            "item_id": self.id,
            "output_index": self.index,
            "content_index": len(self._parts),
            "delta": text,
        }
        if kind == "output_text":
            if logprobs:
                self._logprobs.extend(logprobs)
            out.append({"type": "response.output_text.delta", **ev, "logprobs": logprobs or []})
        else:
            out.append({"type": "response.refusal.delta", **ev})

    def _close_part(self, out: list[Event]) -> None:
        kind = self._kind
        if kind is None:
            return
        text = "".join(self._buf)
        base = {"item_id": self.id, "output_index": self.index, "content_index": len(self._parts)}
        part = _part(kind, text)
        if kind == "output_text":
            part["logprobs"] = self._logprobs
            out.append(
                {
                    "type": "response.output_text.done",
                    **base,
                    "text": text,
                    "logprobs": self._logprobs,
                }
            )
        else:
            out.append({"type": "response.refusal.done", **base, "refusal": text})
        out.append({"type": "response.content_part.done", **base, "part": part})
        self._parts.append(part)
        self._kind, self._buf, self._logprobs = None, [], []

    def close(self, out: list[Event], encrypted: str | None, status: str = "completed") -> None:
        self._close_part(out)
        self.closed = True
        item = {
            "id": self.id,
            "type": "message",
            "status": status,
            "role": "assistant",
            "content": self._parts,
        }
        _done(out, self.index, item)


def _part(kind: str, text: str) -> dict[str, Any]:
    if kind == "output_text":
        return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    return {"type": "refusal", "refusal": text}


class CallItem:
    """A tool call. It is opened (``output_item.added``) only when its name is known and every
    earlier item is done; fragments that come before that are held and sent on opening. The
    name decides whether the client sees a ``function_call`` or a ``custom_tool_call``."""

    def __init__(self, call_id: str) -> None:
        self.call_id = call_id
        self.name: str | None = None
        self.index = -1
        self.id = ""
        self.closed = False
        self.custom = False
        self._namespace: str | None = None
        self._client_name = ""
        self._args: list[str] = []
        self._held: list[str] = []
        self._field: JsonStringField | None = None
        self._streamed: list[str] = []  # custom input sent so far

    @property
    def opened(self) -> bool:
        return self.index >= 0

    def bind(self, name: str, tools: ToolSet) -> None:
        self.name = name
        tool = tools.by_wire_name.get(name)
        self.custom = tool is not None and tool.kind == "custom"
        self._client_name = tool.name if tool else name
        self._namespace = tool.namespace if tool else None

    def open(self, index: int, out: list[Event]) -> None:
        self.index = index
        self.id = ids.custom_call_id() if self.custom else ids.function_call_id()
        if self.custom:
            self._field = JsonStringField("input")
        out.append(
            {
                "type": "response.output_item.added",
                "output_index": index,
                "item": self._item("in_progress", ""),
            }
        )
        held, self._held = self._held, []
        for fragment in held:
            self.delta(fragment, out)

    def complete(self) -> bool:
        """Whether the arguments so far are a whole JSON value (then the call is over)."""
        try:
            orjson.loads("".join(self._args))
        except orjson.JSONDecodeError:
            return False
        return True

    def added(self) -> dict[str, Any]:
        return self._item("in_progress", "")

    def _item(self, status: str, payload: str) -> dict[str, Any]:
        item: dict[str, Any] = {
            "id": self.id,
            "type": "custom_tool_call" if self.custom else "function_call",
            "status": status,
            "call_id": self.call_id,
            "name": self._client_name,
        }
        item["input" if self.custom else "arguments"] = payload
        if self._namespace:
            item["namespace"] = self._namespace
        return item

    def delta(self, fragment: str, out: list[Event]) -> None:
        if not self.opened:
            self._held.append(fragment)
            return
        self._args.append(fragment)
        base = {"item_id": self.id, "output_index": self.index}
        if self._field is None:
            out.append(
                {"type": "response.function_call_arguments.delta", **base, "delta": fragment}
            )
            return
        text = self._field.feed(fragment)
        if text:
            self._streamed.append(text)
            out.append({"type": "response.custom_tool_call_input.delta", **base, "delta": text})

    def close(self, out: list[Event], encrypted: str | None, status: str = "completed") -> None:
        self.closed = True
        raw = "".join(self._args)
        base = {"item_id": self.id, "output_index": self.index}
        if not self.custom:
            args = raw or "{}"
            if not raw:  # a call without arguments: ".done" must still equal its deltas
                out.append(
                    {"type": "response.function_call_arguments.delta", **base, "delta": args}
                )
            out.append(
                {
                    "type": "response.function_call_arguments.done",
                    **base,
                    "name": self._client_name,
                    "arguments": args,
                }
            )
            _done(out, self.index, self._item(status, args))
            return
        sent = "".join(self._streamed)
        value = custom_input(raw, sent if self._field is not None and self._field.found else None)
        if value != sent and value.startswith(sent):
            out.append(
                {
                    "type": "response.custom_tool_call_input.delta",
                    **base,
                    "delta": value[len(sent) :],
                }
            )
        out.append({"type": "response.custom_tool_call_input.done", **base, "input": value})
        _done(out, self.index, self._item(status, value))


def custom_input(arguments: str, streamed: str | None = None) -> str:
    """The raw input inside the function shim's ``{"input": ...}``; when the arguments were cut
    off, what was streamed of the input; the text itself if the model did not wrap it."""
    try:
        obj = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return arguments if streamed is None else streamed
    if isinstance(obj, dict) and isinstance(obj.get("input"), str):
        return obj["input"]
    return arguments
