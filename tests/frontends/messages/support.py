"""In-process plumbing for the Messages front-door tests; nothing here opens a socket.

* ``decode(body)`` — a Messages body (``model``/``max_tokens`` defaulted) → ``HubRequest``.
* ``to_chat(body, profile)`` — the same body as the Chat Completions body the upstream gets.
* ``run_stream(chunks, ...)`` — upstream chunks → the Anthropic stream events a client gets,
  through ``ChatStreamDecoder`` → ``ResponseBuilder`` → ``MessagesStreamEncoder`` as the
  handler wires them; ``run_json(completion, ...)`` → the JSON message.
* ``check_stream(events)`` — the Anthropic stream grammar, asserted.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from tests.upstreams.chat.pipeline import SEALER
from wirebridge.config.model import DEFAULT_DROP_TOOL_TYPES
from wirebridge.frontends.messages.request import decode_request
from wirebridge.frontends.messages.response import encode_response, message_id
from wirebridge.frontends.messages.stream import MessagesStreamEncoder
from wirebridge.hub.accumulate import ResponseBuilder
from wirebridge.hub.request import HubRequest
from wirebridge.providers.profiles import PROFILES
from wirebridge.upstreams.chat.request import encode_request
from wirebridge.upstreams.chat.stream import ChatStreamDecoder, completion_as_chunk

Event = dict[str, Any]
Body = dict[str, Any]
MODEL = "claude-sonnet-4-6"
RESPONSE_ID = "resp_0123456789abcdef0123456789abcdef"


def full(body: Body) -> Body:
    return {
        "model": MODEL,
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": "hi"}],
        **copy.deepcopy(body),
    }


def decode(
    body: Body, drop: tuple[str, ...] = DEFAULT_DROP_TOOL_TYPES, dropped: list[str] | None = None
) -> HubRequest:
    return decode_request(full(body), SEALER, drop, dropped if dropped is not None else [])


def to_chat(body: Body, profile: str = "deepseek") -> Body:
    req = decode(body)
    return encode_request(req, "up-model", PROFILES[profile], req.stream)


@dataclass
class StreamRun:
    events: list[Event]
    response: dict[str, Any]

    @property
    def types(self) -> list[str]:
        return [e["type"] for e in self.events]

    def of(self, kind: str) -> list[Event]:
        return [e for e in self.events if e["type"] == kind]

    def deltas(self, kind: str) -> list[dict[str, Any]]:
        return [e["delta"] for e in self.of("content_block_delta") if e["delta"]["type"] == kind]


def run_stream(
    chunks: list[dict[str, Any]],
    body: Body | None = None,
    *,
    profile: str = "deepseek",
    reasoning_as: str = "summary",
    show_thinking: bool = True,
    fail: tuple[str, str] | None = None,
) -> StreamRun:
    req = decode(body or {})
    builder = ResponseBuilder(RESPONSE_ID, req)
    decoder = ChatStreamDecoder(req.tools, PROFILES[profile], SEALER.seal, reasoning_as)
    enc = MessagesStreamEncoder(message_id(RESPONSE_ID), MODEL, show_thinking)
    events = enc.start()
    for c in chunks:
        for ev in decoder.feed(copy.deepcopy(c)):
            events += enc.feed(builder.feed(ev))
    if fail is not None:
        decoder.fail(*fail)
    for ev in decoder.finish():
        events += enc.feed(builder.feed(ev))
    assert builder.response is not None
    return StreamRun(events, builder.response)


def run_json(
    completion: dict[str, Any], body: Body | None = None, *, profile: str = "deepseek"
) -> dict[str, Any]:
    req = decode(body or {})
    builder = ResponseBuilder(RESPONSE_ID, req)
    decoder = ChatStreamDecoder(req.tools, PROFILES[profile], SEALER.seal)
    for ev in decoder.feed(completion_as_chunk(copy.deepcopy(completion))) + decoder.finish():
        builder.feed(ev)
    assert builder.response is not None
    return encode_response(builder.response, MODEL)


def check_stream(events: list[Event]) -> None:
    """message_start first; blocks start/stop in index order, never two open at once, deltas
    only for the open block and of its kind; then message_delta, message_stop (or an error)."""
    assert events[0]["type"] == "message_start", events[0]
    open_index: int | None = None
    open_type = ""
    next_index = 0
    allowed = {
        "text": {"text_delta"},
        "thinking": {"thinking_delta", "signature_delta"},
        "tool_use": {"input_json_delta"},
    }
    types = [e["type"] for e in events]
    for ev in events[1:]:
        kind = ev["type"]
        if kind == "content_block_start":
            assert open_index is None, f"block {ev['index']} started while {open_index} open"
            assert ev["index"] == next_index, ev
            open_index, open_type, next_index = (
                next_index,
                ev["content_block"]["type"],
                next_index + 1,
            )
        elif kind == "content_block_delta":
            assert ev["index"] == open_index, ev
            assert ev["delta"]["type"] in allowed[open_type], (open_type, ev)
        elif kind == "content_block_stop":
            assert ev["index"] == open_index, ev
            open_index = None
    if types[-1] == "error":
        assert "message_stop" not in types
        return
    assert open_index is None, "a block was never stopped"
    assert types[-2:] == ["message_delta", "message_stop"], types
    assert types.count("message_delta") == 1
