"""The OpenAI error envelope: ``{"error": {"message", "type", "param", "code"}}``."""

from __future__ import annotations

from typing import Any

from wirebridge.errors import GatewayError, error_type


def envelope(err: GatewayError) -> dict[str, Any]:
    return {
        "error": {
            "message": err.message,
            "type": error_type(err),
            "param": err.param,
            "code": err.code,
        }
    }
