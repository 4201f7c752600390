"""Every request real Claude Code 2.1 and the anthropic SDK sent (``shared/reference/captures``)
decodes into the hub and encodes for a DeepSeek-style chat upstream without an error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.reference import CAPTURES
from tests.upstreams.chat.pipeline import SEALER
from wirebridge.config.model import DEFAULT_DROP_TOOL_TYPES
from wirebridge.frontends.messages.request import decode_request
from wirebridge.frontends.messages.tokens import count_tokens
from wirebridge.providers.profiles import PROFILES
from wirebridge.upstreams.chat.request import encode_request

FILES = sorted((CAPTURES / "claude").glob("*/*.json")) + sorted(
    p for p in (CAPTURES / "sdk").glob("*_messages*.json")
)


def test_captures_found() -> None:
    assert len(FILES) >= 11, FILES


def body_of(path: Path) -> dict[str, Any]:
    body = json.loads(path.read_text())["body"]
    return json.loads(body) if isinstance(body, str) else body


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_capture_decodes_and_encodes(path: Path) -> None:
    body = body_of(path)
    if path.name.endswith("count_tokens.json"):
        assert count_tokens(body) > 0
        decode_request(body, SEALER, DEFAULT_DROP_TOOL_TYPES, [], require_max_tokens=False)
        return
    req = decode_request(body, SEALER, DEFAULT_DROP_TOOL_TYPES, [])
    chat = encode_request(req, "deepseek-chat", PROFILES["deepseek"], req.stream)
    assert chat["messages"][-1]["role"] in ("user", "tool")
    if body.get("tools"):
        assert len(chat["tools"]) == len(body["tools"])
    if body.get("system"):
        assert chat["messages"][0]["role"] == "system"
    assert count_tokens(body) > 0


def test_claude_code_thinking_replay_with_foreign_signature_is_not_forwarded() -> None:
    (path,) = (CAPTURES / "claude" / "02_tool_bash_with_thinking_replay").glob("002_*.json")
    body = body_of(path)
    req = decode_request(body, SEALER, DEFAULT_DROP_TOOL_TYPES, [])
    (reasoning,) = [i for i in req.input if i["type"] == "reasoning"]
    assert reasoning["_provider"].family == "anthropic"
    chat = encode_request(req, "deepseek-chat", PROFILES["deepseek"], True)
    (assistant,) = [m for m in chat["messages"] if m["role"] == "assistant"]
    assert "reasoning_content" not in assistant
    assert assistant["tool_calls"][0]["function"]["name"] == "Bash"
    assert chat["messages"][-1] == {
        "role": "tool",
        "tool_call_id": assistant["tool_calls"][0]["id"],
        "content": "hi",
    }


def test_claude_code_request_fields() -> None:
    (path,) = (CAPTURES / "claude" / "01_text_say_hi").glob("*.json")
    req = decode_request(body_of(path), SEALER, DEFAULT_DROP_TOOL_TYPES, [])
    assert req.effort == "high"  # adaptive thinking, output_config.effort high
    assert req.max_output_tokens == 64000
    assert req.stream is True
    assert "context_management" in req.extra
    assert req.user is not None and "session_id" in req.user
    assert [i["role"] for i in req.input if i["type"] == "message"] == ["user", "system"]
