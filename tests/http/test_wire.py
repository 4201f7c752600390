"""JSON answers: the body handed to aiohttp is as long as it needs to be."""

from __future__ import annotations

import tracemalloc

import orjson

from tests.support.tracemem import tracing
from wirebridge.http.wire import json_response


def test_a_json_answer_does_not_keep_orjsons_spare_room() -> None:
    # regression: the body was orjson's own buffer, which it never shrinks (a 10 KB Response in
    # a 32 KB allocation), alive until the client had read it: 64 Codex CLI turns in flight
    # took the gateway past 80 MB
    obj = {"id": "resp_1", "instructions": "Be brief. " * 3600}  # a 36 KB body
    with tracing():
        resp = json_response(obj)
        snap = tracemalloc.take_snapshot()
    assert isinstance(resp.body, bytes) and orjson.loads(resp.body) == obj
    largest = max(trace.size for trace in snap.traces)
    assert largest < len(resp.body) + 1024, (largest, len(resp.body))
