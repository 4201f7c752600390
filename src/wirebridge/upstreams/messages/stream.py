"""Anthropic Messages stream events → hub events: a synchronous state machine, no I/O.

``feed(event)`` takes one parsed SSE event (``message_start``, ``content_block_start`` /
``_delta`` / ``_stop``, ``message_delta``, ``message_stop``, ``ping``, ``error``) and returns the
Responses stream events it causes; ``finish()`` closes what is still open and returns a partial
terminal event the accumulator completes. A non-streamed message goes through the same machine
as the events that would have carried it (``message_as_events``), so JSON and SSE answers cannot
disagree.

State is kept per content block (by Anthropic's block index) and one output item is open at a
time, in output_index order:

* ``text`` blocks → an assistant message's ``output_text``; consecutive text blocks share one
  message, which stays open until another kind of block starts or the answer ends.
* ``thinking`` → a reasoning item (summary or raw text, per ``reasoning_as``). Its signature
  arrives in a ``signature_delta`` just before the block stops, so the item is closed, with the
  sealed ``encrypted_content`` (``ProviderData("anthropic", {"thinking", "signature"})``), when
  the block stops. ``redacted_thinking`` → a reasoning item sealing ``{"redacted": data}``.
* ``tool_use`` → a function call (or ``custom_tool_call`` for a custom tool's shim, unwrapped),
  its ``input_json_delta`` fragments streamed as they come; it is done when its block stops with
  whole JSON, and stays open (to end ``incomplete``) when the answer was cut inside it.

``stop_reason``: end_turn / stop_sequence / tool_use / pause_turn → completed; max_tokens and
model_context_window_exceeded → incomplete (``max_output_tokens``), open items incomplete;
refusal → a refusal part when nothing was said, else incomplete (``content_filter``). An
``error`` event → ``response.failed``, keeping what came before it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from wirebridge.hub import ids
from wirebridge.hub.items import CallItem, MessageItem, OpenItem, ReasoningItem
from wirebridge.hub.seal import ProviderData
from wirebridge.hub.tools import ToolSet
from wirebridge.upstreams.messages import FAMILY

Event = dict[str, Any]
Sealer = Callable[[ProviderData], str]

REFUSAL_TEXT = "The upstream model declined to answer this request."
_CUT = frozenset({"max_tokens", "model_context_window_exceeded"})


@dataclass(slots=True)
class _Block:
    kind: str  # text | thinking | redacted | tool_use | other
    item: OpenItem | None = None
    signature: str = ""
    data: str = ""
    args: list[str] = field(default_factory=list)


class MessagesStreamDecoder:
    def __init__(self, tools: ToolSet, seal: Sealer | None, reasoning_as: str = "summary") -> None:
        self._tools = tools
        self._seal = seal
        self._reasoning_as = reasoning_as
        self._count = 0  # items opened so far: the next output_index
        self._current: OpenItem | None = None  # the one open item
        self._blocks: dict[int, _Block] = {}
        self._usage: dict[str, Any] = {}
        self._stop_reason: str | None = None
        self._refusal: str | None = None  # stop_details.explanation of a refusal
        self._error: dict[str, Any] | None = None
        self._stopped = False  # message_stop seen
        self._any_text = False
        self._closing_status = "completed"
        self.model: str | None = None  # as the upstream reported it

    # -- feeding ---------------------------------------------------------------------------

    def feed(self, event: dict[str, Any]) -> list[Event]:
        out: list[Event] = []
        handler = self._HANDLERS.get(event.get("type", ""))
        if handler is not None:
            handler(self, event, out)
        return out

    def _message_start(self, event: dict[str, Any], out: list[Event]) -> None:
        message = event.get("message") or {}
        self.model = message.get("model") or self.model
        self._merge_usage(message.get("usage"))

    def _block_start(self, event: dict[str, Any], out: list[Event]) -> None:
        cb = event.get("content_block") or {}
        kind = cb.get("type")
        block = _Block("other")
        if kind == "text":
            block = _Block("text", self._message(out))
            self._text(block, cb.get("text"), out)
        elif kind == "thinking":
            block = _Block("thinking", self._open(self._reasoning(), out))
            block.signature = cb.get("signature") or ""
            self._thinking(block, cb.get("thinking"), out)
        elif kind == "redacted_thinking":
            block = _Block("redacted", self._open(self._reasoning(), out))
            block.data = cb.get("data") or ""
        elif kind == "tool_use":
            block = _Block("tool_use", self._call(cb, out))
            if cb.get("input"):  # a whole input up front (streams send {} and then deltas)
                self._args(block, orjson.dumps(cb["input"]).decode(), out)
        # other blocks (server tools the gateway never declares) carry nothing a client asked for
        self._blocks[event.get("index", 0)] = block

    def _block_delta(self, event: dict[str, Any], out: list[Event]) -> None:
        block = self._blocks.get(event.get("index", 0))
        delta = event.get("delta") or {}
        if block is None:
            return
        kind = delta.get("type")
        if kind == "text_delta":
            self._text(block, delta.get("text"), out)
        elif kind == "thinking_delta":
            self._thinking(block, delta.get("thinking"), out)
        elif kind == "signature_delta":
            block.signature = delta.get("signature") or block.signature
        elif kind == "input_json_delta":
            self._args(block, delta.get("partial_json"), out)

    def _block_stop(self, event: dict[str, Any], out: list[Event]) -> None:
        block = self._blocks.pop(event.get("index", 0), None)
        if block is None or block.item is None or block.item is not self._current:
            return
        if block.kind in ("thinking", "redacted"):
            self._close_current(out, block)
        elif block.kind == "tool_use" and _whole(block.args):
            self._close_current(out, block)  # (a tool without input gets {} streamed)
        # a text block's message stays open: the next text block continues it

    def _message_delta(self, event: dict[str, Any], out: list[Event]) -> None:
        delta = event.get("delta") or {}
        if delta.get("stop_reason"):
            self._stop_reason = delta["stop_reason"]
        details = delta.get("stop_details")
        if isinstance(details, dict) and isinstance(details.get("explanation"), str):
            self._refusal = details["explanation"]
        self._merge_usage(event.get("usage"))

    def _message_stop(self, event: dict[str, Any], out: list[Event]) -> None:
        self._stopped = True

    def _error_event(self, event: dict[str, Any], out: list[Event]) -> None:
        err = event.get("error") or {}
        self._error = {
            "code": str(err.get("type") or "upstream_error"),
            "message": str(err.get("message") or "The upstream reported an error mid-stream."),
        }

    def _ping(self, event: dict[str, Any], out: list[Event]) -> None:
        return None

    _HANDLERS: dict[str, Callable[[MessagesStreamDecoder, dict[str, Any], list[Event]], None]] = {
        "message_start": _message_start,
        "content_block_start": _block_start,
        "content_block_delta": _block_delta,
        "content_block_stop": _block_stop,
        "message_delta": _message_delta,
        "message_stop": _message_stop,
        "error": _error_event,
        "ping": _ping,
    }

    # -- blocks ----------------------------------------------------------------------------

    def _text(self, block: _Block, text: Any, out: list[Event]) -> None:
        if isinstance(block.item, MessageItem) and isinstance(text, str) and text:
            self._any_text = True
            block.item.delta("output_text", text, out)

    def _thinking(self, block: _Block, text: Any, out: list[Event]) -> None:
        if isinstance(block.item, ReasoningItem) and isinstance(text, str) and text:
            block.item.delta(text, out)

    def _args(self, block: _Block, fragment: Any, out: list[Event]) -> None:
        if isinstance(block.item, CallItem) and isinstance(fragment, str) and fragment:
            block.args.append(fragment)
            block.item.delta(fragment, out)

    def _message(self, out: list[Event]) -> MessageItem:
        if isinstance(self._current, MessageItem):
            return self._current
        item = MessageItem(self._count, ids.message_id())
        self._open(item, out)
        return item

    def _reasoning(self) -> ReasoningItem:
        return ReasoningItem(self._count, ids.reasoning_id(), self._reasoning_as)

    def _call(self, cb: dict[str, Any], out: list[Event]) -> CallItem:
        self._close_current(out)
        call = CallItem(str(cb.get("id") or ids.new_id("toolu")))
        call.bind(str(cb.get("name") or ""), self._tools)
        call.open(self._count, out)
        self._count += 1
        self._current = call
        return call

    def _open(self, item: OpenItem, out: list[Event]) -> OpenItem:
        self._close_current(out)
        item.index = self._count
        self._count += 1
        self._current = item
        out.append(
            {"type": "response.output_item.added", "output_index": item.index, "item": item.added()}
        )
        return item

    def _close_current(self, out: list[Event], block: _Block | None = None) -> None:
        item, self._current = self._current, None
        if item is None or item.closed:
            return
        block = block or self._block_of(item)  # (still there when cut off before its stop)
        if not isinstance(item, ReasoningItem):
            if block is not None and block.kind == "tool_use" and not block.args:
                self._args(block, "{}", out)
            item.close(out, None, self._closing_status)
            return
        encrypted = self._sealed(item, block)
        if item.text():
            item.close(out, encrypted)
            return
        # Redacted (or not shown) thinking: an item without text has no parts to close.
        item.closed = True
        done: dict[str, Any] = {"id": item.id, "type": "reasoning", "summary": []}
        if encrypted is not None:
            done["encrypted_content"] = encrypted
        out.append({"type": "response.output_item.done", "output_index": item.index, "item": done})

    def _block_of(self, item: OpenItem) -> _Block | None:
        return next((b for b in self._blocks.values() if b.item is item), None)

    def _sealed(self, item: ReasoningItem, block: _Block | None) -> str | None:
        if self._seal is None or block is None:
            return None
        if block.kind == "redacted" and block.data:
            return self._seal(ProviderData(FAMILY, {"redacted": block.data}))
        if block.signature:
            data = {"thinking": item.text(), "signature": block.signature}
            return self._seal(ProviderData(FAMILY, data))
        return None  # no signature: Anthropic would not take this thinking back

    def _merge_usage(self, usage: Any) -> None:
        if isinstance(usage, dict):
            self._usage.update({k: v for k, v in usage.items() if v is not None})

    # -- finishing -------------------------------------------------------------------------

    @property
    def finished_cleanly(self) -> bool:
        """Whether the upstream ended the message (or reported why it could not)."""
        return self._stopped or self._error is not None

    def fail(self, code: str, message: str) -> None:
        self._error = {"code": code, "message": message}

    def finish(self) -> list[Event]:
        out: list[Event] = []
        if self._error is not None or self._stop_reason in _CUT:
            # The items still open were cut short: a client must not run a truncated call.
            self._closing_status = "incomplete"
        refused = self._stop_reason == "refusal"
        if refused and not self._any_text and not isinstance(self._current, CallItem):
            self._message(out).delta("refusal", self._refusal or REFUSAL_TEXT, out)
        self._close_current(out)
        out.append(self._terminal())
        return out

    def _terminal(self) -> Event:
        if self._error is not None:
            status, details = "failed", None
        elif self._stop_reason in _CUT:
            status, details = "incomplete", "max_output_tokens"
        elif self._stop_reason == "refusal" and self._any_text:
            status, details = "incomplete", "content_filter"
        else:
            status, details = "completed", None
        return {
            "type": f"response.{status}",
            "response": {
                "status": status,
                "incomplete_details": {"reason": details} if details else None,
                "usage": map_usage(self._usage),
                "error": self._error,
            },
        }


def _whole(args: list[str]) -> bool:
    """Whether a tool's streamed input is a whole JSON value (no input at all counts: ``{}``)."""
    if not args:
        return True
    try:
        orjson.loads("".join(args))
    except orjson.JSONDecodeError:
        return False
    return True


