"""In-process plumbing for the Responses upstream tests (no sockets).

* ``encode(body, ...)`` — a client's request body (decoded as its front door does) → the body the
  Responses upstream is sent.
* ``run(events)`` — upstream events through ``ResponsesStreamDecoder`` → ``ResponseBuilder`` →
  ``ResponsesStreamEncoder`` (as the gateway wires them); every client event is validated and the
  stream checked for order; returns the events and the final Response.
* ``as_json(response)`` — a non-streamed upstream Response → the final Response.
* ``render(reply)`` — what ``FakeResponses`` would send for a scripted reply.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from tests.support.fake_responses import FakeResponses, Reply
from tests.support.validate import check_event_order, validate_event, validate_response
from wirebridge.config.model import DEFAULT_DROP_TOOL_TYPES
from wirebridge.frontends.chat.request import decode_request as decode_chat
from wirebridge.frontends.responses.request import decode_request
from wirebridge.frontends.responses.stream import ResponsesStreamEncoder
from wirebridge.hub.accumulate import ResponseBuilder
from wirebridge.hub.request import HubRequest
from wirebridge.hub.seal import ProviderData, Sealer
from wirebridge.upstreams.responses.request import encode_request
from wirebridge.upstreams.responses.stream import ResponsesStreamDecoder

Event = dict[str, Any]
SEALER = Sealer(bytes(range(32)))
FAMILY = "oai"
_FAKE = FakeResponses()  # only its renderer is used: never started


def decode(body: dict[str, Any], source: str = "responses") -> HubRequest:
    full = {"model": "m", **copy.deepcopy(body)}
    if source == "chat":
        req, _ = decode_chat(full)
        return req
    return decode_request(full, SEALER, DEFAULT_DROP_TOOL_TYPES, [])


def encode(
    body: dict[str, Any] | HubRequest,
    *,
    stream: bool = True,
    stateful: bool = False,
    family: str = FAMILY,
    upstream_model: str = "up-model",
) -> dict[str, Any]:
    req = body if isinstance(body, HubRequest) else decode(body)
    return encode_request(req, upstream_model, stream, family=family, stateful=stateful)


def sealed(family: str, **data: Any) -> str:
    return SEALER.seal(ProviderData(family, data))


@dataclass
class Run:
    events: list[Event]
    response: dict[str, Any]
    decoder: ResponsesStreamDecoder

    @property
    def types(self) -> list[str]:
        return [e["type"] for e in self.events]

    def of(self, kind: str) -> list[Event]:
        return [e for e in self.events if e["type"] == kind]


def run(
    upstream: list[Event], *, fail: tuple[str, str] | None = None, validate: bool = True
) -> Run:
    """``validate=False``: items the Open Responses schema lacks (hosted tool calls)."""
    builder = ResponseBuilder("resp_gateway", decode({"input": "hi"}))
    decoder = ResponsesStreamDecoder(SEALER.seal, FAMILY)
    enc = ResponsesStreamEncoder()
    events: list[Event] = []
    for head in ("response.created", "response.in_progress"):
        events += enc.events({"type": head, "response": builder.snapshot()})
    for ev in upstream:
        for hub in decoder.feed(copy.deepcopy(ev)):
            events += enc.events(builder.feed(hub))
    if fail is not None:
        decoder.fail(*fail)
    for hub in decoder.finish():
        events += enc.events(builder.feed(hub))
    assert builder.response is not None, "no terminal event"
    if validate:
        for ev in events:
            validate_event(ev)
    check_event_order(events)
    return Run(events, builder.response, decoder)


def as_json(response: dict[str, Any]) -> dict[str, Any]:
    builder = ResponseBuilder("resp_gateway", decode({"input": "hi"}))
    decoder = ResponsesStreamDecoder(SEALER.seal, FAMILY)
    for hub in decoder.response_events(copy.deepcopy(response)) + decoder.finish():
        builder.feed(hub)
    assert builder.response is not None
    validate_response(builder.response)
    return builder.response


def render(reply: Reply, body: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[Event]]:
    return _FAKE.render(reply, body)


def opened(item: dict[str, Any]) -> ProviderData | None:
    return SEALER.open(item.get("encrypted_content"))


def comparable(output: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Output items with sealed blobs (random nonces) replaced by what they hold."""
    out = []
    for item in output:
        pd = opened(item)
        if pd is not None:
            item = {**item, "encrypted_content": (pd.family, pd.data)}
        out.append(item)
    return out
