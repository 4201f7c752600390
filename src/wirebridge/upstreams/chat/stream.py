"""Chat Completions chunks → hub events: a synchronous state machine, no I/O.

``feed(chunk)`` takes one parsed ``chat.completion.chunk`` and returns the Responses stream
events (without ``sequence_number``) it causes; ``finish()`` closes every open item in
output_index order and returns a partial terminal event (status, usage, incomplete_details) that
the accumulator completes. A non-streamed ``chat.completion`` goes through the same machine as a
single chunk (``completion_as_chunk``), so JSON and SSE answers cannot disagree.

State is kept per output item: reasoning, message (text and refusal parts), and one call per
upstream tool index. As in OpenAI's own streams, one item is open at a time: an item is done
before the next is added, in output_index order. A call is over when its arguments parse as a
whole JSON value; a provider that interleaves parallel calls' fragments has the later calls'
fragments held until the earlier call is over, so nothing is reordered or lost.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wirebridge.hub import ids
from wirebridge.hub.items import CallItem, MessageItem, OpenItem, ReasoningItem
from wirebridge.hub.seal import ProviderData
from wirebridge.hub.tools import ToolSet
from wirebridge.providers.profiles import Profile

Event = dict[str, Any]
Sealer = Callable[[ProviderData], str]

CONTENT_FILTER_REFUSAL = "The upstream provider's content filter blocked this response."


class ChatStreamDecoder:
    def __init__(
        self, tools: ToolSet, profile: Profile, seal: Sealer | None, reasoning_as: str = "summary"
    ) -> None:
        self._tools = tools
        self._profile = profile
        self._seal = seal
        self._reasoning_as = reasoning_as
        self._count = 0  # items opened so far: the next output_index
        self._current: OpenItem | None = None  # the one open item
        self._pending: list[CallItem] = []  # calls waiting for the current item to finish
        self._by_index: dict[int, CallItem] = {}  # upstream tool index -> its latest call
        self._any_text = False
        self._finish_reason: str | None = None
        self._usage: dict[str, Any] | None = None
        self._error: dict[str, Any] | None = None
        self._closing_status = "completed"  # status of items closed from here on
        self.model: str | None = None  # as the upstream reported it

    # -- feeding ---------------------------------------------------------------------------

    def feed(self, chunk: dict[str, Any]) -> list[Event]:
        out: list[Event] = []
        if chunk.get("error"):
            # OpenAI-compatible hosts report a mid-stream failure as a chunk with an "error"
            # (OpenRouter adds finish_reason "error"); whatever came before it is kept.
            self._error = _stream_error(chunk["error"])
            return out
        if self.model is None:
            self.model = chunk.get("model")
        usage = chunk.get("usage")
        if usage:
            self._usage = usage
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue  # n > 1 is refused before the request is sent
            delta = choice.get("delta")
            if delta:
                lp = choice.get("logprobs")
                self._feed_delta(delta, out, lp.get("content") if isinstance(lp, dict) else None)
            reason = choice.get("finish_reason")
            if reason:
                self._finish_reason = reason
                if reason == "error" and self._error is None:
                    self._error = {"code": "upstream_error", "message": "The upstream failed."}
        return out

    def _feed_delta(
        self, delta: dict[str, Any], out: list[Event], logprobs: list[dict[str, Any]] | None
    ) -> None:
        for field in self._profile.reasoning_fields:
            text = delta.get(field)
            if isinstance(text, str) and text:
                self._reasoning_delta(text, out)
                break
        content = delta.get("content")
        if content:
            self._message_delta("output_text", content, out, logprobs)
        refusal = delta.get("refusal")
        if refusal:
            self._message_delta("refusal", refusal, out)
        for position, tc in enumerate(delta.get("tool_calls") or ()):
            self._tool_delta(position, tc, out)

    def _reasoning_delta(self, text: str, out: list[Event]) -> None:
        item = self._current
        if not isinstance(item, ReasoningItem):
            self._flush_calls(out)
            item = ReasoningItem(self._count, ids.reasoning_id(), self._reasoning_as)
            self._start(item, out)
        item.delta(text, out)

    def _message_delta(
        self, kind: str, text: str, out: list[Event], logprobs: list[dict[str, Any]] | None = None
    ) -> None:
        item = self._current
        if not isinstance(item, MessageItem):
            self._flush_calls(out)
            item = MessageItem(self._count, ids.message_id())
            self._start(item, out)
        self._any_text = self._any_text or kind == "output_text"
        item.delta(kind, text, out, logprobs)

    def _tool_delta(self, position: int, tc: dict[str, Any], out: list[Event]) -> None:
        index = tc.get("index", position)
        fn = tc.get("function") or {}
        call = self._by_index.get(index)
        call_id = tc.get("id")
        if call is None or (call_id and call_id != call.call_id):
            # (some hosts reuse index 0 for every parallel call: a new id is a new call)
            call = self._by_index[index] = CallItem(call_id or ids.new_id("call"))
            self._pending.append(call)
        if fn.get("name") and call.name is None:
            call.bind(fn["name"], self._tools)
        args = fn.get("arguments")
        if args:
            call.delta(args, out)
        if self._pending:
            self._advance(out)

    def _advance(self, out: list[Event]) -> None:
        """Open the next waiting call once the current item is over."""
        while self._pending and self._pending[0].name is not None:
            cur = self._current
            if isinstance(cur, CallItem) and not cur.complete():
                return
            self._close_current(out)
            call = self._pending.pop(0)
            self._current = call
            call.open(self._count, out)
            self._count += 1

    def _flush_calls(self, out: list[Event]) -> None:
        """Close every call, waiting ones included (before an item of another kind starts)."""
        for call in self._pending:
            if call.name is None:  # a call whose name never came: still the client's to see
                call.bind("", self._tools)
        while self._pending:
            self._close_current(out)
            self._advance(out)
        self._close_current(out)

    def _start(self, item: OpenItem, out: list[Event]) -> None:
        self._close_current(out)
        self._count += 1
        self._current = item
        out.append(
            {"type": "response.output_item.added", "output_index": item.index, "item": item.added()}
        )

    def _close_current(self, out: list[Event]) -> None:
        item, self._current = self._current, None
        if item is None or item.closed:
            return
        encrypted = None
        if isinstance(item, ReasoningItem):
            encrypted = self._sealed(item.text())
        item.close(out, encrypted, self._closing_status)

    def _sealed(self, text: str) -> str | None:
        if self._seal is None or not text:
            return None
        return self._seal(ProviderData(self._profile.family, {"reasoning_content": text}))

    # -- finishing -------------------------------------------------------------------------

    @property
    def finished_cleanly(self) -> bool:
        """Whether the upstream said why it stopped (a stream may then end without [DONE])."""
        return self._finish_reason is not None or self._error is not None

    def fail(self, code: str, message: str) -> None:
        self._error = {"code": code, "message": message}

    def finish(self) -> list[Event]:
        out: list[Event] = []
        if self._error is not None or self._finish_reason == "length":
            # The items still open were cut short: a client must not run a truncated call.
            self._closing_status = "incomplete"
        if (
            self._finish_reason == "content_filter"
            and not self._any_text
            and not self._pending
            and not isinstance(self._current, CallItem)
        ):
            self._message_delta("refusal", CONTENT_FILTER_REFUSAL, out)
        self._flush_calls(out)
        out.append(self._terminal())
        return out

    def _terminal(self) -> Event:
        usage = map_usage(self._usage)
        if self._error is not None:
            status, kind, details = "failed", "response.failed", None
        elif self._finish_reason == "length":
            status, kind, details = "incomplete", "response.incomplete", "max_output_tokens"
        elif self._finish_reason == "content_filter" and self._any_text:
            status, kind, details = "incomplete", "response.incomplete", "content_filter"
        else:
            status, kind, details = "completed", "response.completed", None
        return {
            "type": kind,
            "response": {
                "status": status,
                "incomplete_details": {"reason": details} if details else None,
                "usage": usage,
                "error": self._error,
            },
        }


def map_usage(u: dict[str, Any] | None) -> dict[str, Any] | None:
    if not u:
        return None
    prompt = u.get("prompt_tokens") or 0
    completion = u.get("completion_tokens") or 0
    cached = (u.get("prompt_tokens_details") or {}).get("cached_tokens")
    if cached is None:
        cached = u.get("prompt_cache_hit_tokens", 0)  # DeepSeek's name for it
    reasoning = (u.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": cached or 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": u.get("total_tokens") or prompt + completion,
    }


def _stream_error(err: Any) -> dict[str, Any]:
    if isinstance(err, dict):
        return {
            "code": str(err.get("code") or err.get("type") or "upstream_error"),
            "message": str(err.get("message") or "The upstream reported an error mid-stream."),
        }
    return {"code": "upstream_error", "message": str(err)}


def completion_as_chunk(completion: dict[str, Any]) -> dict[str, Any]:
    """A non-streamed ``chat.completion`` as the one chunk that would have carried all of it."""
    choices = []
    for choice in completion.get("choices") or ():
        delta = dict(choice.get("message") or {})
        calls = delta.get("tool_calls")
        if calls:
            delta["tool_calls"] = [{**tc, "index": i} for i, tc in enumerate(calls)]
        choices.append(
            {
                "index": choice.get("index", 0),
                "delta": delta,
                "finish_reason": choice.get("finish_reason"),
                "logprobs": choice.get("logprobs"),
            }
        )
    chunk: dict[str, Any] = {"model": completion.get("model"), "choices": choices}
    if completion.get("usage"):
        chunk["usage"] = completion["usage"]
    if "error" in completion and not choices:
        chunk["error"] = completion["error"]
    return chunk
