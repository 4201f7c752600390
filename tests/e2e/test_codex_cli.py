"""The real Codex CLI (pinned in tests/clients) against the gateway over the fake upstream.

Codex talks to the gateway's ``POST /v1/responses`` over HTTP+SSE as a custom model provider;
the gateway turns that into Chat Completions for the scripted fake (``fake_chat``), whose
recorded requests show what Codex sent back after running its tools. Every run is traced and
fails if Codex tried to reach anything but loopback (see ``codex_harness``).

Model ``gpt-5.5``: Codex only offers its freeform ``apply_patch`` tool to models it knows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.codex_harness import CodexResult, run_codex
from tests.support.fake_chat import FakeChat, Reply
from tests.support.gateway import Gateway

pytestmark = pytest.mark.e2e

MODEL = "gpt-5.5"


# -- helpers -----------------------------------------------------------------------------------


def codex(gateway: Gateway, tmp_path: Path, prompt: str) -> CodexResult:
    return run_codex(prompt, base_url=gateway.url("/v1"), tmp_path=tmp_path, model=MODEL)


def text_of(content: Any) -> str:
    """A chat message's content as text (string, or a list of text parts)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content if isinstance(p, dict))


def chat_bodies(fake: FakeChat) -> list[dict[str, Any]]:
    return [r.body for r in fake.chat_requests]


def describe_upstream(fake: FakeChat) -> str:
    lines = []
    for n, req in enumerate(fake.chat_requests):
        msgs = req.body.get("messages", []) if isinstance(req.body, dict) else []
        summary = [
            {
                k: (v if k != "content" else text_of(v)[:160])
                for k, v in m.items()
                if k in ("role", "content", "tool_calls", "tool_call_id", "reasoning_content")
            }
            for m in msgs
            if m.get("role") not in ("system", "developer")
        ]
        lines.append(f"upstream request #{n}: {json.dumps(summary)[:3000]}")
    if fake.unscripted:
        lines.append(f"{len(fake.unscripted)} request(s) arrived after the script ran out")
    return "\n".join(lines) or "(the fake upstream received no chat request)"


def assert_ok(result: CodexResult, fake: FakeChat) -> None:
    assert result.ok, result.describe() + "\n" + describe_upstream(fake)


def tool_message(body: dict[str, Any], call_id: str) -> dict[str, Any]:
    found = [
        m for m in body["messages"] if m.get("role") == "tool" and m.get("tool_call_id") == call_id
    ]
    assert len(found) == 1, f"no single tool message for {call_id}: {body['messages'][-3:]}"
    return found[0]


def assistant_with_call(body: dict[str, Any], call_id: str) -> dict[str, Any]:
    found = [
        m
        for m in body["messages"]
        if m.get("role") == "assistant"
        and any(tc.get("id") == call_id for tc in m.get("tool_calls") or [])
    ]
    assert len(found) == 1, f"no single assistant message calling {call_id}: {body['messages']}"
    return found[0]


def upstream_tool(body: dict[str, Any], name: str) -> dict[str, Any]:
    tools = [t for t in body.get("tools") or [] if (t.get("function") or {}).get("name") == name]
    names = [(t.get("function") or {}).get("name") for t in body.get("tools") or []]
    assert len(tools) == 1, f"upstream tools lack a single {name!r}: {names}"
    return tools[0]


# -- tests -------------------------------------------------------------------------------------


def test_plain_text_turn(gateway: Gateway, fake_chat: FakeChat, tmp_path: Path) -> None:
    fake_chat.script(Reply.text("Hello from wirebridge, Codex!", chunk_size=4))

    result = codex(gateway, tmp_path, "Say hello.")

    assert_ok(result, fake_chat)
    assert "Hello from wirebridge, Codex!" in result.stdout, result.describe()
    assert (result.last_message or "").strip() == "Hello from wirebridge, Codex!"
    (body,) = chat_bodies(fake_chat)
    assert body["model"] == "upstream-model"
    assert body.get("stream") is True
    users = [text_of(m["content"]) for m in body["messages"] if m["role"] == "user"]
    assert any("Say hello." in u for u in users), users
    # Codex's shell tool went upstream as a function tool
    upstream_tool(body, "exec_command")


def test_shell_tool_round_trip(gateway: Gateway, fake_chat: FakeChat, tmp_path: Path) -> None:
    cmd = "echo wirebridge-e2e > marker.txt && cat marker.txt"
    fake_chat.script(
        Reply.tool_calls(
            [("call_e2e_shell", "exec_command", json.dumps({"cmd": cmd}))], chunk_size=11
        ),
        Reply.text("The marker is written."),
    )

    result = codex(gateway, tmp_path, "Write the marker file.")

    assert_ok(result, fake_chat)
    assert (result.workdir / "marker.txt").read_text() == "wirebridge-e2e\n", result.describe()
    assert "The marker is written." in result.stdout, result.describe()
    first, second = chat_bodies(fake_chat)
    upstream_tool(first, "exec_command")
    call = assistant_with_call(second, "call_e2e_shell")["tool_calls"][0]
    assert call["function"]["name"] == "exec_command"
    assert json.loads(call["function"]["arguments"]) == {"cmd": cmd}
    output = text_of(tool_message(second, "call_e2e_shell")["content"])
    assert "wirebridge-e2e" in output, output
    assert "exited with code 0" in output, output


