"""Tracing: off without an endpoint; with one, a span per request and per upstream attempt."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from wirebridge.errors import UpstreamError
from wirebridge.observe import context, middleware, tracing


def test_off_without_an_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    assert tracing.endpoint(None) is None
    assert tracing.setup(None) is False
    assert tracing.TRACER is None


def test_endpoint_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://env:4318/")
    assert tracing.endpoint(None) == "http://env:4318/v1/traces"
    assert tracing.endpoint("http://cfg:4318") == "http://cfg:4318/v1/traces"
    assert tracing.endpoint("http://cfg:4318/v1/traces") == "http://cfg:4318/v1/traces"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:1/x")
    assert tracing.endpoint(None) == "http://t:1/x"


@pytest.fixture
def exporter() -> Iterator[Any]:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exp = InMemorySpanExporter()
    assert tracing.setup(None, exporter=exp)
    try:
        yield exp
    finally:
        tracing.shutdown()


ROUTE = SimpleNamespace(provider=SimpleNamespace(name="fake"), upstream_model="up-model")


async def handler(request: web.Request) -> web.Response:
    obs = context.current()
    obs.attempt(ROUTE)  # type: ignore[arg-type]
    obs.attempt_failed(ROUTE, UpstreamError.from_status(503, "busy"))  # type: ignore[arg-type]
    obs.retried("fake")
    obs.attempt(ROUTE)  # type: ignore[arg-type]
    turn = obs.answered("m", ROUTE, True)  # type: ignore[arg-type]
    turn.first_batch()
    turn.finished({"status": "completed", "usage": {"input_tokens": 3, "output_tokens": 4}})
    turn.close()
    return web.json_response({})


@pytest.fixture
async def client(exporter: Any) -> AsyncIterator[TestClient]:
    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    app.on_response_prepare.append(middleware.set_request_id)
    app.middlewares.insert(0, middleware.request_middleware)
    async with TestClient(TestServer(app)) as c:
        yield c


async def test_spans_for_the_request_and_each_upstream_attempt(
    client: TestClient, exporter: Any
) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    headers = {"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01", "x-request-id": "t-1"}
    resp = await client.post("/v1/chat/completions", headers=headers, data=b"{}")
    assert resp.status == 200
    spans = exporter.get_finished_spans()
    by_name: dict[str, list[Any]] = {}
    for span in spans:
        by_name.setdefault(span.name, []).append(span)
    (request_span,) = by_name["POST chat"]
    failed, ok = by_name["upstream fake"]
    assert format(request_span.context.trace_id, "032x") == trace_id  # continues the caller's
    assert request_span.attributes["wirebridge.request_id"] == "t-1"
    assert request_span.attributes["http.response.status_code"] == 200
    assert request_span.attributes["gen_ai.usage.output_tokens"] == 4
    assert request_span.attributes["gen_ai.response.model"] == "up-model"
    for child in (failed, ok):
        assert child.parent.span_id == request_span.context.span_id
    assert failed.status.is_ok is False and failed.attributes["http.response.status_code"] == 503
    assert ok.status.is_ok and ok.attributes["gen_ai.usage.input_tokens"] == 3
