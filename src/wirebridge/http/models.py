"""GET /v1/models: what clients can ask for, in the OpenAI list shape."""

from __future__ import annotations

from aiohttp import web

from wirebridge.engine.gateway import Gateway
from wirebridge.http.keys import GATEWAY
from wirebridge.http.wire import json_response


async def list_models(request: web.Request) -> web.Response:
    gw: Gateway = request.app[GATEWAY]
    refresh = request.query.get("refresh") in ("1", "true")
    data = await gw.catalog.models(gw.session, refresh=refresh)
    return json_response({"object": "list", "data": data})