PATCH = (
    "*** Begin Patch\n"
    "*** Add File: docs/hello.txt\n"
    "+Hello from wirebridge\n"
    '+quotes " and \\ backslash\n'
    "*** End Patch\n"
)


def test_apply_patch_custom_tool(gateway: Gateway, fake_chat: FakeChat, tmp_path: Path) -> None:
    """Codex's freeform apply_patch goes upstream as a function shim with one string argument
    ``input``; the model's call comes back to Codex as a ``custom_tool_call`` with the raw patch."""
    shims: list[dict[str, Any]] = []

    def patch_call(body: dict[str, Any]) -> Reply:
        shim = upstream_tool(body, "apply_patch")
        shims.append(shim)
        return Reply.tool_calls(
            [("call_e2e_patch", "apply_patch", json.dumps({"input": PATCH}))], chunk_size=13
        )

    fake_chat.script(patch_call, Reply.text("Patched."))

    result = codex(gateway, tmp_path, "Create docs/hello.txt.")

    assert_ok(result, fake_chat)
    (shim,) = shims
    params = shim["function"]["parameters"]
    assert params["required"] == ["input"], params
    assert params["properties"]["input"]["type"] == "string", params
    created = result.workdir / "docs" / "hello.txt"
    assert created.exists(), (
        "Codex did not apply the patch (a JSON-wrapped or function_call apply_patch is "
        "rejected silently)\n" + result.describe() + "\n" + describe_upstream(fake_chat)
    )
    assert created.read_text() == 'Hello from wirebridge\nquotes " and \\ backslash\n'
    _, second = chat_bodies(fake_chat)
    call = assistant_with_call(second, "call_e2e_patch")["tool_calls"][0]
    assert call["function"]["name"] == "apply_patch"
    assert json.loads(call["function"]["arguments"]) == {"input": PATCH}
    output = text_of(tool_message(second, "call_e2e_patch")["content"])
    assert "Success" in output and "docs/hello.txt" in output, output


REASONING = "The user wants a marker. I will run echo through the shell tool first."


def test_reasoning_replayed_to_upstream(
    gateway: Gateway, fake_chat: FakeChat, tmp_path: Path
) -> None:
    """DeepSeek-style reasoning_content becomes a sealed reasoning item that Codex (store=false)
    replays verbatim; the gateway unseals it into the next upstream assistant message."""
    fake_chat.script(
        Reply.tool_calls(
            [("call_e2e_think", "exec_command", json.dumps({"cmd": "echo thought-through"}))],
            reasoning_content=REASONING,
            chunk_size=9,
        ),
        Reply.text("Done thinking."),
    )

    result = codex(gateway, tmp_path, "Think, then run echo.")

    assert_ok(result, fake_chat)
    assert "Done thinking." in result.stdout, result.describe()
    first, second = chat_bodies(fake_chat)
    assert not any(m.get("reasoning_content") for m in first["messages"]), first["messages"]
    assistant = assistant_with_call(second, "call_e2e_think")
    assert assistant.get("reasoning_content") == REASONING, (
        f"assistant message lost its reasoning_content: {assistant}\n" + result.describe()
    )
    assert "thought-through" in text_of(tool_message(second, "call_e2e_think")["content"])


def test_parallel_shell_calls(gateway: Gateway, fake_chat: FakeChat, tmp_path: Path) -> None:
    """Two tool calls in one upstream turn (arguments interleaved on the wire): Codex runs both
    and sends both outputs back, each under its own call id."""
    calls = [
        ("call_e2e_a", "exec_command", json.dumps({"cmd": "echo alpha > a.txt && cat a.txt"})),
        ("call_e2e_b", "exec_command", json.dumps({"cmd": "echo beta > b.txt && cat b.txt"})),
    ]
    fake_chat.script(
        Reply.tool_calls(calls, chunk_size=7, interleave_tools=True), Reply.text("Both ran.")
    )

    result = codex(gateway, tmp_path, "Write a.txt and b.txt.")

    assert_ok(result, fake_chat)
    assert (result.workdir / "a.txt").read_text() == "alpha\n", result.describe()
    assert (result.workdir / "b.txt").read_text() == "beta\n", result.describe()
    _, second = chat_bodies(fake_chat)
    assert "alpha" in text_of(tool_message(second, "call_e2e_a")["content"])
    assert "beta" in text_of(tool_message(second, "call_e2e_b")["content"])
    sent = {
        tc["id"]: json.loads(tc["function"]["arguments"])["cmd"]
        for m in second["messages"]
        if m.get("role") == "assistant"
        for tc in m.get("tool_calls") or []
    }
    assert sent == {cid: json.loads(args)["cmd"] for cid, _, args in calls}
