"""Pure, in-process plumbing for the Responses ⇄ Chat Completions translation tests.

Nothing here opens a socket: requests go through ``decode_request`` + ``encode_request``, and
upstream chunks through ``ChatStreamDecoder`` → ``ResponseBuilder`` → ``ResponsesStreamEncoder``,
exactly as ``http/responses.py`` wires them, so a test sees the events a client would see.

* ``translate(body, profile)`` — a Responses request body → the Chat Completions body.
* ``stream(chunks, ...)`` — upstream chunks → the numbered client events and the final Response.
* ``as_json(completion, ...)`` — a non-streamed ``chat.completion`` → the final Response.
* ``chunk(...)`` / ``usage_chunk(...)`` — realistic ``chat.completion.chunk`` objects.
* ``normalize(obj)`` — generated ids, sealed blobs and timestamps replaced by placeholders.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from tests.support.validate import check_event_order, validate_event
from wirebridge.config.model import DEFAULT_DROP_TOOL_TYPES
from wirebridge.frontends.responses.request import decode_request
from wirebridge.frontends.responses.stream import ResponsesStreamEncoder
from wirebridge.hub.accumulate import ResponseBuilder
from wirebridge.hub.request import HubRequest
from wirebridge.hub.seal import Sealer
from wirebridge.providers.profiles import PROFILES
from wirebridge.upstreams.chat.request import encode_request
from wirebridge.upstreams.chat.stream import ChatStreamDecoder, completion_as_chunk

Event = dict[str, Any]
Body = dict[str, Any]

SEALER = Sealer(bytes(range(32)))
RESPONSE_ID = "resp_test"
CHUNK_ID = "chatcmpl-test"
CREATED = 1_790_000_000


def decode(body: Body, drop: tuple[str, ...] = DEFAULT_DROP_TOOL_TYPES) -> HubRequest:
    return decode_request(copy.deepcopy(body), SEALER, drop, [])


def translate(
    body: Body,
    profile: str = "generic",
    *,
    stream: bool | None = None,
    drop: tuple[str, ...] = DEFAULT_DROP_TOOL_TYPES,
    dropped: list[str] | None = None,
    upstream_model: str = "up-model",
) -> Body:
    """``body`` (a Responses request, ``model`` defaulted) as the Chat Completions body."""
    full = {"model": "m", **copy.deepcopy(body)}
    req = decode_request(full, SEALER, drop, dropped if dropped is not None else [])
    wants_stream = req.stream if stream is None else stream
    return encode_request(req, upstream_model, PROFILES[profile], wants_stream)


def request(body: Body | None = None) -> HubRequest:
    return decode({"model": "m", "input": "hi", **(body or {})})


@dataclass
class Run:
    events: list[Event]
    response: dict[str, Any]
    decoder: ChatStreamDecoder = field(repr=False)

    @property
    def types(self) -> list[str]:
        return [e["type"] for e in self.events]

    def of(self, kind: str) -> list[Event]:
        return [e for e in self.events if e["type"] == kind]


def stream(
    chunks: list[dict[str, Any]],
    req: HubRequest | None = None,
    *,
    profile: str = "deepseek",
    reasoning_as: str = "summary",
    dialect: str = "openai",
    fail: tuple[str, str] | None = None,
) -> Run:
    """Feed ``chunks`` as an SSE upstream would; return what the client receives."""
    req = req or request()
    builder = ResponseBuilder(RESPONSE_ID, req)
    decoder = ChatStreamDecoder(req.tools, PROFILES[profile], SEALER.seal, reasoning_as)
    enc = ResponsesStreamEncoder(dialect)
    events: list[Event] = []
    for head in ("response.created", "response.in_progress"):
        events += enc.events({"type": head, "response": builder.snapshot()})
    for c in chunks:
        for ev in decoder.feed(copy.deepcopy(c)):
            events += enc.events(builder.feed(ev))
    if fail is not None:
        decoder.fail(*fail)
    for ev in decoder.finish():
        events += enc.events(builder.feed(ev))
    assert builder.response is not None, "no terminal event"
    return Run(events, builder.response, decoder)


def as_json(
    completion: dict[str, Any],
    req: HubRequest | None = None,
    *,
    profile: str = "deepseek",
    reasoning_as: str = "summary",
) -> dict[str, Any]:
    """The Response a JSON client gets for a non-streamed ``chat.completion``."""
    req = req or request()
    builder = ResponseBuilder(RESPONSE_ID, req)
    decoder = ChatStreamDecoder(req.tools, PROFILES[profile], SEALER.seal, reasoning_as)
    for ev in decoder.feed(completion_as_chunk(copy.deepcopy(completion))) + decoder.finish():
        builder.feed(ev)
    assert builder.response is not None
    return builder.response


# -- upstream wire objects -----------------------------------------------------------------------


def chunk(
    delta: dict[str, Any] | None = None,
    finish: str | None = None,
    *,
    model: str = "up-model",
) -> dict[str, Any]:
    """One ``chat.completion.chunk`` with a single choice."""
    return {
        "id": CHUNK_ID,
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": model,
        "choices": [{"index": 0, "delta": delta or {}, "logprobs": None, "finish_reason": finish}],
    }


def usage_chunk(usage: dict[str, Any], *, model: str = "up-model") -> dict[str, Any]:
    """The trailing chunk ``stream_options.include_usage`` asks for: ``choices: []``."""
    return {
        "id": CHUNK_ID,
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": model,
        "choices": [],
        "usage": usage,
    }


def usage(prompt: int = 11, completion: int = 7, **extra: Any) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        **extra,
    }


def tool_delta(
    index: int, args: str = "", *, call_id: str | None = None, name: str | None = None
) -> dict[str, Any]:
    """A ``delta.tool_calls`` entry: id and name only on a call's first fragment."""
    tc: dict[str, Any] = {"index": index}
    fn: dict[str, Any] = {"arguments": args}
    if call_id is not None:
        tc["id"] = call_id
        tc["type"] = "function"
    if name is not None:
        fn["name"] = name
    tc["function"] = fn
    return tc


