"""What happens around a request: the client going away, a slow upstream, no provider at all."""

from __future__ import annotations

from typing import Any

import httpx2
import openai
import pytest

from tests.support.fake_chat import FakeChat, Reply
from tests.support.gateway import Gateway
from tests.support.validate import check_event_order, parse_sse

MODEL = "fake-model"


def test_client_disconnect_cancels_the_upstream_stream(
    fake_chat: FakeChat, openai_client: openai.OpenAI
) -> None:
    # 200 frames 50 ms apart: ten seconds of stream unless the gateway hangs up on the upstream.
    fake_chat.script(Reply.text("ab" * 200, chunk_size=2, delay=0.05))
    with openai_client.responses.stream(model=MODEL, input="hi") as stream:
        for event in stream:
            if event.type == "response.output_text.delta":
                break  # leaving the block closes the client's connection
    rec = fake_chat.last
    assert rec.closed_by_peer.wait(timeout=5), "the gateway kept reading the upstream stream"
    assert rec.frames_sent < 100


def test_slow_upstream_json_is_504(
    fake_chat: FakeChat, start_gateway: Any, gateway_config: Any
) -> None:
    gw: Gateway = start_gateway(gateway_config(request_timeout=1))
    fake_chat.script(Reply.text("late", delay=3))
    r = httpx2.post(gw.url("/v1/responses"), json={"model": MODEL, "input": "hi"}, timeout=30)
    assert r.status_code == 504
    assert r.json()["error"]["code"] == "upstream_timeout"


def test_upstream_that_stalls_mid_stream_fails_the_response(
    fake_chat: FakeChat, start_gateway: Any, gateway_config: Any
) -> None:
    gw: Gateway = start_gateway(gateway_config(request_timeout=1))
    # Headers and the first frames come at once; then 3 s between frames, past the 1 s timeout.
    fake_chat.script(Reply.text("abcdef", chunk_size=2, delay=3))
    body = {"model": MODEL, "input": "hi", "stream": True}
    r = httpx2.post(gw.url("/v1/responses"), json=body, timeout=30)
    events, _ = parse_sse(r.content)
    assert [e["type"] for e in events[-2:]] == ["error", "response.failed"]
    assert events[-1]["response"]["error"]["code"] == "upstream_timeout"
    check_event_order(events)


@pytest.mark.parametrize("path", ["/v1/responses"])
def test_no_provider_configured_says_how_to_configure(start_gateway: Any, path: str) -> None:
    gw: Gateway = start_gateway({"server": {}})
    r = httpx2.post(gw.url(path), json={"model": "gpt-5.5", "input": "hi"}, timeout=20)
    assert r.status_code == 503
    message = r.json()["error"]["message"]
    assert "DEEPSEEK_API_KEY" in message and "--config" in message
    assert httpx2.get(gw.url("/health"), timeout=5).status_code == 200
