"""POST /v1/responses/input_tokens: how many input tokens a Responses create body would use.

Counted locally (``engine/tokens.py``): exactly with OpenAI's BPE for OpenAI model families, an
estimate for every other model. ``previous_response_id`` history is included, as the upstream
would receive it. ``model`` may be omitted (OpenAI's ``o200k_base`` is then used). A
``conversation`` or ``prompt`` (objects only OpenAI can read) is a 400, not a count without them.
"""

from __future__ import annotations

from aiohttp import web

from wirebridge.engine.gateway import Gateway
from wirebridge.engine.tokens import count_input_tokens, tokenizer_for
from wirebridge.errors import ModelNotFound, NotConfigured
from wirebridge.frontends.responses.request import decode_request, parse_json_object
from wirebridge.http.body import read_body
from wirebridge.http.keys import GATEWAY
from wirebridge.http.owner import owner_of
from wirebridge.http.wire import json_response
from wirebridge.hub.request import refuse_openai_objects

DEFAULT_MODEL = "gpt-5"  # when the body names none: OpenAI's current tokenizer (o200k_base)


async def input_tokens(request: web.Request) -> web.Response:
    gw: Gateway = request.app[GATEWAY]
    server = gw.config.server
    body = parse_json_object(await read_body(request, server.max_body_bytes))
    if body.get("model") is None:
        body["model"] = DEFAULT_MODEL
    req = decode_request(body, gw.sealer, server.drop_tool_types, [])
    refuse_openai_objects(req, "The gateway counts input tokens itself and cannot read it.")
    await gw.state.expand(req, owner_of(request))
    upstream_model, family = req.model, None
    try:
        route = gw.router.resolve(req.model)
    except (ModelNotFound, NotConfigured):
        pass  # counting needs no upstream: go by the name asked for
    else:
        upstream_model = route.upstream_model
        family = route.profile.family if route.profile.replay_reasoning else None
    count = count_input_tokens(req, tokenizer_for(upstream_model), family)
    return json_response({"object": "response.input_tokens", "input_tokens": count})
