"""The real Codex CLI over the Responses WebSocket (``supports_websockets = true``).

Codex warms the socket up with ``generate: false``, then sends each turn as only its new items
with ``previous_response_id``; the gateway rebuilds the conversation for the stateless fake
upstream. When a turn fails, the gateway forgets the id it chained from, so Codex's retry is
told ``previous_response_not_found`` and resends the whole history — the recovery path.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.codex_harness import codex_config, run_codex
from tests.e2e.test_codex_cli import assert_ok, assistant_with_call, tool_message
from tests.support.fake_chat import FakeChat, Reply
from tests.support.gateway import Gateway

pytestmark = pytest.mark.e2e

MODEL = "gpt-5.5"


def codex_ws(gateway: Gateway, tmp_path: Path, prompt: str, **provider: object):  # type: ignore[no-untyped-def]
    config = codex_config(
        gateway.url("/v1"),
        model=MODEL,
        provider_extra={"supports_websockets": True, **provider},
    )
    return run_codex(
        prompt, base_url=gateway.url("/v1"), tmp_path=tmp_path, model=MODEL, config=config
    )


def test_multi_turn_tool_task_over_websocket(
    gateway: Gateway, fake_chat: FakeChat, tmp_path: Path
) -> None:
    cmd = "echo over-the-socket > ws.txt && cat ws.txt"
    fake_chat.script(
        Reply.tool_calls(
            [("call_ws_1", "exec_command", json.dumps({"cmd": cmd}))],
            reasoning_content="I will write the file first.",
        ),
        Reply.text("Done over the socket."),
    )

    result = codex_ws(gateway, tmp_path, "Write ws.txt.")

    assert_ok(result, fake_chat)
    assert (result.workdir / "ws.txt").read_text() == "over-the-socket\n"
    assert "Done over the socket." in result.stdout, result.describe()
    assert "websocket connection opened" in gateway.log_text(), "Codex did not use the socket"
    second = fake_chat.chat_requests[1].body
    # Codex sent only the tool output; the gateway supplied the rest of the conversation.
    assert "over-the-socket" in tool_message(second, "call_ws_1")["content"]
    assistant = [m for m in second["messages"] if m["role"] == "assistant"]
    assert assistant[-1]["reasoning_content"] == "I will write the file first."
    users = [m for m in second["messages"] if m["role"] == "user"]
    assert any("Write ws.txt." in json.dumps(m) for m in users)


def test_reconnect_after_previous_response_not_found(
    fake_chat: FakeChat, start_gateway: Any, gateway_config: Any, tmp_path: Path
) -> None:
    # A gateway that remembers no turns per socket answers every chained request with
    # previous_response_not_found: Codex must recover by resending the whole history (Codex
    # 0.169 does so on a new connection or over HTTP).
    gw = start_gateway(gateway_config(websocket_history=0))
    cmd = "echo recovered > rec.txt"
    fake_chat.script(
        Reply.tool_calls([("call_ws_2", "exec_command", json.dumps({"cmd": cmd}))]),
        Reply.text("Recovered after reconnecting."),
    )

    result = codex_ws(gw, tmp_path, "Write rec.txt.")

    assert_ok(result, fake_chat)
    assert (result.workdir / "rec.txt").read_text() == "recovered\n"
    assert "Recovered after reconnecting." in result.stdout, result.describe()
    log = gw.log_text()
    assert "websocket error event: previous_response_not_found" in log, log
    bodies = [r.body for r in fake_chat.chat_requests]
    assert len(bodies) == 2
    # The second upstream request holds the full conversation: the prompt, the call, its output.
    assert "exited with code 0" in tool_message(bodies[1], "call_ws_2")["content"]
    assistant_with_call(bodies[1], "call_ws_2")
    assert any("Write rec.txt." in json.dumps(m) for m in bodies[1]["messages"])
