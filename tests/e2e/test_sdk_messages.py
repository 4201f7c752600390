"""The official anthropic SDK against a running gateway over the fake Chat Completions upstream.

One gateway process serves the module (``messages_gateway``): the default test config plus a
``claude:`` section that maps every Claude tier onto ``fake-model``. The raw SSE under the SDK
is recorded and checked for Anthropic's stream grammar; every Claude Code capture is replayed
with its own path, query and headers.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.frontends.messages.support import check_stream
from tests.support.fake_chat import FakeChat, Reply, chat_usage
from tests.support.gateway import Gateway, RecordingTransport, default_config
from tests.support.reference import CAPTURES as REFERENCE_CAPTURES
from wirebridge.config.errors import Where
from wirebridge.config.load import config_from_tree
from wirebridge.http.app import create_app
from wirebridge.transport.sse import SSEParser

MODEL = "claude-sonnet-4-6"
CLAUDE_TIERS = {"big": "fake-model", "middle": "fake-model", "small": "fake-model"}
CAPTURES = REFERENCE_CAPTURES / "claude"
PNG_B64 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9a"
    "wAAAABJRU5ErkJggg=="
)
BASH = {
    "name": "Bash",
    "description": "Run a shell command.",
    "input_schema": {
        "type": "object",
        "properties": {"command": {"type": "string"}, "description": {"type": "string"}},
        "required": ["command"],
    },
}
REASONING = "The user wants the date. I will call Bash."


def messages_config(fake_base_url: str) -> dict[str, Any]:
    cfg = default_config(fake_base_url)
    cfg["claude"] = dict(CLAUDE_TIERS)
    return cfg


@pytest.fixture(scope="module")
def messages_gateway(
    fake_chat_server: FakeChat, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    gw = Gateway.start(messages_config(fake_chat_server.base_url), tmp_path_factory.mktemp("gw"))
    try:
        yield gw
    finally:
        gw.stop()


@pytest.fixture
def client(messages_gateway: Gateway) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(
        base_url=messages_gateway.base_url, api_key="sk-ant-client", max_retries=0, timeout=30
    ) as c:
        yield c


def upstream(fake: FakeChat, n: int = -1) -> dict[str, Any]:
    reqs = fake.chat_requests
    assert reqs, "the upstream received no chat request"
    body: dict[str, Any] = reqs[n].body
    return body


def post(
    gw: Gateway, path: str, body: Any, headers: dict[str, str] | None = None
) -> httpx2.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    hdrs = {"x-api-key": "sk-ant-client", "content-type": "application/json", **(headers or {})}
    return httpx2.post(gw.url(path), content=content, headers=hdrs, timeout=30)


def anthropic_error(resp: httpx2.Response, status: int, kind: str) -> str:
    """Assert Anthropic's error envelope; return the message."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["type"] == "error", body
    assert body["error"]["type"] == kind, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return str(body["error"]["message"])


def sse_events(raw: bytes) -> list[dict[str, Any]]:
    """The events of an Anthropic stream, pings left out; each frame's ``event:`` must name its
    data's ``type``."""
    parser = SSEParser()
    frames = parser.feed(raw) + parser.close()
    events = []
    for name, data in frames:
        event = json.loads(data)
        assert name is not None and name.decode() == event["type"], (name, event)
        if event["type"] != "ping":
            events.append(event)
    return events


# -- messages.create -----------------------------------------------------------------------------


def test_text(client: anthropic.Anthropic, fake_chat: FakeChat) -> None:
    fake_chat.script(Reply.text("Hello from upstream", usage=chat_usage(11, 4)))
    msg = client.messages.create(
        model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "Say hi"}]
    )
    assert msg.type == "message" and msg.role == "assistant"
    assert msg.id.startswith("msg_")
    assert msg.model == MODEL  # the name the client asked for, not the upstream's
    assert [b.type for b in msg.content] == ["text"]
    assert msg.content[0].text == "Hello from upstream"  # type: ignore[union-attr]
    assert msg.stop_reason == "end_turn" and msg.stop_sequence is None
    assert (msg.usage.input_tokens, msg.usage.output_tokens) == (11, 4)
    assert msg.usage.cache_read_input_tokens == 0
    up = upstream(fake_chat)
    assert up["model"] == "upstream-model"
    assert up["max_tokens"] == 100
    assert up["messages"] == [{"role": "user", "content": "Say hi"}]
    assert not up.get("stream")


