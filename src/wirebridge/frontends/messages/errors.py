"""Anthropic's error envelope: ``{"type": "error", "error": {"type", "message"}}``.

Anthropic's clients branch on ``error.type``, so each status maps to one of its types.
"""

from __future__ import annotations

from typing import Any

from wirebridge.errors import GatewayError

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    529: "overloaded_error",
}


def anthropic_type(status: int) -> str:
    return _TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")


def envelope(err: GatewayError) -> dict[str, Any]:
    return {
        "type": "error",
        "error": {"type": anthropic_type(err.http_status), "message": err.message},
    }
