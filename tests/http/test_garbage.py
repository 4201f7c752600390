"""No front door leaves reference cycles behind a request.

Whatever a finished request held must be freed by reference counting as it ends. Objects left in
a cycle wait for the collector, which ``serve`` runs rarely (``observe/memory.py``): with a
Claude Code turn in each, 64 streams once held 160 MB that way. Every front door (the WebSocket
one too) is driven here over every kind of upstream, JSON and SSE, with chained, stored and
background responses and a few refusals, with the collector off, and what a collection then
finds must hold nothing of the gateway's.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

import wirebridge
from tests.support import fake_anthropic, fake_chat, fake_responses
from tests.support.loopback import LoopbackServer
from wirebridge.config.errors import Where
from wirebridge.config.load import config_from_tree
from wirebridge.http.app import create_app
from wirebridge.observe import memory

_OURS = str(Path(wirebridge.__file__).parent)
_TOOL = {"name": "get_weather", "description": "Weather.", "parameters": {"type": "object"}}

# (path, body) for each HTTP front door, each sent as JSON and as a stream
_DOORS: list[tuple[str, dict[str, Any]]] = [
    (
        "/v1/messages",
        {
            "model": "fake-model",
            "max_tokens": 100,
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [
                {
                    "name": "get_weather",
                    "description": "Weather.",
                    "input_schema": {"type": "object"},
                }
            ],
        },
    ),
    (
        "/v1/responses",
        {"model": "fake-model", "input": "hi", "tools": [{"type": "function", **_TOOL}]},
    ),
    (
        "/v1/responses",
        {
            "model": "fake-model",
            "input": "hi",
            "store": False,
            "tools": [{"type": "function", **_TOOL}],
        },
    ),
    (
        "/v1/chat/completions",
        {
            "model": "fake-model",
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"type": "function", "function": _TOOL}],
        },
    ),
]

# each upstream kind: its fake, its provider config, and one scripted answer
_UPSTREAMS: dict[str, tuple[Callable[[], Any], Callable[[Any], dict[str, Any]], Callable[[], Any]]]
_UPSTREAMS = {
    "chat": (
        fake_chat.FakeChat,
        lambda fake: {"base_url": fake.base_url, "api_key": "sk-up", "profile": "deepseek"},
        lambda: fake_chat.Reply.text("Hello there", chunk_size=3),
    ),
    "responses": (
        fake_responses.FakeResponses,
        lambda fake: {"api": "responses", "base_url": fake.base_url, "api_key": "sk-up"},
        lambda: fake_responses.Reply.text("Hello there"),
    ),
    "messages": (
        fake_anthropic.FakeAnthropic,
        lambda fake: {
            "api": "messages",
            "base_url": fake.base_url,
            "api_key": "sk-ant-upstream-test",
        },
        lambda: fake_anthropic.Reply.text("Hello there"),
    ),
}


@pytest.fixture(scope="module", params=sorted(_UPSTREAMS))
def upstream(request: pytest.FixtureRequest) -> Iterator[tuple[str, Any]]:
    fake: LoopbackServer = _UPSTREAMS[request.param][0]().start()
    try:
        yield request.param, fake
    finally:
        fake.close()


def _ours(obj: object) -> str | None:
    """What ``obj`` is, when it is the gateway's: an instance of one of its classes, or a frame,
    coroutine or generator running its code."""
    module = getattr(type(obj), "__module__", "") or ""
    if module.startswith("wirebridge."):
        return type(obj).__qualname__
    code = getattr(obj, "f_code", None) or getattr(obj, "cr_code", None)
    code = code or getattr(obj, "ag_code", None) or getattr(obj, "gi_code", None)
    if code is not None and code.co_filename.startswith(_OURS):
        return f"{type(obj).__name__} {code.co_name}"
    return None


async def _drive(http: TestClient[Any, Any], script: Callable[[], None]) -> None:
    for path, body in _DOORS:
        for stream in (False, True):
            script()
            await _ok(await http.post(path, json={**body, "stream": stream}))
    script()
    async with http.ws_connect("/v1/responses") as ws:
        await ws.send_str(orjson.dumps({"type": "response.create", **_DOORS[1][1]}).decode())
        while orjson.loads(await ws.receive_str(timeout=10))["type"] != "response.completed":
            pass
    await _settled()  # the server's side of the socket has finished too
    await _drive_stored(http, script)
    # refusals: an unknown model, a body that is not JSON
    await http.post("/v1/responses", json={"model": "nope", "input": "x"})
    await http.post("/v1/messages", data=b"{not json")


async def _drive_stored(http: TestClient[Any, Any], script: Callable[[], None]) -> None:
    """Chained turns, stored responses read back, background mode, a deletion."""
    body = {"model": "fake-model", "input": "hi"}
    script()
    first = await _ok(await http.post("/v1/responses", json=body))
    stored = f"/v1/responses/{first['id']}"
    for stream in (False, True):
        script()
        turn = {**body, "previous_response_id": first["id"], "stream": stream}
        await _ok(await http.post("/v1/responses", json=turn))
    await _ok(await http.get(stored))
    await _ok(await http.get(f"{stored}/input_items"))
    script()
    queued = await _ok(await http.post("/v1/responses", json={**body, "background": True}))
    await _ok(await http.get(f"/v1/responses/{queued['id']}?stream=true"))  # to its end
    await _ok(await http.delete(stored))


async def _settled() -> None:
    """Every request's handler has returned, and its connection had time to close."""
    for _ in range(500):
        if memory.RELEASER.in_flight == 0:
            await asyncio.sleep(0.05)
            return
        await asyncio.sleep(0.01)
    raise AssertionError("requests still in flight after 5 s")


async def _ok(resp: Any) -> Any:
    text = await resp.text()
    assert resp.status == 200, text
    return orjson.loads(text) if resp.content_type == "application/json" else None


async def test_no_request_leaves_a_cycle_behind(upstream: tuple[str, Any], tmp_path: Path) -> None:
    kind, fake = upstream
    _, provider, reply = _UPSTREAMS[kind]
    cfg = {
        "server": {"request_timeout": 30, "secret_key": "test-secret"},
        "store": {"backend": "sqlite", "path": str(tmp_path / "store.db")},
        "providers": {"up": {**provider(fake), "retries": 0}},
        "models": [{"model": "fake-model", "provider": "up", "downstream_model": "up-model"}],
    }
    config = config_from_tree(cfg, Where("test"), base_dir=tmp_path, source="test")
    fake.reset()
    async with TestClient(TestServer(create_app(config))) as http:
        await _drive(http, lambda: fake.script(reply()))  # first calls: caches, pools, imports
        gc.collect()
        gc.disable()
        try:
            await _drive(http, lambda: fake.script(reply()))
            await _settled()
            gc.set_debug(gc.DEBUG_SAVEALL)
            gc.collect()
            found = sorted({what for obj in gc.garbage if (what := _ours(obj))})
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()
    assert found == [], f"left in cycles: {found}"