def test_system_string_and_blocks(client: anthropic.Anthropic, fake_chat: FakeChat) -> None:
    fake_chat.script(Reply.text("ok"), Reply.text("ok"))
    client.messages.create(
        model=MODEL,
        max_tokens=50,
        system="You are terse.",
        messages=[{"role": "user", "content": "hi"}],
    )
    assert upstream(fake_chat)["messages"][0] == {"role": "system", "content": "You are terse."}
    client.messages.create(
        model=MODEL,
        max_tokens=50,
        system=[
            {"type": "text", "text": "Rule one."},
            {"type": "text", "text": "Rule two.", "cache_control": {"type": "ephemeral"}},
        ],
        messages=[{"role": "user", "content": "hi"}],
    )
    system = upstream(fake_chat)["messages"][0]
    assert system == {"role": "system", "content": "Rule one.\n\nRule two."}


def test_image(client: anthropic.Anthropic, fake_chat: FakeChat) -> None:
    fake_chat.script(Reply.text("A red pixel."))
    msg = client.messages.create(
        model=MODEL,
        max_tokens=50,
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64},
                    },
                    {"type": "text", "text": "What is this?"},
                ],
            }
        ],
    )
    assert msg.content[0].text == "A red pixel."  # type: ignore[union-attr]
    (user,) = upstream(fake_chat)["messages"]
    image, text = user["content"]
    assert image == {
        "type": "image_url",
        "image_url": {"url": f"data:image/png;base64,{PNG_B64}", "detail": "auto"},
    }
    assert text == {"type": "text", "text": "What is this?"}


# -- streaming, tools, thinking ------------------------------------------------------------------


def test_stream_tool_use_with_thinking_then_replay(
    messages_gateway: Gateway, fake_chat: FakeChat
) -> None:
    """DeepSeek-style reasoning_content comes out as a thinking block whose signature is the
    gateway's sealed blob; replaying that turn with a tool_result gives the upstream the same
    reasoning_content back on the assistant message."""
    args = json.dumps({"command": "date", "description": "Show the date"})
    fake_chat.script(
        Reply.tool_calls(
            [("call_bash_1", "Bash", args)],
            reasoning_content=REASONING,
            chunk_size=6,
            usage=chat_usage(40, 12, cached=30),
        ),
        Reply.text("It is Sunday."),
    )
    rec = RecordingTransport()
    tools: list[Any] = [BASH]
    question = {"role": "user", "content": "What day is it?"}
    with (
        anthropic.Anthropic(
            base_url=messages_gateway.base_url,
            api_key="sk-ant-client",
            max_retries=0,
            http_client=httpx2.Client(transport=rec, timeout=30),
        ) as client,
        client.messages.stream(
            model="claude-opus-4-8",
            max_tokens=2000,
            thinking={"type": "enabled", "budget_tokens": 1024},
            tools=tools,
            messages=[question],
        ) as stream,
    ):
        sdk_types = [ev.type for ev in stream]
        final = stream.get_final_message()

        events = sse_events(bytes(rec.bodies[-1]))
        check_stream(events)
        assert "thinking" in sdk_types and "signature" in sdk_types and "input_json" in sdk_types
        assert final.model == "claude-opus-4-8"
        assert final.stop_reason == "tool_use"
        thinking, tool_use = final.content
        assert thinking.type == "thinking" and tool_use.type == "tool_use"
        assert thinking.thinking == REASONING
        assert thinking.signature.startswith("wb1.")
        assert (tool_use.id, tool_use.name) == ("call_bash_1", "Bash")
        assert tool_use.input == {"command": "date", "description": "Show the date"}
        assert final.usage.input_tokens == 10 and final.usage.cache_read_input_tokens == 30
        assert final.usage.output_tokens == 12
        first = upstream(fake_chat)
        assert first["stream"] is True and first["thinking"] == {"type": "enabled"}
        assert first["tools"][0]["function"]["name"] == "Bash"

        reply = client.messages.create(
            model="claude-opus-4-8",
            max_tokens=2000,
            tools=tools,
            messages=[
                question,
                {"role": "assistant", "content": [b.model_dump() for b in final.content]},
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "call_bash_1", "content": "Sunday"}
                    ],
                },
            ],
        )
    assert reply.content[0].text == "It is Sunday."  # type: ignore[union-attr]
    second = upstream(fake_chat)
    _, assistant, tool = second["messages"]
    assert assistant["reasoning_content"] == REASONING
    assert assistant["tool_calls"][0]["id"] == "call_bash_1"
    assert tool == {"role": "tool", "tool_call_id": "call_bash_1", "content": "Sunday"}


