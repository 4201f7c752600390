"""POST /v1/responses: decode, run one turn through the hub, answer as JSON or SSE."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from wirebridge import observe
from wirebridge.engine.gateway import Gateway
from wirebridge.engine.pipeline import Turn, open_turn
from wirebridge.errors import InvalidRequest
from wirebridge.frontends.responses.request import decode_request, parse_json_object
from wirebridge.frontends.responses.stream import SSE_DONE, ResponsesStreamEncoder
from wirebridge.http.body import read_body
from wirebridge.http.keepalive import Keepalive
from wirebridge.http.keys import GATEWAY
from wirebridge.http.owner import owner_of
from wirebridge.http.stored import stream_stored
from wirebridge.http.wire import SSE_HEADERS, SSE_KEEPALIVE, json_response
from wirebridge.hub.request import HubRequest, Item

log = logging.getLogger("wirebridge")


async def create(request: web.Request) -> web.StreamResponse:
    gw: Gateway = request.app[GATEWAY]
    server = gw.config.server
    body = parse_json_object(await read_body(request, server.max_body_bytes))
    dropped: list[str] = []
    req = decode_request(body, gw.sealer, server.drop_tool_types, dropped)
    observe.asked(req.model, req.stream)
    if dropped:
        log.info("dropped tools the upstream cannot run: %s", ", ".join(sorted(set(dropped))))
    owner = owner_of(request)
    new_items = await gw.state.expand(req, owner)
    if req.background:
        return await _background(request, gw, req, new_items, owner)
    turn = await open_turn(gw, req, stream=req.stream)

    async def persist(response: dict[str, Any]) -> None:
        await gw.state.save(req, new_items, owner, response)

    turn.on_finish = persist
    try:
        if not req.stream:
            return json_response(await turn.result())
        return await _sse(request, turn, server.event_dialect, server.stream_keepalive_interval)
    finally:
        # Also when the client went away (the handler is cancelled): the upstream call ends too.
        turn.close()


async def _sse(
    request: web.Request, turn: Turn, dialect: str, keepalive: float
) -> web.StreamResponse:
    enc = ResponsesStreamEncoder(dialect)
    out = web.StreamResponse(headers=SSE_HEADERS)
    snapshot = turn.builder.snapshot
    head = [
        {"type": "response.created", "response": snapshot()},
        {"type": "response.in_progress", "response": snapshot()},
    ]
    try:
        await out.prepare(request)  # a client gone before the headers is no error of ours
        await out.write(enc.sse(head))
        async with Keepalive(out, SSE_KEEPALIVE, keepalive) as alive:
            async for batch in turn.batches():
                alive.beat()
                if turn.builder.response is None:
                    await out.write(enc.sse(batch))
                elif not alive.ended:  # the batch with the terminal event
                    await alive.end(enc.sse(batch) + SSE_DONE)
        if not alive.ended:
            await out.write_eof(SSE_DONE)
    except ConnectionResetError:
        log.info("client went away mid-stream; upstream call closed")
    return out


async def _background(
    request: web.Request, gw: Gateway, req: HubRequest, new_items: list[Item], owner: str
) -> web.StreamResponse:
    if not req.store:
        raise InvalidRequest("background mode needs store: true.", param="background")
    gw.router.resolve(req.model)  # an unknown model is refused now, not in the background
    assert gw.background is not None
    queued = await gw.background.start(req, new_items, owner)
    if not req.stream:
        return json_response(queued)
    return await stream_stored(request, gw, queued["id"], owner, after=-1)
