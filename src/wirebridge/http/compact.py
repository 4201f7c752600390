"""POST /v1/responses/compact: summarise a conversation into one sealed ``compaction`` item.

The body is a Responses create body (``model`` required; ``input``, ``instructions``,
``previous_response_id``); the conversation is rebuilt as ``/v1/responses`` would, the upstream
model writes the summary (``engine/compact.py``), and nothing is stored.
"""

from __future__ import annotations

from aiohttp import web

from wirebridge.engine.compact import compaction_request, compaction_resource, response_text
from wirebridge.engine.gateway import Gateway
from wirebridge.engine.pipeline import open_turn
from wirebridge.errors import InvalidRequest, UpstreamError
from wirebridge.frontends.responses.request import decode_request, parse_json_object
from wirebridge.http.body import read_body
from wirebridge.http.keys import GATEWAY
from wirebridge.http.owner import owner_of
from wirebridge.http.wire import json_response


async def compact(request: web.Request) -> web.Response:
    gw: Gateway = request.app[GATEWAY]
    server = gw.config.server
    body = parse_json_object(await read_body(request, server.max_body_bytes))
    req = decode_request(body, gw.sealer, server.drop_tool_types, [])
    await gw.state.expand(req, owner_of(request))
    if not req.input:
        raise InvalidRequest(
            "Nothing to compact: send 'input' or 'previous_response_id'.", param="input"
        )
    turn = await open_turn(gw, compaction_request(req, req.input), stream=False)
    try:
        response = await turn.result()
    finally:
        turn.close()
    summary = response_text(response)
    if not summary:
        raise UpstreamError("The upstream model returned an empty summary.", code="empty_summary")
    return json_response(compaction_resource(summary, response.get("usage"), gw.sealer))
