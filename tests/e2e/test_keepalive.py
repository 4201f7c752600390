"""Keepalives while the upstream is quiet, on every SSE door, and the real clients unbothered.

One gateway serves the module with ``server.stream_keepalive_interval`` at 50 ms, and the fake
upstream waits 150 ms before each chunk, so every gap brings keepalives: a ``ping`` event on
``/v1/messages``, an SSE comment line elsewhere. The raw wire must carry them between whole
events; the official SDKs, Codex CLI and Claude Code must read the same streams as if they were
not there.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import openai
import pytest

from tests.e2e.claude_harness import run_claude
from tests.e2e.codex_harness import run_codex
from tests.support.fake_chat import FakeChat, Reply
from tests.support.gateway import Gateway, default_config

INTERVAL = 0.05
GAP = 0.15  # the fake's wait before each chunk: two or three keepalives each
COMMENT = b": keepalive\n\n"
PING = b'event: ping\ndata: {"type":"ping"}\n\n'


@pytest.fixture(scope="module")
def slow_gateway(
    fake_chat_server: FakeChat, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    cfg = default_config(fake_chat_server.base_url, stream_keepalive_interval=INTERVAL)
    cfg["claude"] = {"big": "fake-model", "middle": "fake-model", "small": "fake-model"}
    gw = Gateway.start(cfg, tmp_path_factory.mktemp("gw"))
    try:
        yield gw
    finally:
        gw.stop()


def slow(text: str) -> Reply:
    return Reply.text(text, chunk_size=4, delay=GAP)


def raw_stream(gw: Gateway, path: str, body: dict[str, Any]) -> bytes:
    with httpx2.Client(timeout=30) as http:
        resp = http.post(gw.url(path), json={**body, "stream": True})
        assert resp.status_code == 200, resp.text
        return resp.content


def frames(raw: bytes) -> list[bytes]:
    """The stream cut at its blank lines, each frame whole."""
    return [f + b"\n\n" for f in raw.split(b"\n\n") if f]


def assert_between_events(raw: bytes, keepalive: bytes, first: bytes, last: bytes) -> None:
    got = frames(raw)
    assert got.count(keepalive) >= 2, raw
    assert got[0].startswith(first), got[0]  # nothing before the stream's own first event
    assert got[-1].startswith(last), got[-1]  # and nothing after its end
    for f in got:  # every other frame is a whole event of the protocol
        assert f == keepalive or f.startswith((b"event: ", b"data: ")), f


def test_responses_stream(slow_gateway: Gateway, fake_chat: FakeChat) -> None:
    fake_chat.script(slow("Quiet but alive."))
    raw = raw_stream(slow_gateway, "/v1/responses", {"model": "fake-model", "input": "hi"})
    assert_between_events(raw, COMMENT, b"event: response.created", b"data: [DONE]")

    fake_chat.script(slow("Quiet but alive."))
    with openai.OpenAI(base_url=slow_gateway.url("/v1"), api_key="sk", max_retries=0) as client:
        events = list(client.responses.create(model="fake-model", input="hi", stream=True))
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == "Quiet but alive."
    assert [e.sequence_number for e in events] == list(range(len(events)))


def test_chat_stream(slow_gateway: Gateway, fake_chat: FakeChat) -> None:
    msgs = [{"role": "user", "content": "hi"}]
    fake_chat.script(slow("Quiet but alive."))
    raw = raw_stream(
        slow_gateway, "/v1/chat/completions", {"model": "fake-model", "messages": msgs}
    )
    assert_between_events(raw, COMMENT, b"data: {", b"data: [DONE]")

    fake_chat.script(slow("Quiet but alive."))
    with openai.OpenAI(base_url=slow_gateway.url("/v1"), api_key="sk", max_retries=0) as client:
        chunks = list(
            client.chat.completions.create(model="fake-model", messages=msgs, stream=True)
        )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Quiet but alive."


def test_background_stream(slow_gateway: Gateway, fake_chat: FakeChat) -> None:
    fake_chat.script(slow("Quiet but alive."))
    body = {"model": "fake-model", "input": "hi", "background": True}
    raw = raw_stream(slow_gateway, "/v1/responses", body)
    assert_between_events(raw, COMMENT, b"event: response.created", b"data: [DONE]")


def test_messages_stream(slow_gateway: Gateway, fake_chat: FakeChat) -> None:
    body = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "hi"}],
    }
    fake_chat.script(slow("Quiet but alive."))
    raw = raw_stream(slow_gateway, "/v1/messages", body)
    assert_between_events(raw, PING, b"event: message_start", b"event: message_stop")

    fake_chat.script(slow("Quiet but alive."))
    client = anthropic.Anthropic(base_url=slow_gateway.base_url, api_key="sk", max_retries=0)
    with client, client.messages.stream(**body) as stream:
        message = stream.get_final_message()
    assert message.content[0].type == "text" and message.content[0].text == "Quiet but alive."


@pytest.mark.e2e
def test_codex_cli(slow_gateway: Gateway, fake_chat: FakeChat, tmp_path: Path) -> None:
    fake_chat.script(slow("Quiet but alive, Codex."))
    result = run_codex("Say hello.", base_url=slow_gateway.url("/v1"), tmp_path=tmp_path)
    assert result.ok, result.describe()
    assert result.audited and result.outbound == []
    assert (result.last_message or "").strip() == "Quiet but alive, Codex."


@pytest.mark.e2e
def test_claude_code(slow_gateway: Gateway, fake_chat: FakeChat, tmp_path: Path) -> None:
    fake_chat.script(slow("Quiet but alive, Claude."))
    result = run_claude("Say hello.", base_url=slow_gateway.base_url, tmp_path=tmp_path)
    assert result.ok, result.describe()
    assert result.output.get("is_error") is False, result.describe()
    assert result.audited and result.outbound == []
    assert result.output["result"] == "Quiet but alive, Claude."
