"""POST /v1/messages and /v1/messages/count_tokens: Anthropic's Messages API front door.

Both are also served under any path prefix (``ANTHROPIC_BASE_URL=http://host/anthropic``) and
with ``?beta=true``. ``x-api-key`` and ``Authorization: Bearer`` are both accepted;
``anthropic-version`` and ``anthropic-beta`` are accepted and ignored. Claude model names are
mapped by the ``claude:`` config (``engine/model_map.py``) before routing; answers carry the
name the client asked for. While a stream waits for the upstream, a ``ping`` event goes out
every ``server.stream_keepalive_interval`` seconds.
"""

from __future__ import annotations

import logging

from aiohttp import web

from wirebridge import observe
from wirebridge.engine.gateway import Gateway
from wirebridge.engine.model_map import resolve_model
from wirebridge.engine.pipeline import Turn, open_turn
from wirebridge.frontends.messages.request import decode_request
from wirebridge.frontends.messages.response import encode_response, message_id
from wirebridge.frontends.messages.stream import PING, MessagesStreamEncoder, sse
from wirebridge.frontends.messages.tokens import count_tokens as estimate_tokens
from wirebridge.frontends.responses.request import parse_json_object
from wirebridge.http.body import read_body
from wirebridge.http.keepalive import Keepalive
from wirebridge.http.keys import GATEWAY
from wirebridge.http.wire import SSE_HEADERS, json_response

log = logging.getLogger("wirebridge")


async def create(request: web.Request) -> web.StreamResponse:
    gw: Gateway = request.app[GATEWAY]
    server = gw.config.server
    body = parse_json_object(await read_body(request, server.max_body_bytes))
    dropped: list[str] = []
    req = decode_request(body, gw.sealer, server.drop_tool_types, dropped)
    if dropped:
        log.info("dropped tools the upstream cannot run: %s", ", ".join(sorted(set(dropped))))
    beta = request.headers.get("anthropic-beta")
    if beta:  # an Anthropic upstream forwards the client's betas; others ignore them
        req.extra["_anthropic_beta"] = beta
    asked = req.model
    observe.asked(asked, req.stream)
    req.model = resolve_model(asked, gw.config)
    show_thinking = (body.get("thinking") or {}).get("display") != "omitted"
    turn = await open_turn(gw, req, stream=req.stream)
    try:
        if not req.stream:
            return json_response(encode_response(await turn.result(), asked, show_thinking))
        enc = MessagesStreamEncoder(message_id(turn.builder.id), asked, show_thinking)
        return await _sse(request, turn, enc, server.stream_keepalive_interval)
    finally:
        turn.close()  # also when the client went away and the handler is cancelled


async def count_tokens(request: web.Request) -> web.Response:
    gw: Gateway = request.app[GATEWAY]
    server = gw.config.server
    body = parse_json_object(await read_body(request, server.max_body_bytes))
    req = decode_request(body, gw.sealer, server.drop_tool_types, [], require_max_tokens=False)
    gw.router.resolve(resolve_model(req.model, gw.config))  # an unknown model is a 404
    return json_response({"input_tokens": estimate_tokens(body)})


async def _sse(
    request: web.Request, turn: Turn, enc: MessagesStreamEncoder, ping_interval: float
) -> web.StreamResponse:
    out = web.StreamResponse(headers=SSE_HEADERS)
    try:
        await out.prepare(request)  # a client gone before the headers is no error of ours
        await out.write(sse(enc.start()))
        async with Keepalive(out, PING, ping_interval) as alive:
            async for batch in turn.batches():
                alive.beat()
                events = [out_ev for ev in batch for out_ev in enc.feed(ev)]
                if turn.builder.response is None:
                    if events:
                        await out.write(sse(events))
                elif not alive.ended:  # the batch with the terminal event
                    await alive.end(sse(events))
    except ConnectionResetError:
        log.info("client went away mid-stream; upstream call closed")
    return out
