"""Every request real Claude Code 2.1 and the anthropic SDK sent (``shared/reference/captures``)
goes through the Messages front door and out to an Anthropic upstream as a request Anthropic
accepts, with every field the client sent still there."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.fake_anthropic import check_request
from tests.support.reference import CAPTURES
from tests.upstreams.chat.pipeline import SEALER
from wirebridge.config.model import DEFAULT_DROP_TOOL_TYPES
from wirebridge.frontends.messages.request import decode_request
from wirebridge.upstreams.messages.request import encode_request

FILES = sorted((CAPTURES / "claude").glob("*/*_messages.json")) + sorted(
    (CAPTURES / "sdk").glob("*_POST_v1_messages.json")
)


def body_of(path: Path) -> dict[str, Any]:
    body = json.loads(path.read_text())["body"]
    return json.loads(body) if isinstance(body, str) else body  # type: ignore[no-any-return]


def test_captures_found() -> None:
    assert len(FILES) >= 10, FILES


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_capture_reaches_anthropic_whole(path: Path) -> None:
    body = body_of(path)
    req = decode_request(body, SEALER, DEFAULT_DROP_TOOL_TYPES, [])
    out = encode_request(req, "claude-sonnet-4-5", req.stream)
    check_request(out)
    assert set(body) <= set(out), f"fields lost: {set(body) - set(out)}"
    for key in ("thinking", "output_config", "context_management", "max_tokens", "stream"):
        if key in body:
            assert out[key] == body[key], key
    if body.get("tools"):
        assert [t["name"] for t in out["tools"]] == [t["name"] for t in body["tools"]]


def test_claude_code_thinking_signature_goes_back_to_anthropic() -> None:
    (path,) = (CAPTURES / "claude" / "02_tool_bash_with_thinking_replay").glob("002_*.json")
    body = body_of(path)
    sent = [
        b
        for m in body["messages"]
        if m["role"] == "assistant" and isinstance(m["content"], list)
        for b in m["content"]
        if b["type"] == "thinking"
    ]
    req = decode_request(body, SEALER, DEFAULT_DROP_TOOL_TYPES, [])
    out = encode_request(req, "claude-sonnet-4-5", True)
    replayed = [
        b
        for m in out["messages"]
        if m["role"] == "assistant"
        for b in m["content"]
        if b["type"] == "thinking"
    ]
    assert sent and [(b["thinking"], b["signature"]) for b in replayed] == [
        (b["thinking"], b["signature"]) for b in sent
    ]
