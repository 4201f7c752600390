"""Hub events → Anthropic Messages stream events, a synchronous state machine, no I/O.

``start()`` gives ``message_start``; ``feed(event)`` turns each hub event into the Anthropic
events it causes; a terminal event ends the message with ``message_delta`` (stop reason and
usage) and ``message_stop``, or, for a failure, with an ``error`` event in Anthropic's envelope.

Every content block gets ``content_block_start`` … ``content_block_stop``, with block indexes
0, 1, 2 … in order (hub items are done one at a time, so blocks never interleave):

* reasoning item → a ``thinking`` block: ``thinking_delta`` per text delta, then one
  ``signature_delta`` carrying the item's sealed ``encrypted_content`` just before its stop
  (with ``show_thinking=False``, Anthropic's ``thinking.display: "omitted"``, only the
  signature is sent);
* each output_text / refusal part of a message → a ``text`` block of ``text_delta`` events;
* function call → a ``tool_use`` block whose arguments stream as ``input_json_delta``.

State is kept per hub item (by output_index) and per message part.
"""

from __future__ import annotations

from typing import Any

import orjson

from wirebridge.frontends.messages.errors import anthropic_type
from wirebridge.frontends.messages.response import stop_reason, tool_input, usage
from wirebridge.frontends.sse import named_events

Event = dict[str, Any]

PING = b'event: ping\ndata: {"type":"ping"}\n\n'

# hub error codes → Anthropic error types, for the ``error`` event of a failed stream
_ERROR_TYPES = {
    "rate_limit_exceeded": "rate_limit_error",
    "overloaded": "overloaded_error",
    "upstream_timeout": "api_error",
}


class MessagesStreamEncoder:
    def __init__(self, message_id: str, model: str, show_thinking: bool = True) -> None:
        self.message_id, self.model, self.show_thinking = message_id, model, show_thinking
        self._next = 0  # index of the next content block
        self._blocks: dict[Any, int] = {}  # hub item / part key -> open block index
        self.done = False

    def start(self) -> list[Event]:
        message: dict[str, Any] = {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage(None),
        }
        return [{"type": "message_start", "message": message}]

    def feed(self, ev: Event) -> list[Event]:
        handler = _HANDLERS.get(ev["type"])
        if handler is None or self.done:
            return []
        out: list[Event] = []
        handler(self, ev, out)
        return out

    # -- blocks ----------------------------------------------------------------------------

    def _open(self, key: Any, block: dict[str, Any], out: list[Event]) -> None:
        index = self._blocks[key] = self._next
        self._next += 1
        out.append({"type": "content_block_start", "index": index, "content_block": block})

    def _delta(self, key: Any, delta: dict[str, Any], out: list[Event]) -> None:
        index = self._blocks.get(key)
        if index is not None:
            out.append({"type": "content_block_delta", "index": index, "delta": delta})

    def _close(self, key: Any, out: list[Event]) -> None:
        index = self._blocks.pop(key, None)
        if index is not None:
            out.append({"type": "content_block_stop", "index": index})

    def _close_all(self, out: list[Event]) -> None:
        for key in sorted(self._blocks, key=self._blocks.__getitem__):
            self._close(key, out)

    # -- hub event handlers ----------------------------------------------------------------

    def _item_added(self, ev: Event, out: list[Event]) -> None:
        item, index = ev["item"], ev["output_index"]
        kind = item.get("type")
        if kind == "reasoning":
            self._open(index, {"type": "thinking", "thinking": "", "signature": ""}, out)
        elif kind in ("function_call", "custom_tool_call"):
            block = {"type": "tool_use", "id": item["call_id"], "name": item["name"], "input": {}}
            self._open(index, block, out)

    def _thinking_delta(self, ev: Event, out: list[Event]) -> None:
        if self.show_thinking:
            delta = {"type": "thinking_delta", "thinking": ev["delta"]}
            self._delta(ev["output_index"], delta, out)

    def _part_added(self, ev: Event, out: list[Event]) -> None:
        key = (ev["output_index"], ev["content_index"])
        self._open(key, {"type": "text", "text": ""}, out)

    def _text_delta(self, ev: Event, out: list[Event]) -> None:
        key = (ev["output_index"], ev["content_index"])
        self._delta(key, {"type": "text_delta", "text": ev["delta"]}, out)

    def _part_done(self, ev: Event, out: list[Event]) -> None:
        self._close((ev["output_index"], ev["content_index"]), out)

    def _arguments_delta(self, ev: Event, out: list[Event]) -> None:
        delta = {"type": "input_json_delta", "partial_json": ev["delta"]}
        self._delta(ev["output_index"], delta, out)

    def _item_done(self, ev: Event, out: list[Event]) -> None:
        item, index = ev["item"], ev["output_index"]
        kind = item.get("type")
        if kind == "reasoning" and item.get("encrypted_content"):
            signature = {"type": "signature_delta", "signature": item["encrypted_content"]}
            self._delta(index, signature, out)
        elif kind == "custom_tool_call":  # raw input, not JSON: sent whole at the end
            partial = orjson.dumps(tool_input(item)).decode()
            self._delta(index, {"type": "input_json_delta", "partial_json": partial}, out)
        self._close(index, out)

    def _terminal(self, ev: Event, out: list[Event]) -> None:
        self.done = True
        resp = ev["response"]
        if resp.get("status") == "failed":
            err = resp.get("error") or {}
            out.append(error_event(err.get("code"), err.get("message")))
            return
        self._close_all(out)
        out.append(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason(resp), "stop_sequence": None},
                "usage": usage(resp.get("usage")),
            }
        )
        out.append({"type": "message_stop"})


def error_event(code: str | None, message: str | None, status: int | None = None) -> Event:
    """Anthropic's ``error`` stream event: the same envelope as an HTTP error body."""
    kind = anthropic_type(status) if status else _ERROR_TYPES.get(code or "", "api_error")
    return {
        "type": "error",
        "error": {"type": kind, "message": message or "The upstream failed mid-stream."},
    }


sse = named_events  # a batch of events (``event: <type>`` then ``data: <json>``), one write


_HANDLERS = {
    "response.output_item.added": MessagesStreamEncoder._item_added,
    "response.reasoning_summary_text.delta": MessagesStreamEncoder._thinking_delta,
    "response.reasoning_text.delta": MessagesStreamEncoder._thinking_delta,
    "response.content_part.added": MessagesStreamEncoder._part_added,
    "response.output_text.delta": MessagesStreamEncoder._text_delta,
    "response.refusal.delta": MessagesStreamEncoder._text_delta,
    "response.content_part.done": MessagesStreamEncoder._part_done,
    "response.function_call_arguments.delta": MessagesStreamEncoder._arguments_delta,
    "response.output_item.done": MessagesStreamEncoder._item_done,
    "response.completed": MessagesStreamEncoder._terminal,
    "response.incomplete": MessagesStreamEncoder._terminal,
    "response.failed": MessagesStreamEncoder._terminal,
}
