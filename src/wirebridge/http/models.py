"""GET /v1/models: what clients can ask for, in the OpenAI list shape."""

from __future__ import annotations

from aiohttp import web

from wirebridge.engine.gateway import Gateway
from wirebridge.http.keys import GATEWAY
from wirebridge.http.wire import json_response


async def list_models(request: web.Request) -> web.Response:
    gw: Gateway = request.app[GATEWAY]
    cfg = gw.config
    data = [
        {"id": name, "object": "model", "created": 0, "owned_by": route.provider}
        for name, route in cfg.models.items()
    ]
    data += [
        {"id": name, "object": "model", "created": 0, "owned_by": "alias"} for name in cfg.aliases
    ]
    return json_response({"object": "list", "data": data})
