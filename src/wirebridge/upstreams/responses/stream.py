"""Upstream Responses stream events → hub events: a synchronous state machine, no I/O.

``feed(event)`` takes one parsed upstream event and returns the hub events it causes (Responses
events without ``sequence_number``); ``finish()`` ends a stream that broke before its terminal
event. The upstream's own lifecycle events (``response.created`` …) are not relayed: the gateway
announces its own response id. Item ids pass through; output indexes are renumbered in the order
items were added, so the client's stream is 0, 1, 2 … whatever the upstream did.

Every event type the hub knows is relayed; others (hosted tools' progress events, …) are dropped
with a debug log. The upstream's stream may be thinner than OpenAI's (only
``output_item.done`` and ``response.completed``, or a terminal event whose ``output`` carries
items never streamed): the events a client is owed — ``output_item.added``, content and summary
parts, text and argument deltas and their ``.done`` — are made up from the finished item, so
every front door sees a complete stream. A non-streamed Response goes through the same path
(``response_events``), so JSON and SSE answers cannot disagree.

A reasoning item's ``encrypted_content`` reaches the client sealed by the gateway, tagged with
this upstream's family and holding the original blob and item id; ``request.py`` unwraps it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from wirebridge.hub import ids
from wirebridge.hub.seal import ProviderData
from wirebridge.upstreams.responses.fill import (
    FILLERS,
    Item,
    Part,
    fill_nothing,
    finish_part,
    from_state,
    part_for,
    skeleton,
)

log = logging.getLogger("wirebridge")

Event = dict[str, Any]
Sealer = Callable[[ProviderData], str]

_TERMINAL_STATUS = {
    "response.completed": "completed",
    "response.incomplete": "incomplete",
    "response.failed": "failed",
}
_ID_PREFIX = {
    "message": "msg",
    "reasoning": "rs",
    "function_call": "fc",
    "custom_tool_call": "ctc",
}
# Open Responses' names for raw reasoning text events, renamed to the hub's (OpenAI's) names.
_REASONING_TEXT = {
    "response.reasoning.delta": "response.reasoning_text.delta",
    "response.reasoning.done": "response.reasoning_text.done",
}


class ResponsesStreamDecoder:
    def __init__(self, seal: Sealer, family: str) -> None:
        self._seal, self._family = seal, family
        self._items: dict[object, Item] = {}  # upstream output_index (or item id) -> item
        self._by_id: dict[str, Item] = {}
        self._count = 0
        self._error: dict[str, Any] | None = None
        self._ended = False
        self.upstream_id: str | None = None  # the upstream's id of this response
        self.model: str | None = None  # as the upstream reported it

    @property
    def finished_cleanly(self) -> bool:
        """Whether the upstream's terminal event came (or an error that ends the stream)."""
        return self._ended or self._error is not None

    # -- feeding ---------------------------------------------------------------------------

    def feed(self, event: Event) -> list[Event]:
        out: list[Event] = []
        if self._ended:
            return out
        kind = event.get("type")
        handler = _HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is None:
            log.debug("upstream Responses event %r dropped: the hub has no such event", kind)
            return out
        event.pop("sequence_number", None)
        event.pop("obfuscation", None)  # padding meant for the upstream's own connection
        handler(self, event, out)
        return out

    def response_events(self, response: dict[str, Any]) -> list[Event]:
        """A whole (non-streamed) Response object as the hub events of its stream."""
        status = response.get("status")
        kind = f"response.{status}"
        if kind not in _TERMINAL_STATUS:
            self._error = {
                "code": "upstream_error",
                "message": f"The upstream answered with a response in status {status!r}.",
            }
            kind = "response.failed"
        return self.feed({"type": kind, "response": response})

    def fail(self, code: str, message: str) -> None:
        self._error = {"code": code, "message": message}

    def finish(self) -> list[Event]:
        """The failure that ends a stream whose terminal event never came (else nothing)."""
        if self._ended:
            return []
        if self._error is None:
            self.fail("upstream_error", "The upstream closed the stream before it ended.")
        return self.feed({"type": "response.failed", "response": {"status": "failed"}})

    # -- lifecycle ---------------------------------------------------------------------------

    def _lifecycle(self, event: Event, out: list[Event]) -> None:
        resp = event.get("response")
        if isinstance(resp, dict):
            self.upstream_id = resp.get("id") or self.upstream_id
            self.model = resp.get("model") or self.model

    def _error_event(self, event: Event, out: list[Event]) -> None:
        nested = event.get("error")
        err = nested if isinstance(nested, dict) else {k: event.get(k) for k in ("code", "message")}
        self._error = _error_object(err, "The upstream reported an error mid-stream.")

    def _terminal(self, event: Event, out: list[Event]) -> None:
        kind = event["type"]
        status = _TERMINAL_STATUS[kind]
        resp = event.get("response")
        resp = resp if isinstance(resp, dict) else {}
        self._lifecycle(event, out)
        closing = "completed" if status == "completed" else "incomplete"
        output = resp.get("output")
        for position, item in enumerate(output if isinstance(output, list) else ()):
            if isinstance(item, dict):
                self._backfill(position, item, out)
        for item in list(self._items.values()):
            if not item.done:
                self._close(item, from_state(item, closing), out)
        out.append({"type": kind, "response": self._partial(status, resp)})
        self._ended = True

    def _partial(self, status: str, resp: dict[str, Any]) -> dict[str, Any]:
        details = resp.get("incomplete_details")
        error = None
        if status == "incomplete" and not isinstance(details, dict):
            details = {"reason": "max_output_tokens"}
        if status == "failed":
            given = resp.get("error")
            fallback = self._error or {"code": "upstream_error", "message": "The upstream failed."}
            error = _error_object(given, fallback["message"]) if given else fallback
        return {
            "status": status,
            "usage": _usage(resp.get("usage")),
            "incomplete_details": details if status == "incomplete" else None,
            "error": error,
        }

    def _backfill(self, position: int, final: dict[str, Any], out: list[Event]) -> None:
        """An item of the terminal event's ``output``: finished here if its stream did not."""
        item_id = final.get("id")
        if isinstance(item_id, str) and item_id:
            item = self._by_id.get(item_id)
        else:
            item = self._items.get(position)
        if item is None:
            item = self._open(position, final, out)
        if not item.done:
            self._close(item, final, out)

    # -- items -------------------------------------------------------------------------------

    def _open(self, key: object, raw: dict[str, Any], out: list[Event]) -> Item:
        item_id = raw.get("id")
        if not isinstance(item_id, str) or not item_id:
            item_id = ids.new_id(_ID_PREFIX.get(str(raw.get("type")), "item"))
        item = Item(self._count, item_id, skeleton(raw, item_id))
        self._count += 1
        self._items[key] = item
        self._by_id[item_id] = item
        added = {"type": "response.output_item.added", "output_index": item.index}
        out.append({**added, "item": item.skeleton})
        return item

    def _find(self, event: Event) -> Item | None:
        item = self._items.get(event.get("output_index"))
        if item is None:
            item_id = event.get("item_id")
            item = self._by_id.get(item_id) if isinstance(item_id, str) else None
        if item is None or item.done:
            log.debug("upstream %s for an item that is not open: dropped", event.get("type"))
            return None
        return item

    def _item_added(self, event: Event, out: list[Event]) -> None:
        raw = event.get("item")
        key = event.get("output_index")
        if isinstance(raw, dict) and key not in self._items:
            self._open(key if key is not None else raw.get("id"), raw, out)

    def _item_done(self, event: Event, out: list[Event]) -> None:
        final = event.get("item")
        if not isinstance(final, dict):
            return
        key = event.get("output_index")
        item = self._items.get(key) if key is not None else None
        final_id = final.get("id")
        if item is None and isinstance(final_id, str):
            item = self._by_id.get(final_id)
        if item is None:
            item = self._open(key if key is not None else final_id, final, out)
        if not item.done:
            self._close(item, final, out)

    def _close(self, item: Item, final: dict[str, Any], out: list[Event]) -> None:
        final = {**final, "id": item.id}
        FILLERS.get(item.type, fill_nothing)(item, final, out)
        if final.get("type") == "reasoning":
            final = self._wrap(final)
        item.done = True
        out.append({"type": "response.output_item.done", "output_index": item.index, "item": final})

    def _wrap(self, item: dict[str, Any]) -> dict[str, Any]:
        blob = item.get("encrypted_content")
        if not isinstance(blob, str) or not blob:
            item.pop("encrypted_content", None)
            return item
        data = {"encrypted_content": blob, "id": item["id"]}
        return {**item, "encrypted_content": self._seal(ProviderData(self._family, data))}

    # -- item events -------------------------------------------------------------------------

    def _annotation(self, event: Event, out: list[Event]) -> None:
        item = self._find(event)
        if item is not None:
            event.update(item.base())
            out.append(event)

    def _part_added(self, event: Event, out: list[Event]) -> None:
        item = self._find(event)
        if item is None:
            return
        summary = event["type"] == "response.reasoning_summary_part.added"
        table = item.summary if summary else item.content
        key = event.get("summary_index" if summary else "content_index")
        part = event.get("part")
        if not isinstance(key, int) or key in table:
            return
        if not summary and item.type == "reasoning":
            table[key] = Part("reasoning_text")  # the hub's raw reasoning text has no parts
            return
        table[key] = Part(str(part.get("type")) if isinstance(part, dict) else "output_text")
        event.update(item.base())
        out.append(event)

    def _text_delta(self, event: Event, out: list[Event]) -> None:
        item = self._find(event)
        if item is None:
            return
        kind = event["type"] = _REASONING_TEXT.get(event["type"], event["type"])
        part = part_for(item, event, out)
        if part is None:
            return
        if part.text_done:
            return  # a delta after its .done: nothing a client could place
        part.text.append(str(event.get("delta") or ""))
        if kind == "response.output_text.delta":
            event.setdefault("logprobs", [])
        event.update(item.base())
        out.append(event)

    def _text_done(self, event: Event, out: list[Event]) -> None:
        item = self._find(event)
        if item is None:
            return
        event["type"] = _REASONING_TEXT.get(event["type"], event["type"])
        part = part_for(item, event, out)
        if part is None or part.text_done:
            return
        part.text_done = True
        event.update(item.base())
        out.append(event)

    def _part_done(self, event: Event, out: list[Event]) -> None:
        item = self._find(event)
        if item is None:
            return
        summary = event["type"] == "response.reasoning_summary_part.done"
        table = item.summary if summary else item.content
        part = table.get(event.get("summary_index" if summary else "content_index", -1))
        final = event.get("part")
        if part is None or part.done or not isinstance(final, dict):
            return
        if part.kind == "reasoning_text":
            part.done = True  # not relayed: the hub's raw reasoning text has no parts
            return
        key = event["summary_index"] if summary else event["content_index"]
        finish_part(item, key, final, summary, part, out, close=False)
        part.done = True
        event.update(item.base())
        out.append(event)

    def _args_delta(self, event: Event, out: list[Event]) -> None:
        item = self._find(event)
        if item is not None and not item.args_done:
            item.args.append(str(event.get("delta") or ""))
            event.update(item.base())
            out.append(event)

    def _args_done(self, event: Event, out: list[Event]) -> None:
        item = self._find(event)
        if item is not None and not item.args_done:
            item.args_done = True
            event.update(item.base())
            out.append(event)