def completion(
    message: dict[str, Any], finish: str = "stop", usage_: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A non-streamed ``chat.completion``."""
    out: dict[str, Any] = {
        "id": CHUNK_ID,
        "object": "chat.completion",
        "created": CREATED,
        "model": "up-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", **message},
                "logprobs": None,
                "finish_reason": finish,
            }
        ],
    }
    if usage_ is not None:
        out["usage"] = usage_
    return out


# -- normalisation -------------------------------------------------------------------------------

_GENERATED = re.compile(r"^(msg|fc|ctc|rs|call)_[0-9a-f]{32}$")
_TIMESTAMPS = ("created_at", "completed_at")


def normalize(obj: Any) -> Any:
    """A copy of ``obj`` with generated ids as ``<msg_1>``, ``<fc_1>`` … (numbered per prefix
    in order of first appearance), sealed blobs as ``<sealed_1>`` … and timestamps as
    ``<ts>``, so two runs of the same scenario compare equal."""
    names: dict[str, str] = {}
    counts: dict[str, int] = {}

    def name_for(value: str, prefix: str) -> str:
        if value not in names:
            counts[prefix] = counts.get(prefix, 0) + 1
            names[value] = f"<{prefix}_{counts[prefix]}>"
        return names[value]

    def walk(o: Any) -> Any:
        if isinstance(o, dict):
            return {
                k: "<ts>" if k in _TIMESTAMPS and isinstance(v, int) else walk(v)
                for k, v in o.items()
            }
        if isinstance(o, list):
            return [walk(v) for v in o]
        if isinstance(o, str):
            m = _GENERATED.match(o)
            if m:
                return name_for(o, m.group(1))
            if o.startswith("wb1."):
                return name_for(o, "sealed")
        return o

    return walk(obj)


# -- stream checks -------------------------------------------------------------------------------


def assert_valid_stream(events: list[Event]) -> dict[str, Any]:
    """Schema-validate every event, check the stream grammar, and check that one item is open
    at a time: each item's ``output_item.added`` … ``.done`` before the next one's added, with
    output_index 0, 1, 2 …; every item event refers to the open item. Returns the final
    Response."""
    for ev in events:
        validate_event(ev)
    final = check_event_order(events)
    open_index: int | None = None
    next_index = 0
    for ev in events:
        kind = ev["type"]
        if kind == "response.output_item.added":
            assert open_index is None, f"item {ev['output_index']} added while {open_index} open"
            assert ev["output_index"] == next_index
            open_index, next_index = next_index, next_index + 1
        elif kind == "response.output_item.done":
            assert ev["output_index"] == open_index, f"done for a closed item: {ev}"
            open_index = None
        elif "output_index" in ev:
            assert ev["output_index"] == open_index, f"{kind} for an item that is not open"
    assert open_index is None, "an item was never done"
    return final


def without_ids(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Output items minus their generated ``id``; a sealed blob becomes ``"<sealed>"``."""
    out = []
    for item in items:
        item = {k: v for k, v in item.items() if k != "id"}
        if isinstance(item.get("encrypted_content"), str):
            item["encrypted_content"] = "<sealed>"
        out.append(item)
    return out
