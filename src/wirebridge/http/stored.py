"""Stored responses: ``GET`` / ``DELETE /v1/responses/{id}`` and ``.../input_items``."""

from __future__ import annotations

import asyncio

from aiohttp import web

from wirebridge.engine.gateway import Gateway
from wirebridge.errors import InvalidRequest, NotFound
from wirebridge.frontends.responses.stream import SSE_DONE
from wirebridge.frontends.sse import named_events
from wirebridge.http.keepalive import Keepalive
from wirebridge.http.keys import GATEWAY
from wirebridge.http.owner import owner_of
from wirebridge.http.wire import SSE_HEADERS, SSE_KEEPALIVE, json_response
from wirebridge.hub.accumulate import TERMINAL
from wirebridge.store import StoredResponse


def _not_found(response_id: str) -> NotFound:
    return NotFound(f"Response with id '{response_id}' not found.", param="response_id")


async def retrieve(request: web.Request) -> web.StreamResponse:
    gw: Gateway = request.app[GATEWAY]
    rid = request.match_info["response_id"]
    owner = owner_of(request)
    rec = await gw.state.store.get(rid, owner)
    if rec is None:
        raise _not_found(rid)
    if request.query.get("stream") not in ("true", "1"):
        return json_response(rec.response)
    if not rec.response.get("background"):
        raise InvalidRequest(
            "Only responses created with background: true can be streamed again.", param="stream"
        )
    after = _int(request.query.get("starting_after", "-1"), "starting_after")
    return await stream_stored(request, gw, rid, owner, after)


async def stream_stored(
    request: web.Request, gw: Gateway, rid: str, owner: str, after: int
) -> web.StreamResponse:
    """The events of a background response after sequence number ``after``, as SSE, live."""
    assert gw.background is not None
    out = web.StreamResponse(headers=SSE_HEADERS)
    await out.prepare(request)
    try:
        interval = gw.config.server.stream_keepalive_interval
        async with Keepalive(out, SSE_KEEPALIVE, interval) as alive:
            async for events in gw.background.events(rid, owner, after):
                alive.beat()
                data = named_events(events)
                if events[-1]["type"] in TERMINAL:
                    await alive.end(data + SSE_DONE)
                else:
                    await out.write(data)
        if not alive.ended:
            await out.write_eof(SSE_DONE)
    except ConnectionResetError:
        pass  # the client stopped watching; the run goes on
    return out


async def cancel(request: web.Request) -> web.Response:
    gw: Gateway = request.app[GATEWAY]
    rid = request.match_info["response_id"]
    owner = owner_of(request)
    rec = await gw.state.store.get(rid, owner)
    if rec is None:
        raise _not_found(rid)
    if not rec.response.get("background"):
        raise InvalidRequest("Only responses created with background: true can be cancelled.")
    if rec.status in ("queued", "in_progress"):
        assert gw.background is not None
        await gw.background.cancel(rid)
        rec = await _settled(gw, rid, owner) or rec
    return json_response(rec.response)


async def _settled(gw: Gateway, rid: str, owner: str) -> StoredResponse | None:
    """The response once its run has stopped (it may run on another instance)."""
    for _ in range(50):
        rec = await gw.state.store.get(rid, owner)
        if rec is None or rec.status not in ("queued", "in_progress"):
            return rec
        await asyncio.sleep(0.1)
    return await gw.state.store.get(rid, owner)


async def delete(request: web.Request) -> web.Response:
    gw: Gateway = request.app[GATEWAY]
    rid = request.match_info["response_id"]
    owner = owner_of(request)
    if not await gw.state.store.delete(rid, owner):
        raise _not_found(rid)
    gw.state.forget(owner, rid)
    return json_response({"id": rid, "object": "response", "deleted": True})


async def input_items(request: web.Request) -> web.Response:
    gw: Gateway = request.app[GATEWAY]
    rid = request.match_info["response_id"]
    q = request.query
    limit = _limit(q.get("limit", "20"))
    order = q.get("order", "desc")
    if order not in ("asc", "desc"):
        raise InvalidRequest("order must be 'asc' or 'desc'.", param="order")
    page = await gw.state.store.input_items(
        rid,
        owner_of(request),
        limit=limit,
        order=order,  # type: ignore[arg-type]
        after=q.get("after") or None,
        before=q.get("before") or None,
    )
    if page is None:
        raise _not_found(rid)
    return json_response(
        {
            "object": "list",
            "data": page.data,
            "first_id": page.first_id,
            "last_id": page.last_id,
            "has_more": page.has_more,
        }
    )


def _limit(raw: str) -> int:
    limit = _int(raw, "limit")
    if not 1 <= limit <= 100:
        raise InvalidRequest("limit must be an integer between 1 and 100.", param="limit")
    return limit


def _int(raw: str, name: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise InvalidRequest(f"{name} must be an integer.", param=name) from None