# -- making up what a thin stream left out ---------------------------------------------------


def _usage(u: Any) -> dict[str, Any] | None:
    """The upstream's usage, with the fields the schema requires filled in when missing."""
    if not isinstance(u, dict):
        return None
    inp, outp = int(u.get("input_tokens") or 0), int(u.get("output_tokens") or 0)
    usage = {**u, "input_tokens": inp, "output_tokens": outp}
    usage["total_tokens"] = int(u.get("total_tokens") or inp + outp)
    in_details = u.get("input_tokens_details")
    out_details = u.get("output_tokens_details")
    usage["input_tokens_details"] = {
        "cached_tokens": 0,
        **(in_details if isinstance(in_details, dict) else {}),
    }
    usage["output_tokens_details"] = {
        "reasoning_tokens": 0,
        **(out_details if isinstance(out_details, dict) else {}),
    }
    return usage


def _error_object(err: Any, default_message: str) -> dict[str, Any]:
    if not isinstance(err, dict):
        return {"code": "upstream_error", "message": str(err) if err else default_message}
    code = err.get("code") or err.get("type") or "upstream_error"
    return {"code": str(code), "message": str(err.get("message") or default_message)}


_Handler = Callable[[ResponsesStreamDecoder, Event, list[Event]], None]
_D = ResponsesStreamDecoder
_HANDLERS: dict[str, _Handler] = {
    "response.created": _D._lifecycle,
    "response.in_progress": _D._lifecycle,
    "response.queued": _D._lifecycle,
    "response.completed": _D._terminal,
    "response.incomplete": _D._terminal,
    "response.failed": _D._terminal,
    "error": _D._error_event,
    "response.output_item.added": _D._item_added,
    "response.output_item.done": _D._item_done,
    "response.content_part.added": _D._part_added,
    "response.content_part.done": _D._part_done,
    "response.reasoning_summary_part.added": _D._part_added,
    "response.reasoning_summary_part.done": _D._part_done,
    "response.output_text.delta": _D._text_delta,
    "response.output_text.done": _D._text_done,
    "response.refusal.delta": _D._text_delta,
    "response.refusal.done": _D._text_done,
    "response.reasoning_summary_text.delta": _D._text_delta,
    "response.reasoning_summary_text.done": _D._text_done,
    "response.reasoning_text.delta": _D._text_delta,
    "response.reasoning_text.done": _D._text_done,
    "response.reasoning.delta": _D._text_delta,
    "response.reasoning.done": _D._text_done,
    "response.output_text.annotation.added": _D._annotation,
    "response.function_call_arguments.delta": _D._args_delta,
    "response.function_call_arguments.done": _D._args_done,
    "response.custom_tool_call_input.delta": _D._args_delta,
    "response.custom_tool_call_input.done": _D._args_done,
}
