"""The real Codex CLI through the gateway to an Anthropic Messages upstream.

Codex speaks the Responses API; the model it asks for is served by a scripted fake of
Anthropic's API, which refuses what Anthropic refuses (unanswered tool calls, thinking whose
signature it did not issue). Codex's reasoning item carries the gateway-sealed thinking, which
must come back to the upstream as the same thinking block with the same signature.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import GatewayFactory
from tests.e2e.codex_harness import run_codex
from tests.support import fake_anthropic as fa
from tests.support.fake_anthropic import FakeAnthropic, Reply
from tests.support.gateway import Gateway

pytestmark = pytest.mark.e2e

KEY = "sk-ant-codex-test"


@pytest.fixture(scope="module")
def anthropic() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(api_key=KEY) as fake:
        yield fake


@pytest.fixture
def fake(anthropic: FakeAnthropic) -> Iterator[FakeAnthropic]:
    anthropic.reset()
    yield anthropic
    refused = [why for _, why in anthropic.refused]
    anthropic.reset()
    assert not refused, f"the gateway sent requests Anthropic would refuse: {refused}"


@pytest.fixture(scope="module")
def gw(anthropic: FakeAnthropic, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    factory = GatewayFactory(tmp_path_factory.mktemp("codex-anthropic"))
    config: dict[str, Any] = {
        "server": {"request_timeout": 30},
        "providers": {
            "claude": {
                "api": "messages",
                "base_url": anthropic.base_url,
                "api_key": KEY,
                "retries": 0,
            },
        },
        "models": [
            {"model": "gpt-5.5", "provider": "claude", "downstream_model": "claude-sonnet-4-5"}
        ],
    }
    try:
        yield factory(config)
    finally:
        factory.stop_all()


def test_codex_text_turn(gw: Gateway, fake: FakeAnthropic, tmp_path: Path) -> None:
    fake.script(Reply.text("Hello from Claude, Codex!", thinking="A greeting.", chunk_size=4))
    result = run_codex("Say hello.", base_url=gw.url("/v1"), tmp_path=tmp_path)
    assert result.ok, result.describe()
    assert (result.last_message or "").strip() == "Hello from Claude, Codex!"
    body = fake.message_requests[0].body
    assert body["model"] == "claude-sonnet-4-5" and body["stream"] is True
    assert body["thinking"]["type"] == "enabled"  # Codex's reasoning effort became a budget


def test_codex_shell_round_trip_replays_signed_thinking(
    gw: Gateway, fake: FakeAnthropic, tmp_path: Path
) -> None:
    cmd = "echo via-anthropic > marker.txt"
    thinking = fa.thinking_block("I should write the marker file.")
    fake.script(
        Reply.of(
            thinking,
            fa.tool_use_block("exec_command", {"cmd": cmd}, "toolu_codex_1"),
            stop_reason="tool_use",
            chunk_size=9,
        ),
        Reply.text("The marker is written."),
    )
    result = run_codex("Write the marker file.", base_url=gw.url("/v1"), tmp_path=tmp_path)
    assert result.ok, result.describe()
    assert (result.workdir / "marker.txt").read_text() == "via-anthropic\n"
    second = fake.message_requests[1].body
    assistant = [m for m in second["messages"] if m["role"] == "assistant"][-1]
    first_block = assistant["content"][0]
    assert first_block["type"] == "thinking"
    assert first_block["signature"] == thinking["signature"]
    assert first_block["thinking"] == thinking["thinking"]
    results = [
        b
        for m in second["messages"]
        if m["role"] == "user" and isinstance(m["content"], list)
        for b in m["content"]
        if b.get("type") == "tool_result"
    ]
    assert [r["tool_use_id"] for r in results] == ["toolu_codex_1"]
    assert "exited with code 0" in json.dumps(results[0]["content"])
