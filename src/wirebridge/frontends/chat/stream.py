"""Hub events → ``chat.completion.chunk`` objects, a synchronous state machine, no I/O.

``start()`` gives the first chunk (``role: "assistant"``, ``content: ""``); ``feed(event)`` the
chunks one hub event causes; ``finish()`` what is owed if no terminal event came. Text, refusal
and reasoning deltas map one to one; each tool call gets the next chat tool index (0, 1, 2 …) in
order of appearance, its first chunk carries id, type, name and ``arguments: ""``, then argument
fragments follow. The terminal event gives the chunk with ``finish_reason`` (read from the full
Response, as the JSON answer does) and, if asked for, a usage chunk with ``choices: []``; a
failure gives OpenAI's mid-stream error chunk ``{"error": {...}}``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from wirebridge.frontends.chat.request import ChatOptions
from wirebridge.frontends.chat.response import completion_id, encode_usage, finish_reason

Event = dict[str, Any]
Chunk = dict[str, Any]
SSE_DONE = b"data: [DONE]\n\n"


class _Call:
    """A tool call being streamed: its place in the chat message and how it is spelled."""

    __slots__ = ("custom", "index", "legacy", "started")

    def __init__(self, index: int, custom: bool, legacy: bool) -> None:
        self.index, self.custom, self.legacy = index, custom, legacy
        self.started = False  # custom calls: the shim's opening '{"input":"' was sent

    def delta(self, args: str) -> dict[str, Any]:
        if self.legacy:
            return {"function_call": {"arguments": args}}
        return {"tool_calls": [{"index": self.index, "function": {"arguments": args}}]}


class ChatChunkEncoder:
    def __init__(self, response_id: str, model: str, created: int, opts: ChatOptions) -> None:
        self._base = {
            "id": completion_id(response_id),
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
        }
        self._opts = opts
        self._started = False
        self._ended = False
        self._calls: dict[int, _Call] = {}  # output_index -> call
        self._tool_count = 0  # chat tool indexes handed out
        self._legacy_used = False

    # -- chunks ------------------------------------------------------------------------------

    def _chunk(
        self, delta: dict[str, Any], finish: str | None = None, logprobs: Any = None
    ) -> Chunk:
        chunk = {
            **self._base,
            "choices": [
                {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": logprobs}
            ],
        }
        if self._opts.include_usage:
            chunk["usage"] = None  # OpenAI sends it on every chunk, set only on the last
        return chunk

    def start(self) -> list[Chunk]:
        if self._started:
            return []
        self._started = True
        return [self._chunk({"role": "assistant", "content": "", "refusal": None})]

    def feed(self, event: Event) -> list[Chunk]:
        handler = _HANDLERS.get(event["type"])
        if handler is None or self._ended:
            return []
        return self.start() + handler(self, event)

    def finish(self) -> list[Chunk]:
        if self._ended:
            return []
        return self.start() + self._failed({"message": "The response ended without an end."})

    def sse(self, events: list[Event]) -> bytes:
        """SSE bytes for a batch of hub events, to be written with one write."""
        return encode_sse([c for ev in events for c in self.feed(ev)])

    # -- handlers, one per event type ---------------------------------------------------------

    def _text(self, ev: Event) -> list[Chunk]:
        lp = ev.get("logprobs")
        logprobs = {"content": lp, "refusal": None} if lp and self._opts.logprobs else None
        return [self._chunk({"content": ev["delta"]}, logprobs=logprobs)]

    def _refusal(self, ev: Event) -> list[Chunk]:
        return [self._chunk({"refusal": ev["delta"]})]

    def _reasoning(self, ev: Event) -> list[Chunk]:
        return [self._chunk({"reasoning_content": ev["delta"]})]

    def _item_added(self, ev: Event) -> list[Chunk]:
        item = ev["item"]
        kind = item.get("type")
        if kind not in ("function_call", "custom_tool_call"):
            return []
        legacy = self._opts.legacy_functions and not self._legacy_used
        if legacy:
            self._legacy_used = True
            call = _Call(-1, kind == "custom_tool_call", True)
            delta: dict[str, Any] = {"function_call": {"name": item["name"], "arguments": ""}}
        else:
            call = _Call(self._tool_count, kind == "custom_tool_call", False)
            self._tool_count += 1
            first = {
                "index": call.index,
                "id": item["call_id"],
                "type": "function",
                "function": {"name": item["name"], "arguments": ""},
            }
            delta = {"tool_calls": [first]}
        self._calls[ev["output_index"]] = call
        return [self._chunk(delta)]

    def _arguments(self, ev: Event) -> list[Chunk]:
        call = self._calls.get(ev["output_index"])
        if call is None or not ev["delta"]:
            return []
        return [self._chunk(call.delta(ev["delta"]))]

    def _custom_input(self, ev: Event) -> list[Chunk]:
        # A custom tool's raw input, streamed inside the function shim {"input": "..."}.
        call = self._calls.get(ev["output_index"])
        if call is None or not ev["delta"]:
            return []
        escaped = orjson.dumps(ev["delta"]).decode()[1:-1]
        if not call.started:
            call.started = True
            escaped = '{"input":"' + escaped
        return [self._chunk(call.delta(escaped))]

    def _custom_done(self, ev: Event) -> list[Chunk]:
        call = self._calls.get(ev["output_index"])
        if call is None:
            return []
        return [self._chunk(call.delta('"}' if call.started else '{"input":""}'))]

    def _terminal(self, ev: Event) -> list[Chunk]:
        self._ended = True
        resp = ev["response"]
        out = [self._chunk({}, finish_reason(resp, self._opts))]
        if self._opts.include_usage:
            out.append({**self._base, "choices": [], "usage": encode_usage(resp.get("usage"))})
        return out

    def _failure(self, ev: Event) -> list[Chunk]:
        return self._failed(ev["response"].get("error") or {})

    def _failed(self, err: dict[str, Any]) -> list[Chunk]:
        self._ended = True
        error = {
            "message": err.get("message") or "The upstream failed mid-stream.",
            "type": "server_error",
            "param": None,
            "code": err.get("code"),
        }
        return [{"error": error}]


_HANDLERS: dict[str, Callable[[ChatChunkEncoder, Event], list[Chunk]]] = {
    "response.output_text.delta": ChatChunkEncoder._text,
    "response.refusal.delta": ChatChunkEncoder._refusal,
    "response.reasoning_summary_text.delta": ChatChunkEncoder._reasoning,
    "response.reasoning_text.delta": ChatChunkEncoder._reasoning,
    "response.output_item.added": ChatChunkEncoder._item_added,
    "response.function_call_arguments.delta": ChatChunkEncoder._arguments,
    "response.custom_tool_call_input.delta": ChatChunkEncoder._custom_input,
    "response.custom_tool_call_input.done": ChatChunkEncoder._custom_done,
    "response.completed": ChatChunkEncoder._terminal,
    "response.incomplete": ChatChunkEncoder._terminal,
    "response.failed": ChatChunkEncoder._failure,
}


def encode_sse(chunks: list[Chunk]) -> bytes:
    return b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks)
