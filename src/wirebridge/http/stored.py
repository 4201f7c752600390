"""Stored responses: ``GET`` / ``DELETE /v1/responses/{id}`` and ``.../input_items``."""

from __future__ import annotations

from aiohttp import web

from wirebridge.engine.gateway import Gateway
from wirebridge.errors import InvalidRequest, NotFound
from wirebridge.http.keys import GATEWAY
from wirebridge.http.owner import owner_of
from wirebridge.http.wire import json_response


def _not_found(response_id: str) -> NotFound:
    return NotFound(f"Response with id '{response_id}' not found.", param="response_id")


async def retrieve(request: web.Request) -> web.Response:
    gw: Gateway = request.app[GATEWAY]
    rid = request.match_info["response_id"]
    rec = await gw.state.store.get(rid, owner_of(request))
    if rec is None:
        raise _not_found(rid)
    return json_response(rec.response)


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
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if not 1 <= limit <= 100:
        raise InvalidRequest("limit must be an integer between 1 and 100.", param="limit")
    return limit
