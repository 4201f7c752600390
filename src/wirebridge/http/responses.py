"""POST /v1/responses: decode, route, call the upstream, answer as JSON or SSE."""

from __future__ import annotations

import logging

from aiohttp import web

from wirebridge.engine.gateway import Gateway
from wirebridge.errors import NotFound, UpstreamError
from wirebridge.frontends.responses.request import decode_request, parse_json_object
from wirebridge.frontends.responses.stream import SSE_DONE, ResponsesStreamEncoder
from wirebridge.http.body import read_body
from wirebridge.http.keys import GATEWAY
from wirebridge.http.wire import json_response
from wirebridge.hub import ids
from wirebridge.hub.accumulate import ResponseBuilder
from wirebridge.upstreams.chat.adapter import ChatCall

log = logging.getLogger("wirebridge")

SSE_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}


async def create(request: web.Request) -> web.StreamResponse:
    gw: Gateway = request.app[GATEWAY]
    server = gw.config.server
    body = parse_json_object(await read_body(request, server.max_body_bytes))
    dropped: list[str] = []
    req = decode_request(body, gw.sealer, server.drop_tool_types, dropped)
    if dropped:
        log.info("dropped tools the upstream cannot run: %s", ", ".join(sorted(set(dropped))))
    if req.previous_response_id:
        raise NotFound(
            f"Previous response with id '{req.previous_response_id}' not found.",
            param="previous_response_id",
            code="previous_response_not_found",
        )
    route = gw.router.resolve(req.model)
    builder = ResponseBuilder(ids.response_id(), req)
    call = gw.call(req, route, stream=req.stream)
    try:
        await call.open()
        if not req.stream:
            return await _json(call, builder)
        return await _sse(request, call, builder, server.event_dialect)
    finally:
        # Also when the client went away (the handler is cancelled): the upstream call ends too.
        call.close()


async def _json(call: ChatCall, builder: ResponseBuilder) -> web.Response:
    async for batch in call.batches():
        for ev in batch:
            builder.feed(ev)
    resp = builder.response
    assert resp is not None
    if resp["status"] == "failed":
        err = resp.get("error") or {}
        raise UpstreamError(err.get("message", "The upstream failed."), code=err.get("code"))
    return json_response(resp)


async def _sse(
    request: web.Request, call: ChatCall, builder: ResponseBuilder, dialect: str
) -> web.StreamResponse:
    enc = ResponsesStreamEncoder(dialect)
    out = web.StreamResponse(headers=SSE_HEADERS)
    await out.prepare(request)
    head = [
        {"type": "response.created", "response": builder.snapshot()},
        {"type": "response.in_progress", "response": builder.snapshot()},
    ]
    try:
        await out.write(enc.sse(head))
        async for batch in call.batches():
            await out.write(enc.sse([builder.feed(ev) for ev in batch]))
        await out.write(SSE_DONE)
    except ConnectionResetError:
        log.info("client went away mid-stream; upstream call closed")
    return out