def test_stream_text_events(messages_gateway: Gateway, fake_chat: FakeChat) -> None:
    fake_chat.script(Reply.text("Hello streaming world", chunk_size=5, usage=chat_usage(9, 3)))
    resp = post(
        messages_gateway,
        "/v1/messages",
        {
            "model": MODEL,
            "max_tokens": 64,
            "stream": True,
            "messages": [{"role": "user", "content": "hi"}],
        },
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/event-stream")
    events = sse_events(resp.content)
    check_stream(events)
    text = "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta")
    assert text == "Hello streaming world"
    delta = next(e for e in events if e["type"] == "message_delta")
    assert delta["delta"]["stop_reason"] == "end_turn"
    assert delta["usage"]["input_tokens"] == 9 and delta["usage"]["output_tokens"] == 3


def test_stream_failure_is_error_event(client: anthropic.Anthropic, fake_chat: FakeChat) -> None:
    fake_chat.script(
        Reply.text("partial answer", chunk_size=4, stream_error={"message": "boom", "code": "x"})
    )
    with (
        pytest.raises(anthropic.APIStatusError) as caught,
        client.messages.stream(
            model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "hi"}]
        ) as stream,
    ):
        for _ in stream:
            pass
    body = caught.value.body
    assert isinstance(body, dict) and body["error"]["type"] == "api_error", body
    assert "boom" in body["error"]["message"]


