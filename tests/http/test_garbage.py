"""No front door leaves reference cycles behind a request.

Whatever a finished request held must be freed by reference counting as it ends. Objects left in
a cycle wait for the collector, which ``serve`` runs rarely (``observe/memory.py``): with a
Claude Code turn in each, 64 streams once held 160 MB that way. Every front door is driven here,
JSON and SSE, with the collector off, and what a collection then finds must hold nothing of
the gateway's.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

import wirebridge
from tests.support.fake_chat import FakeChat, Reply
from tests.support.gateway import default_config
from wirebridge.config.errors import Where
from wirebridge.config.load import config_from_tree
from wirebridge.http.app import create_app

_OURS = str(Path(wirebridge.__file__).parent)
_TOOL = {"name": "get_weather", "description": "Weather.", "parameters": {"type": "object"}}

# (path, body) for each front door, each sent as JSON and as a stream
_DOORS: list[tuple[str, dict[str, Any]]] = [
    (
        "/v1/messages",
        {
            "model": "fake-model",
            "max_tokens": 100,
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [
                {
                    "name": _TOOL["name"],
                    "description": _TOOL["description"],
                    "input_schema": _TOOL["parameters"],
                }
            ],
        },
    ),
    (
        "/v1/responses",
        {
            "model": "fake-model",
            "input": "hi",
            "store": True,
            "tools": [{"type": "function", **_TOOL}],
        },
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


async def _drive(http: TestClient[Any, Any], fake: FakeChat) -> None:
    for path, body in _DOORS:
        for stream in (False, True):
            fake.script(Reply.text("Hello there", chunk_size=3))
            resp = await http.post(path, json={**body, "stream": stream})
            text = await resp.text()
            assert resp.status == 200, text


async def test_no_request_leaves_a_cycle_behind(fake_chat: FakeChat, tmp_path: Path) -> None:
    cfg = default_config(fake_chat.base_url)
    cfg["server"]["secret_key"] = "test-secret"
    cfg["store"] = {"backend": "memory"}
    config = config_from_tree(cfg, Where("test"), base_dir=tmp_path, source="test")
    async with TestClient(TestServer(create_app(config))) as http:
        await _drive(http, fake_chat)  # first calls: caches, pools, lazy imports
        gc.collect()
        gc.disable()
        try:
            await _drive(http, fake_chat)
            gc.set_debug(gc.DEBUG_SAVEALL)
            gc.collect()
            found = sorted({what for obj in gc.garbage if (what := _ours(obj))})
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()
    assert found == [], f"left in cycles: {found}"
