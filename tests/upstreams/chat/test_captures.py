"""Every Responses request body a real client sent (reference/captures) is accepted.

Codex CLI and the openai SDK bodies go through ``decode_request`` + ``encode_request`` with the
deepseek profile and the default drop list. The chat body must be plain JSON, start with the one
system message, answer every tool call, and carry none of the client-only fields.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from tests.support.reference import CAPTURES
from wirebridge.config.model import DEFAULT_DROP_TOOL_TYPES

from .pipeline import assert_valid_stream, chunk, decode, stream, translate

FILES = sorted(CAPTURES.glob("codex/*/[0-9][0-9][0-9]_POST_v1_responses.json")) + sorted(
    CAPTURES.glob("sdk/*responses*.json")
)


def _bodies() -> list[Any]:
    params = []
    for path in FILES:
        body = json.loads(path.read_text())["body"]
        if isinstance(body, dict):  # GET (WebSocket upgrade) captures have none
            params.append(pytest.param(body, id=str(path.relative_to(CAPTURES))))
    return params


BODIES = _bodies()
CLIENT_ONLY = (
    "client_metadata",
    "prompt_cache_key",
    "include",
    "store",
    "text",
    "type",
    "generate",
    "previous_response_id",
)


def test_captures_found() -> None:
    assert len(BODIES) >= 20


@pytest.mark.parametrize("body", BODIES)
def test_capture_accepted(body: dict[str, Any]) -> None:
    dropped: list[str] = []
    out = translate(body, "deepseek", dropped=dropped)
    orjson.dumps(out)
    assert set(dropped) <= set(DEFAULT_DROP_TOOL_TYPES)
    tool_types = {t.get("type") for t in body.get("tools") or []}
    assert set(dropped) == tool_types & set(DEFAULT_DROP_TOOL_TYPES)
    for key in CLIENT_ONLY:
        assert key not in out
    messages = out["messages"]
    assert messages, "no messages"
    roles = [m["role"] for m in messages]
    assert "developer" not in roles
    assert roles.count("system") <= 1 and (roles[0] == "system" or "system" not in roles)
    # every tool call is answered by the tool messages right after its assistant message
    open_calls: list[str] = []
    for m in messages:
        if m["role"] == "tool":
            assert m["tool_call_id"] in open_calls, f"tool result without a call: {m}"
            open_calls.remove(m["tool_call_id"])
        else:
            assert not open_calls, f"unanswered calls {open_calls}"
            open_calls = [c["id"] for c in m.get("tool_calls") or ()]
    assert out.get("stream", False) == bool(body.get("stream"))
    for tool in out.get("tools") or ():
        assert tool["type"] == "function" and tool["function"]["name"]


def test_capture_responses_are_schema_valid() -> None:
    """The Response each real request gets (echoing its tools, reasoning, text) validates.

    One test for all captures, listing every capture whose Response is invalid."""
    failures = []
    for param in BODIES:
        (body,) = param.values
        run = stream(
            [chunk({"role": "assistant", "content": "Done."}), chunk({}, "stop")], decode(body)
        )
        try:
            assert_valid_stream(run.events)
        except AssertionError as e:
            failures.append(f"{param.id}: {str(e).splitlines()[:3]}")
    assert not failures, "\n".join(failures)
