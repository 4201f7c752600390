"""JSON responses and error envelopes, written once with orjson."""

from __future__ import annotations

import orjson
from aiohttp import web

from wirebridge.errors import GatewayError
from wirebridge.frontends.messages.errors import envelope as anthropic_envelope
from wirebridge.frontends.responses.errors import envelope as openai_envelope


def json_response(
    obj: object, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=exact(orjson.dumps(obj)),
        status=status,
        headers=headers,
        content_type="application/json",
    )


def exact(encoded: bytes) -> bytes:
    """A copy of orjson's output in a buffer of its own length, for bytes that stay alive a
    while (until the client has read them). orjson reserves room generously and never gives it
    back: a 10 KB Response came in a 32 KB allocation, a 36 KB request in a 140 KB one, and 64
    of those in flight cost tens of megabytes. The copy costs well under a microsecond."""
    return b"".join((encoded, b""))


def error_response(err: GatewayError, path: str = "") -> web.Response:
    """``err`` in the envelope of the protocol the path belongs to."""
    envelope = anthropic_envelope if _is_anthropic(path) else openai_envelope
    return json_response(envelope(err), status=err.http_status, headers=err.headers or None)


def _is_anthropic(path: str) -> bool:
    # Claude Code may put a prefix before /v1/messages (ANTHROPIC_BASE_URL with a path).
    return "/v1/messages" in path or path.startswith("/messages")


# What an SSE stream sends while its upstream is quiet (``http/keepalive.py``): a comment line,
# which every SSE client skips (Anthropic's streams have their own, a ping event).
SSE_KEEPALIVE = b": keepalive\n\n"

SSE_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}
