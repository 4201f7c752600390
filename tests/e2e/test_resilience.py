"""Retries, fallbacks, key balancing, cool-downs and proxies, against the fake upstream."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import aiohttp
import openai
import pytest
from aiohttp import web

from tests.support.fake_chat import FakeChat, Reply
from tests.support.gateway import Gateway, free_port


def config(fake: FakeChat, **provider: Any) -> dict[str, Any]:
    return {
        "server": {"request_timeout": 10},
        "providers": {
            "fake": {"base_url": fake.base_url, "api_key": "k1", "retries": 2, **provider},
        },
        "models": [
            {
                "model": "main",
                "provider": "fake",
                "downstream_model": "primary-model",
                "fallbacks": ["backup"],
            },
            {"model": "backup", "provider": "fake", "downstream_model": "backup-model"},
        ],
    }


def client(gw: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url("/v1"), api_key="sk-client", max_retries=0)


def auth_keys(fake: FakeChat) -> list[str]:
    return [r.headers["authorization"].removeprefix("Bearer ") for r in fake.chat_requests]


def test_429_then_success_is_retried(fake_chat: FakeChat, start_gateway: Any) -> None:
    gw = start_gateway(config(fake_chat))
    fake_chat.script(Reply.error(429, headers={"Retry-After": "0"}), Reply.text("second try"))
    resp = client(gw).responses.create(model="main", input="hi")
    assert resp.output_text == "second try"
    assert resp.model == "main"
    assert len(fake_chat.chat_requests) == 2


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_upstream_connections_are_kept_alive_and_reused(
    fake_chat: FakeChat, start_gateway: Any, stream: bool
) -> None:
    gw = start_gateway(config(fake_chat))
    fake_chat.script(*(Reply.text(f"answer {i}") for i in range(5)))
    for i in range(5):
        if stream:
            events = list(client(gw).responses.create(model="main", input="hi", stream=True))
            assert events[-1].type == "response.completed"
        else:
            assert client(gw).responses.create(model="main", input="hi").output_text == (
                f"answer {i}"
            )
    peers = {r.peer for r in fake_chat.chat_requests}
    assert len(fake_chat.chat_requests) == 5 and len(peers) == 1, peers


def test_500_then_fallback_reports_the_model_that_answered(
    fake_chat: FakeChat, start_gateway: Any
) -> None:
    gw = start_gateway(config(fake_chat, retries=0))
    fake_chat.script(Reply.error(500), Reply.text("from the backup"))
    resp = client(gw).responses.create(model="main", input="hi")
    assert resp.output_text == "from the backup"
    assert resp.model == "backup"
    assert [r.body["model"] for r in fake_chat.chat_requests] == ["primary-model", "backup-model"]


def test_client_errors_are_not_retried(fake_chat: FakeChat, start_gateway: Any) -> None:
    gw = start_gateway(config(fake_chat))
    fake_chat.script(Reply.error(400))
    with pytest.raises(openai.BadRequestError):
        client(gw).responses.create(model="main", input="hi")
    assert len(fake_chat.chat_requests) == 1


def test_long_retry_after_is_not_waited_for(fake_chat: FakeChat, start_gateway: Any) -> None:
    # The model's fallback answers instead of a ten-minute wait.
    gw = start_gateway(config(fake_chat))
    fake_chat.script(Reply.error(429, headers={"Retry-After": "600"}), Reply.text("backup"))
    resp = client(gw).responses.create(model="main", input="hi")
    assert resp.model == "backup"


def test_mid_stream_failure_is_not_retried(fake_chat: FakeChat, start_gateway: Any) -> None:
    gw = start_gateway(config(fake_chat))
    fake_chat.script(Reply.text("broken stream", chunk_size=2, fail_after=3))
    with (
        pytest.raises(openai.APIError),
        client(gw).responses.stream(model="main", input="hi") as stream,
    ):
        for _ in stream:
            pass
    assert len(fake_chat.chat_requests) == 1


def test_keys_round_robin_and_cool_down(fake_chat: FakeChat, start_gateway: Any) -> None:
    gw = start_gateway(config(fake_chat, api_keys=["k2"], retries=1, cooldown=60))
    c = client(gw)
    fake_chat.script(Reply.text("a"), Reply.text("b"))
    c.responses.create(model="main", input="1")
    c.responses.create(model="main", input="2")
    assert auth_keys(fake_chat) == ["k1", "k2"]
    fake_chat.reset()
    # k1 is refused, the retry goes to k2; k1 then cools down and is passed over.
    fake_chat.script(
        Reply.error(429, headers={"Retry-After": "0"}),
        Reply.text("c"),
        Reply.text("d"),
        Reply.text("e"),
    )
    c.responses.create(model="main", input="3")
    c.responses.create(model="main", input="4")
    c.responses.create(model="main", input="5")
    assert auth_keys(fake_chat) == ["k1", "k2", "k2", "k2"]


def test_targets_spread_over_providers(fake_chat: FakeChat, start_gateway: Any) -> None:
    cfg = config(fake_chat)
    cfg["providers"]["other"] = {"base_url": fake_chat.base_url, "api_key": "k-other"}
    cfg["models"] = [
        {
            "model": "main",
            "targets": [
                {"provider": "fake", "downstream_model": "deploy-a"},
                {"provider": "other", "downstream_model": "deploy-b"},
            ],
        }
    ]
    gw = start_gateway(cfg)
    fake_chat.script(Reply.text("a"), Reply.text("b"))
    client(gw).responses.create(model="main", input="1")
    client(gw).responses.create(model="main", input="2")
    assert [r.body["model"] for r in fake_chat.chat_requests] == ["deploy-a", "deploy-b"]
    assert auth_keys(fake_chat) == ["k1", "k-other"]


class RecordingProxy:
    """A forward HTTP proxy on loopback that records the URLs it carried."""

    def __init__(self) -> None:
        self.port = free_port()
        self.seen: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()
        self._ready.wait(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def forward(request: web.Request) -> web.StreamResponse:
            self.seen.append(str(request.url))
            async with (
                aiohttp.ClientSession() as s,
                s.request(
                    request.method,
                    str(request.url),
                    data=await request.read(),
                    headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
                ) as upstream,
            ):
                body = await upstream.read()
                return web.Response(
                    body=body, status=upstream.status, content_type=upstream.content_type
                )

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", forward)
        runner = web.AppRunner(app)
        self._loop.run_until_complete(runner.setup())
        self._loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self._ready.set()
        self._loop.run_forever()


@pytest.fixture
def proxy() -> Iterator[RecordingProxy]:
    yield RecordingProxy()


def test_per_provider_proxy(fake_chat: FakeChat, start_gateway: Any, proxy: RecordingProxy) -> None:
    gw = start_gateway(config(fake_chat, proxy=f"http://127.0.0.1:{proxy.port}"))
    fake_chat.script(Reply.text("through the proxy"))
    assert client(gw).responses.create(model="main", input="hi").output_text == (
        "through the proxy"
    )
    assert proxy.seen == [fake_chat.base_url + "/chat/completions"]