def test_client_disconnect_cancels_the_upstream_stream(
    client: anthropic.Anthropic, fake_chat: FakeChat
) -> None:
    # 200 frames 50 ms apart: ten seconds of stream unless the gateway hangs up on the upstream.
    fake_chat.script(Reply.text("ab" * 200, chunk_size=2, delay=0.05))
    with client.messages.stream(
        model=MODEL, max_tokens=999, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        for event in stream:
            if event.type == "text":
                break  # leaving the block closes the client's connection
    rec = fake_chat.last
    assert rec.closed_by_peer.wait(timeout=5), "the gateway kept reading the upstream stream"
    assert rec.frames_sent < 100


# -- count_tokens, routes, auth ------------------------------------------------------------------


def test_count_tokens(client: anthropic.Anthropic, fake_chat: FakeChat) -> None:
    plain = client.messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert plain.input_tokens > 0
    bigger = client.messages.count_tokens(
        model=MODEL,
        system="You are a helpful assistant. " * 20,
        tools=[BASH],  # type: ignore[list-item]
        messages=[{"role": "user", "content": "hi"}],
    )
    assert bigger.input_tokens > plain.input_tokens + 100  # system and tools count too
    assert fake_chat.requests == []  # an estimate: no upstream call


def test_path_prefix_and_beta_query(messages_gateway: Gateway, fake_chat: FakeChat) -> None:
    fake_chat.script(Reply.text("prefixed"), Reply.text("beta"))
    with anthropic.Anthropic(
        base_url=messages_gateway.url("/anthropic"), api_key="k", max_retries=0, timeout=30
    ) as c:
        msg = c.messages.create(
            model=MODEL, max_tokens=20, messages=[{"role": "user", "content": "x"}]
        )
        assert msg.content[0].text == "prefixed"  # type: ignore[union-attr]
        beta = c.beta.messages.create(
            model=MODEL, max_tokens=20, messages=[{"role": "user", "content": "x"}]
        )
        assert beta.content[0].text == "beta"  # type: ignore[union-attr]
        count = c.beta.messages.count_tokens(
            model=MODEL, messages=[{"role": "user", "content": "x"}]
        )
        assert count.input_tokens > 0
    deep = post(
        messages_gateway,
        "/a/b/v1/messages/count_tokens?beta=true",
        {"model": MODEL, "messages": [{"role": "user", "content": "x"}]},
    )
    assert deep.status_code == 200 and deep.json()["input_tokens"] > 0


def test_bearer_and_x_api_key_both_accepted(messages_gateway: Gateway, fake_chat: FakeChat) -> None:
    fake_chat.script(Reply.text("a"), Reply.text("b"))
    body = {"model": MODEL, "max_tokens": 20, "messages": [{"role": "user", "content": "x"}]}
    headers = {"anthropic-version": "2023-06-01", "anthropic-beta": "made-up-beta-2099-01-01"}
    assert post(messages_gateway, "/v1/messages", body, headers).status_code == 200
    bearer = {**headers, "authorization": "Bearer tok", "x-api-key": ""}
    assert post(messages_gateway, "/v1/messages", body, bearer).status_code == 200


def test_responses_routes_unaffected(messages_gateway: Gateway, fake_chat: FakeChat) -> None:
    fake_chat.script(Reply.text("still here"))
    resp = httpx2.post(
        messages_gateway.url("/v1/responses"),
        json={"model": "fake-model", "input": "hi"},
        headers={"authorization": "Bearer k"},
        timeout=30,
    )
    assert resp.status_code == 200 and resp.json()["object"] == "response"
    missing = httpx2.post(messages_gateway.url("/v1/nothing"), json={}, timeout=30)
    assert missing.status_code == 404 and "error" in missing.json()
    assert missing.json().get("type") != "error"  # the OpenAI envelope, not Anthropic's


# -- errors in the Anthropic envelope ------------------------------------------------------------


def test_unknown_model_is_not_found(client: anthropic.Anthropic, fake_chat: FakeChat) -> None:
    with pytest.raises(anthropic.NotFoundError) as caught:
        client.messages.create(
            model="no-such-model", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.status_code == 404
    body = caught.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"]["type"] == "not_found_error"
    assert "no-such-model" in body["error"]["message"]
    assert fake_chat.requests == []


def test_upstream_429_is_rate_limit_error_with_retry_after(
    client: anthropic.Anthropic, messages_gateway: Gateway, fake_chat: FakeChat
) -> None:
    fake_chat.script(Reply.error(429, headers={"Retry-After": "7"}))
    with pytest.raises(anthropic.RateLimitError) as caught:
        client.messages.create(
            model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.response.headers["retry-after"] == "7"
    body = caught.value.body
    assert isinstance(body, dict) and body["error"]["type"] == "rate_limit_error"
    fake_chat.script(Reply.error(429, headers={"Retry-After": "3"}))
    streamed = post(
        messages_gateway,
        "/v1/messages",
        {
            "model": MODEL,
            "max_tokens": 5,
            "stream": True,
            "messages": [{"role": "user", "content": "x"}],
        },
    )
    anthropic_error(streamed, 429, "rate_limit_error")  # before the first byte: an HTTP error
    assert streamed.headers["retry-after"] == "3"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        pytest.param(b"{not json", "not valid JSON", id="malformed_json"),
        pytest.param(b"[1, 2]", "JSON object", id="not_an_object"),
        pytest.param({"model": MODEL, "messages": []}, "max_tokens", id="missing_max_tokens"),
        pytest.param(
            {"model": MODEL, "max_tokens": 5, "messages": [{"role": "robot", "content": "x"}]},
            "messages[0].role",
            id="bad_role",
        ),
        pytest.param(
            {
                "model": MODEL,
                "max_tokens": 5,
                "messages": [{"role": "user", "content": "x"}],
                "tools": [{"type": "computer_20250124", "name": "computer"}],
            },
            "computer_20250124",
            id="untranslatable_server_tool",
        ),
    ],
)
def test_invalid_requests(
    messages_gateway: Gateway, fake_chat: FakeChat, body: Any, fragment: str
) -> None:
    for path in ("/v1/messages", "/anthropic/v1/messages?beta=true"):
        message = anthropic_error(post(messages_gateway, path, body), 400, "invalid_request_error")
        assert fragment in message
    assert fake_chat.requests == []


def test_sdk_raises_bad_request(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(
            model=MODEL,
            max_tokens=10,
            messages=[{"role": "user", "content": [{"type": "video", "url": "x"}]}],  # type: ignore[list-item]
        )
    body = caught.value.body
    assert isinstance(body, dict) and body["error"]["type"] == "invalid_request_error"


# -- Claude Code's own requests ------------------------------------------------------------------

_SKIP_HEADERS = {"host", "content-length", "accept-encoding", "connection"}
CAPTURE_FILES = sorted(CAPTURES.glob("*/[0-9][0-9][0-9]_POST_*.json"))


@pytest.mark.parametrize("path", CAPTURE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_claude_code_capture_replayed(
    messages_gateway: Gateway, fake_chat: FakeChat, path: Path
) -> None:
    """Each request Claude Code 2.1 sent — same path (prefix too), query and headers — is
    answered with a well-formed stream."""
    capture = json.loads(path.read_text())
    headers = {k.lower(): v for k, v in capture["headers"] if k.lower() not in _SKIP_HEADERS}
    body = capture["body"]
    body["model"] = "claude-opus-4-8"  # "my-gateway-model" in two captures: map it like Claude's
    fake_chat.script(Reply.text("Hi from the fake.", chunk_size=4))
    query = "&".join(f"{k}={v}" for k, v in capture["query"].items())
    resp = post(messages_gateway, f"{capture['path']}?{query}", body, headers)
    assert resp.status_code == 200, resp.text
    events = sse_events(resp.content)
    check_stream(events)
    assert events[-2]["delta"]["stop_reason"] == "end_turn"
    up = upstream(fake_chat)
    assert up["messages"][0]["role"] == "system"
    assert len(up["tools"]) == len(body["tools"])


# -- pings while the upstream is slow (in process, with a short interval) -------------------------


async def test_ping_while_waiting_for_the_upstream(fake_chat: FakeChat, tmp_path: Path) -> None:
    cfg = messages_config(fake_chat.base_url)
    cfg["server"].update(secret_key="test-secret", stream_keepalive_interval=0.05)
    config = config_from_tree(cfg, Where("test"), base_dir=tmp_path, source="test")
    fake_chat.script(Reply.text("slow", chunk_size=2, delay=0.3))
    async with TestClient(TestServer(create_app(config))) as http:
        resp = await http.post(
            "/v1/messages",
            json={
                "model": MODEL,
                "max_tokens": 10,
                "stream": True,
                "messages": [{"role": "user", "content": "x"}],
            },
        )
        assert resp.status == 200
        raw = await asyncio.wait_for(resp.read(), 30)
    text = raw.decode()
    assert text.count('event: ping\ndata: {"type":"ping"}\n\n') >= 2, text
    events = sse_events(raw)
    check_stream(events)
    assert "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta") == (
        "slow"
    )