def map_usage(u: dict[str, Any] | None) -> dict[str, Any] | None:
    """Anthropic usage → Responses usage. Anthropic counts cache reads and writes apart from
    ``input_tokens``; the Responses total includes them, with the reads as ``cached_tokens``."""
    if not u:
        return None
    read = int(u.get("cache_read_input_tokens") or 0)
    written = int(u.get("cache_creation_input_tokens") or 0)
    inp = int(u.get("input_tokens") or 0) + read + written
    out = int(u.get("output_tokens") or 0)
    thinking = int((u.get("output_tokens_details") or {}).get("thinking_tokens") or 0)
    return {
        "input_tokens": inp,
        "input_tokens_details": {"cached_tokens": read},
        "output_tokens": out,
        "output_tokens_details": {"reasoning_tokens": thinking},
        "total_tokens": inp + out,
    }


def message_as_events(message: dict[str, Any]) -> list[dict[str, Any]]:
    """A non-streamed Anthropic message as the stream events that would have carried it."""
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None}
    events: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
    for index, block in enumerate(message.get("content") or ()):
        events += _block_events(index, block)
    delta = {k: message.get(k) for k in ("stop_reason", "stop_sequence", "stop_details")}
    events.append({"type": "message_delta", "delta": delta, "usage": message.get("usage") or {}})
    events.append({"type": "message_stop"})
    return events


def _block_events(index: int, block: dict[str, Any]) -> list[dict[str, Any]]:
    kind = block.get("type")
    shell, deltas = dict(block), []
    if kind == "text":
        shell["text"] = ""
        deltas = [{"type": "text_delta", "text": block.get("text") or ""}]
    elif kind == "thinking":
        shell.update(thinking="", signature="")
        deltas = [
            {"type": "thinking_delta", "thinking": block.get("thinking") or ""},
            {"type": "signature_delta", "signature": block.get("signature") or ""},
        ]
    elif kind == "tool_use":
        shell["input"] = {}
        deltas = [
            {
                "type": "input_json_delta",
                "partial_json": orjson.dumps(block.get("input") or {}).decode(),
            }
        ]
    events: list[dict[str, Any]] = [
        {"type": "content_block_start", "index": index, "content_block": shell}
    ]
    events += [{"type": "content_block_delta", "index": index, "delta": d} for d in deltas]
    events.append({"type": "content_block_stop", "index": index})
    return events
