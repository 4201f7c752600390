"""JSON responses and error envelopes, written once with orjson."""

from __future__ import annotations

import orjson
from aiohttp import web

from wirebridge.errors import GatewayError
from wirebridge.frontends.responses.errors import envelope


def json_response(
    obj: object, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps(obj), status=status, headers=headers, content_type="application/json"
    )


def error_response(err: GatewayError) -> web.Response:
    return json_response(envelope(err), status=err.http_status, headers=err.headers or None)
