"""The real Claude Code (pinned in tests/clients) against the gateway over the fake upstream.

Claude Code runs ``claude -p PROMPT --output-format json --allowedTools Bash </dev/null`` with
``ANTHROPIC_BASE_URL`` at a recording proxy in front of the gateway's Messages front door; the
gateway maps its Claude model names through the ``claude:`` config onto the scripted fake
(``fake_chat``), whose recorded requests show what came back after Claude Code ran its tools.
Every run is traced and fails if Claude Code tried to reach anything but loopback (see
``claude_harness``).

What Claude Code 2.1.330 sends, with nonessential traffic off, is exactly one
``POST /v1/messages?beta=true`` per model turn (streamed, ``thinking: adaptive`` with
``display: omitted``, ``output_config.effort``, ``context_management``, a ``role: "system"``
message, ~12 tools) — no ``count_tokens``, no haiku title or quota call; the tests assert it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.claude_harness import ClaudeResult, ProxiedRequest, RecordingProxy, run_claude
from tests.support.fake_chat import FakeChat, Reply
from tests.support.gateway import Gateway

pytestmark = pytest.mark.e2e

MARKER_CMD = "echo wirebridge-claude > marker.txt && cat marker.txt"
REASONING = "The user wants a marker file. I will run echo through the Bash tool."


@pytest.fixture
def claude_gateway(start_gateway: Any, gateway_config: Any) -> Gateway:
    """A gateway whose ``claude:`` map sends opus/sonnet names to ``fake-model`` and haiku
    names to ``fake@small-upstream``."""
    cfg = gateway_config()
    cfg["claude"] = {"big": "fake-model", "middle": "fake-model", "small": "fake@small-upstream"}
    gw: Gateway = start_gateway(cfg)
    return gw


# -- helpers -----------------------------------------------------------------------------------


def text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content or () if isinstance(p, dict))


def describe(fake: FakeChat, proxy: RecordingProxy) -> str:
    lines = [
        f"claude → gateway: {r.method} {r.path} {r.query} -> {r.status}" for r in proxy.requests
    ]
    for n, req in enumerate(fake.chat_requests):
        msgs = [
            {k: (text_of(v)[:160] if k == "content" else v) for k, v in m.items()}
            for m in req.body.get("messages", [])
            if m.get("role") != "system"
        ]
        lines.append(f"upstream request #{n}: {json.dumps(msgs)[:3000]}")
    if fake.unscripted:
        lines.append(f"{len(fake.unscripted)} upstream request(s) after the script ran out")
    return "\n".join(lines)


def assert_ok(result: ClaudeResult, fake: FakeChat, proxy: RecordingProxy) -> dict[str, Any]:
    assert result.ok, result.describe() + "\n" + describe(fake, proxy)
    output = result.output
    assert output.get("is_error") is False, result.describe() + "\n" + describe(fake, proxy)
    assert result.audited and result.outbound == []
    return output


def messages_calls(proxy: RecordingProxy, prefix: str = "") -> list[ProxiedRequest]:
    """Every request Claude Code made; asserts they were all ``POST .../v1/messages?beta=true``
    that the gateway answered with 200."""
    for r in proxy.requests:
        assert (r.method, r.path, r.query, r.status) == (
            "POST",
            f"{prefix}/v1/messages",
            {"beta": "true"},
            200,
        ), r
    return proxy.requests


def blocks_of(body: dict[str, Any], role: str) -> list[dict[str, Any]]:
    return [
        b
        for m in body["messages"]
        if m["role"] == role and isinstance(m["content"], list)
        for b in m["content"]
    ]


# -- tests -------------------------------------------------------------------------------------


@pytest.mark.parametrize("auth", ["api_key", "auth_token"])
def test_text_turn(claude_gateway: Gateway, fake_chat: FakeChat, tmp_path: Path, auth: str) -> None:
    fake_chat.script(Reply.text("Hello from wirebridge, Claude!", chunk_size=4))
    env = {}
    if auth == "auth_token":  # Authorization: Bearer instead of x-api-key
        env = {"ANTHROPIC_API_KEY": "", "ANTHROPIC_AUTH_TOKEN": "tok-claude-e2e"}
    with RecordingProxy(claude_gateway.base_url) as proxy:
        result = run_claude("Say hello.", base_url=proxy.base_url, tmp_path=tmp_path, env=env)
    output = assert_ok(result, fake_chat, proxy)
    assert output["result"] == "Hello from wirebridge, Claude!"

    (call,) = messages_calls(proxy)  # one request: no count_tokens, no haiku side calls
    sent = call.body
    if auth == "auth_token":
        assert call.headers["authorization"] == "Bearer tok-claude-e2e"
    else:
        assert call.headers["x-api-key"] == "sk-ant-claude-e2e"
    assert call.headers["anthropic-version"] == "2023-06-01"
    assert sent["model"].startswith("claude-") and sent["stream"] is True
    assert sent["thinking"]["type"] in ("adaptive", "enabled")
    assert any(m["role"] == "system" for m in sent["messages"])  # mid-conversation system

    (up,) = fake_chat.chat_requests
    body = up.body
    assert body["model"] == "upstream-model"  # claude-opus-* → big → fake-model
    assert body["stream"] is True
    assert body["messages"][0]["role"] == "system"
    users = [text_of(m["content"]) for m in body["messages"] if m["role"] == "user"]
    assert any("Say hello." in u for u in users), users
    names = [t["function"]["name"] for t in body["tools"]]
    assert "Bash" in names and len(names) == len(sent["tools"])


def test_bash_round_trip_replays_reasoning(
    claude_gateway: Gateway, fake_chat: FakeChat, tmp_path: Path
) -> None:
    """The fake's first answer has DeepSeek-style reasoning_content and a Bash call; Claude Code
    runs it and sends back the thinking block (signature = the gateway's sealed blob) with the
    tool_use and tool_result; the second upstream request carries the tool output and the same
    reasoning_content on the assistant message."""
    bash_schemas: list[dict[str, Any]] = []

    def bash_call(body: dict[str, Any]) -> Reply:
        (bash,) = [t for t in body["tools"] if t["function"]["name"] == "Bash"]
        bash_schemas.append(bash["function"]["parameters"])
        args = json.dumps({"command": MARKER_CMD, "description": "Write the marker file"})
        return Reply.tool_calls(
            [("call_claude_bash", "Bash", args)], reasoning_content=REASONING, chunk_size=9
        )

    fake_chat.script(bash_call, Reply.text("The marker is written."))
    with RecordingProxy(claude_gateway.base_url) as proxy:
        result = run_claude("Write the marker file.", base_url=proxy.base_url, tmp_path=tmp_path)
    output = assert_ok(result, fake_chat, proxy)

    assert output["result"] == "The marker is written."
    assert (result.workdir / "marker.txt").read_text() == "wirebridge-claude\n"
    (schema,) = bash_schemas
    assert "command" in schema["properties"] and schema["required"] == ["command"]

    _, second_call = messages_calls(proxy)
    thinking = [b for b in blocks_of(second_call.body, "assistant") if b["type"] == "thinking"]
    assert len(thinking) == 1 and thinking[0]["signature"].startswith("wb1."), thinking
    (tool_use,) = [b for b in blocks_of(second_call.body, "assistant") if b["type"] == "tool_use"]
    assert tool_use["id"] == "call_claude_bash" and tool_use["input"]["command"] == MARKER_CMD
    (tool_result,) = [b for b in blocks_of(second_call.body, "user") if b["type"] == "tool_result"]
    assert tool_result["tool_use_id"] == "call_claude_bash"

    first, second = (r.body for r in fake_chat.chat_requests)
    assert not any(m["role"] == "assistant" for m in first["messages"])
    (assistant,) = [m for m in second["messages"] if m["role"] == "assistant"]
    assert assistant["reasoning_content"] == REASONING
    (call,) = assistant["tool_calls"]
    assert call["id"] == "call_claude_bash" and call["function"]["name"] == "Bash"
    assert json.loads(call["function"]["arguments"])["command"] == MARKER_CMD
    (tool,) = [m for m in second["messages"] if m["role"] == "tool"]
    assert tool["tool_call_id"] == "call_claude_bash"
    assert "wirebridge-claude" in text_of(tool["content"]), tool


def test_base_url_with_path_prefix(
    claude_gateway: Gateway, fake_chat: FakeChat, tmp_path: Path
) -> None:
    fake_chat.script(Reply.text("Prefixed hello."))
    with RecordingProxy(claude_gateway.base_url) as proxy:
        result = run_claude("Say hello.", base_url=proxy.base_url + "/anthropic", tmp_path=tmp_path)
    assert_ok(result, fake_chat, proxy)
    assert result.output["result"] == "Prefixed hello."
    messages_calls(proxy, prefix="/anthropic")


def test_haiku_model_goes_to_the_small_tier(
    claude_gateway: Gateway, fake_chat: FakeChat, tmp_path: Path
) -> None:
    fake_chat.script(Reply.text("Small and quick."))
    with RecordingProxy(claude_gateway.base_url) as proxy:
        result = run_claude("Say hello.", base_url=proxy.base_url, tmp_path=tmp_path, model="haiku")
    assert_ok(result, fake_chat, proxy)
    assert result.output["result"] == "Small and quick."
    (call,) = messages_calls(proxy)
    assert "haiku" in call.body["model"]
    (up,) = fake_chat.chat_requests
    assert up.body["model"] == "small-upstream"
