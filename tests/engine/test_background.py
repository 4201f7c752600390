"""Streaming a background response whose run ended between its two last writes.

A run writes its final Response, then stores its terminal batch's events. A stream that finds
the Response final waits for the terminal event; when the run's instance died between the two
writes, the event never comes, and the stream ends with one made from the stored Response
instead of hanging or ending without it. The gateway runs in this process so the test can
leave the store as such a run would have (the SQLite store, as an instance shares it).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.support.gateway import default_config
from tests.support.validate import parse_sse
from wirebridge.config.errors import Where
from wirebridge.config.load import config_from_tree
from wirebridge.engine import background
from wirebridge.http.app import create_app
from wirebridge.http.keys import GATEWAY
from wirebridge.store import StoredResponse

RID = "resp_00000000000000000000000000000001"


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[TestClient]:
    cfg = default_config("http://127.0.0.1:9/v1", secret_key="k" * 32)
    cfg["store"] = {"backend": "sqlite", "path": str(tmp_path / "store.db")}
    config = config_from_tree(cfg, Where("test"), base_dir=tmp_path, source="test")
    async with TestClient(TestServer(create_app(config))) as client:
        yield client


def _response(status: str) -> dict[str, object]:
    return {"id": RID, "object": "response", "status": status, "background": True, "output": []}


async def test_a_terminal_event_that_never_comes_is_made_from_the_response(
    http: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(background, "TERMINAL_WAIT", 0.3)
    store = http.server.app[GATEWAY].state.store
    now = int(time.time())
    await store.put(StoredResponse(RID, "", _response("completed"), [], None, now, None))
    head = [("response.created", "queued"), ("response.in_progress", "in_progress")]
    for seq, (kind, status) in enumerate(head):
        ev = {"type": kind, "response": _response(status), "sequence_number": seq}
        await store.append_events(RID, [(seq, ev)])

    started = time.monotonic()
    r = await http.get(f"/v1/responses/{RID}", params={"stream": "true"})
    assert r.status == 200
    events, payloads = parse_sse(await r.read())
    waited = time.monotonic() - started
    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "response.completed",
    ]
    assert events[-1]["sequence_number"] == 2
    assert events[-1]["response"] == orjson.loads(orjson.dumps(_response("completed")))
    assert payloads[-1] == "[DONE]"
    assert 0.3 <= waited < 5, waited  # it waited for the event, but not for ever
