"""POST /v1/chat/completions: decode, run one turn through the hub, answer as JSON or SSE."""

from __future__ import annotations

import logging

from aiohttp import web

from wirebridge import observe
from wirebridge.engine.gateway import Gateway
from wirebridge.engine.pipeline import Turn, open_turn
from wirebridge.frontends.chat.request import ChatOptions, bind_route, decode_request
from wirebridge.frontends.chat.response import encode_completion
from wirebridge.frontends.chat.stream import SSE_DONE, ChatChunkEncoder, encode_sse
from wirebridge.frontends.responses.request import parse_json_object
from wirebridge.http.body import read_body
from wirebridge.http.keepalive import Keepalive
from wirebridge.http.keys import GATEWAY
from wirebridge.http.wire import SSE_HEADERS, SSE_KEEPALIVE, json_response

log = logging.getLogger("wirebridge")


async def create(request: web.Request) -> web.StreamResponse:
    gw: Gateway = request.app[GATEWAY]
    body = parse_json_object(await read_body(request, gw.config.server.max_body_bytes))
    req, opts = decode_request(body)
    observe.asked(req.model, req.stream)
    route = gw.router.resolve(req.model)
    bind_route(req, route.provider.api, route.profile.family)
    turn = await open_turn(gw, req, stream=req.stream)
    try:
        if not req.stream:
            return json_response(encode_completion(await turn.result(), opts))
        return await _sse(request, turn, opts, gw.config.server.stream_keepalive_interval)
    finally:
        # Also when the client went away (the handler is cancelled): the upstream call ends too.
        turn.close()


async def _sse(
    request: web.Request, turn: Turn, opts: ChatOptions, keepalive: float
) -> web.StreamResponse:
    b = turn.builder
    enc = ChatChunkEncoder(b.id, b.model, b.created_at, opts)
    out = web.StreamResponse(headers=SSE_HEADERS)
    try:
        await out.prepare(request)  # a client gone before the headers is no error of ours
        await out.write(encode_sse(enc.start()))
        async with Keepalive(out, SSE_KEEPALIVE, keepalive) as alive:
            async for batch in turn.batches():
                alive.beat()
                data = enc.sse(batch)
                if turn.builder.response is None:
                    if data:
                        await out.write(data)
                elif not alive.ended:  # the batch with the terminal event
                    await alive.end(data + SSE_DONE)
        if not alive.ended:
            await out.write_eof(encode_sse(enc.finish()) + SSE_DONE)
    except ConnectionResetError:
        log.info("client went away mid-stream; upstream call closed")
    return out
