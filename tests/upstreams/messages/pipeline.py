"""Pure, in-process plumbing for the hub ⇄ Anthropic Messages translation tests.

Nothing here opens a socket: requests go through a front door's ``decode_request`` and this
package's ``encode_request``; upstream events through ``MessagesStreamDecoder`` →
``ResponseBuilder`` → ``ResponsesStreamEncoder``, as the gateway wires them.

* ``translate(body)`` — a Responses request body → the Anthropic body (``chat_body`` and
  ``messages_body`` do the same from a Chat Completions or a Messages client's body).
* ``stream(events, ...)`` — Anthropic stream events → the numbered client events and Response.
* ``as_json(message, ...)`` — a non-streamed Anthropic message → the final Response.
* ``start()``, ``block()``, ``delta()``, ``stop()``, ``end()`` — realistic wire events.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from tests.support.fake_anthropic import check_request
from tests.upstreams.chat.pipeline import SEALER, assert_valid_stream, normalize, without_ids
from wirebridge.config.model import DEFAULT_DROP_TOOL_TYPES
from wirebridge.frontends.chat.request import bind_route
from wirebridge.frontends.chat.request import decode_request as decode_chat
from wirebridge.frontends.messages.request import decode_request as decode_messages
from wirebridge.frontends.responses.request import decode_request
from wirebridge.frontends.responses.stream import ResponsesStreamEncoder
from wirebridge.hub.accumulate import ResponseBuilder
from wirebridge.hub.request import HubRequest
from wirebridge.upstreams.messages import DEFAULT_SETTINGS, AnthropicSettings
from wirebridge.upstreams.messages.request import encode_request
from wirebridge.upstreams.messages.stream import MessagesStreamDecoder, message_as_events

__all__ = [
    "SEALER",
    "Run",
    "as_json",
    "assert_valid_stream",
    "block",
    "chat_body",
    "decode",
    "delta",
    "end",
    "messages_body",
    "normalize",
    "start",
    "stop",
    "stream",
    "translate",
    "without_ids",
]

Event = dict[str, Any]
Body = dict[str, Any]
RESPONSE_ID = "resp_test"
MODEL = "claude-sonnet-4-5-20250929"


def decode(body: Body) -> HubRequest:
    full = {"model": "m", **copy.deepcopy(body)}
    return decode_request(full, SEALER, DEFAULT_DROP_TOOL_TYPES, [])


def _encode(req: HubRequest, stream: bool | None, settings: AnthropicSettings, check: bool) -> Body:
    out = encode_request(req, MODEL, req.stream if stream is None else stream, settings)
    if check:
        check_request(copy.deepcopy(out))  # what Anthropic itself would refuse
    return out


def translate(
    body: Body,
    *,
    stream: bool | None = None,
    settings: AnthropicSettings = DEFAULT_SETTINGS,
    check: bool = True,
) -> Body:
    """A Responses request body (``model`` defaulted) as the Anthropic body; ``check``: assert
    Anthropic would accept it."""
    return _encode(decode(body), stream, settings, check)


def chat_body(body: Body, *, check: bool = True) -> Body:
    req, _ = decode_chat({"model": "m", **copy.deepcopy(body)})
    bind_route(req, "messages", "generic")
    return _encode(req, None, DEFAULT_SETTINGS, check)


def messages_body(body: Body, *, check: bool = True) -> Body:
    full = {"model": "m", "max_tokens": 1024, **copy.deepcopy(body)}
    req = decode_messages(full, SEALER, DEFAULT_DROP_TOOL_TYPES, [])
    return _encode(req, None, DEFAULT_SETTINGS, check)


@dataclass
class Run:
    events: list[Event]
    response: dict[str, Any]
    decoder: MessagesStreamDecoder = field(repr=False)

    @property
    def types(self) -> list[str]:
        return [e["type"] for e in self.events]

    def of(self, kind: str) -> list[Event]:
        return [e for e in self.events if e["type"] == kind]


def stream(
    events: list[Event],
    req: HubRequest | None = None,
    *,
    reasoning_as: str = "summary",
    fail: tuple[str, str] | None = None,
) -> Run:
    """Feed Anthropic stream ``events``; return what the client receives (validated)."""
    req = req or decode({"input": "hi"})
    builder = ResponseBuilder(RESPONSE_ID, req)
    decoder = MessagesStreamDecoder(req.tools, SEALER.seal, reasoning_as)
    enc = ResponsesStreamEncoder("openai")
    out: list[Event] = []
    for head in ("response.created", "response.in_progress"):
        out += enc.events({"type": head, "response": builder.snapshot()})
    for event in events:
        for ev in decoder.feed(copy.deepcopy(event)):
            out += enc.events(builder.feed(ev))
    if fail is not None:
        decoder.fail(*fail)
    for ev in decoder.finish():
        out += enc.events(builder.feed(ev))
    assert builder.response is not None, "no terminal event"
    assert_valid_stream(out)
    return Run(out, builder.response, decoder)


def as_json(
    message: dict[str, Any], req: HubRequest | None = None, *, reasoning_as: str = "summary"
) -> dict[str, Any]:
    """The Response a JSON client gets for a non-streamed Anthropic ``message``."""
    req = req or decode({"input": "hi"})
    builder = ResponseBuilder(RESPONSE_ID, req)
    decoder = MessagesStreamDecoder(req.tools, SEALER.seal, reasoning_as)
    for event in message_as_events(copy.deepcopy(message)):
        for ev in decoder.feed(event):
            builder.feed(ev)
    for ev in decoder.finish():
        builder.feed(ev)
    assert builder.response is not None
    return builder.response


# -- upstream wire events ----------------------------------------------------------------------


def start(usage: dict[str, Any] | None = None, *, model: str = MODEL) -> Event:
    """``message_start``: the message shell with the input usage."""
    return {
        "type": "message_start",
        "message": {
            "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage
            or {
                "input_tokens": 25,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": 1,
            },
        },
    }


def block(index: int, kind: str, **fields: Any) -> Event:
    """``content_block_start`` with the empty shell a stream opens a block of ``kind`` with."""
    shells: dict[str, dict[str, Any]] = {
        "text": {"type": "text", "text": ""},
        "thinking": {"type": "thinking", "thinking": "", "signature": ""},
        "tool_use": {"type": "tool_use", "input": {}},
        "redacted_thinking": {"type": "redacted_thinking"},
    }
    shell = {**shells.get(kind, {"type": kind}), **fields}
    return {"type": "content_block_start", "index": index, "content_block": shell}


def delta(index: int, kind: str, value: str) -> Event:
    """``content_block_delta``: kind text / thinking / signature / input_json."""
    key = {"text": "text", "thinking": "thinking", "signature": "signature"}.get(
        kind, "partial_json"
    )
    return {
        "type": "content_block_delta",
        "index": index,
        "delta": {"type": f"{kind}_delta", key: value},
    }


def stop(index: int) -> Event:
    return {"type": "content_block_stop", "index": index}


def end(
    reason: str | None = "end_turn", output_tokens: int = 15, **delta_fields: Any
) -> list[Event]:
    """``message_delta`` (stop reason, output usage) and ``message_stop``."""
    return [
        {
            "type": "message_delta",
            "delta": {"stop_reason": reason, "stop_sequence": None, **delta_fields},
            "usage": {"output_tokens": output_tokens},
        },
        {"type": "message_stop"},
    ]
