"""The request-id middleware in an app of its own: ids on every response, whatever answered."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from wirebridge.observe import context, middleware
from wirebridge.observe.context import RequestContext
from wirebridge.observe.middleware import (
    front_door,
    new_request_id,
    request_id,
    sanitize_request_id,
)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, None),
        ("", None),
        ("abc-123", "abc-123"),
        ("0f8fad5b-d9cb-469f-a165-70867728950e", "0f8fad5b-d9cb-469f-a165-70867728950e"),
        ("trace:span/1+2=3@host_x.y", "trace:span/1+2=3@host_x.y"),
        ("a b\tc", "abc"),
        ("line\r\nInjected: header", "lineInjected:header"),
        ("<script>", "script"),
        ("ünïcødé-1", "ncd-1"),
        ("x" * 200, "x" * 128),
        ("é" * 10, None),
        ('"; DROP', "DROP"),
    ],
)
def test_sanitize(given: str | None, expected: str | None) -> None:
    assert sanitize_request_id(given) == expected


def test_request_id_prefers_x_request_id_then_correlation_id() -> None:
    assert request_id({"x-request-id": "a", "x-correlation-id": "b"}) == "a"
    assert request_id({"x-correlation-id": "b"}) == "b"
    assert request_id({"x-request-id": "%%%", "x-correlation-id": "b"}) == "b"
    generated = request_id({})
    assert generated.startswith("req_") and len(generated) == 24


def test_generated_ids_are_unique() -> None:
    ids = {new_request_id() for _ in range(10_000)}
    assert len(ids) == 10_000


@pytest.mark.parametrize(
    ("method", "path", "door"),
    [
        ("POST", "/v1/responses", "responses"),
        ("POST", "/responses", "responses"),
        ("GET", "/v1/responses", "websocket"),
        ("POST", "/v1/chat/completions", "chat"),
        ("POST", "/chat/completions", "chat"),
        ("POST", "/v1/messages", "messages"),
        ("POST", "/anthropic/v1/messages", "messages"),
        ("POST", "/v1/messages/count_tokens", "other"),
        ("GET", "/v1/responses/resp_1", "other"),
        ("POST", "/v1/responses/compact", "other"),
        ("GET", "/v1/models", "other"),
        ("GET", "/nope", "other"),
    ],
)
def test_front_door(method: str, path: str, door: str) -> None:
    assert front_door(method, path) == door


# -- in an app -----------------------------------------------------------------------------------


@web.middleware
async def auth_like(request: web.Request, handler):  # type: ignore[no-untyped-def]
    if request.headers.get("authorization") != "Bearer good":
        return web.json_response({"error": "no"}, status=401)
    return await handler(request)


async def ok(request: web.Request) -> web.Response:
    seen = context.current()
    return web.json_response({"id": seen.request_id, "same": request[middleware.CTX] is seen})


async def stream(request: web.Request) -> web.StreamResponse:
    out = web.StreamResponse()
    await out.prepare(request)
    await out.write(b"data: 1\n\n")
    return out


async def boom(request: web.Request) -> web.Response:
    raise RuntimeError("unhandled")


async def raises_http(request: web.Request) -> web.Response:
    raise web.HTTPConflict(text="conflict")


@pytest.fixture
async def client() -> AsyncIterator[TestClient]:
    app = web.Application(middlewares=[auth_like], client_max_size=1024)
    app.router.add_get("/ok", ok)
    app.router.add_post("/ok", ok)
    app.router.add_get("/stream", stream)
    app.router.add_get("/boom", boom)
    app.router.add_get("/conflict", raises_http)
    app.on_response_prepare.append(middleware.set_request_id)
    app.middlewares.insert(0, middleware.request_middleware)  # as create_app does: outermost
    async with TestClient(TestServer(app)) as c:
        yield c


AUTH = {"authorization": "Bearer good"}


async def test_every_kind_of_response_carries_an_id(client: TestClient) -> None:
    cases = [
        ("GET", "/ok", AUTH, 200),
        ("GET", "/ok", {}, 401),  # answered by an inner middleware
        ("GET", "/missing", AUTH, 404),
        ("DELETE", "/ok", AUTH, 405),
        ("POST", "/ok", AUTH, 200),
        ("GET", "/stream", AUTH, 200),
        ("GET", "/conflict", AUTH, 409),
        ("GET", "/boom", AUTH, 500),
    ]
    seen = set()
    for method, path, headers, status in cases:
        resp = await client.request(method, path, headers=headers)
        await resp.read()
        assert resp.status == status, (method, path)
        rid = resp.headers.get("x-request-id")
        assert rid and rid.startswith("req_"), (method, path, rid)
        seen.add(rid)
    assert len(seen) == len(cases)


async def test_caller_ids_are_echoed_and_sanitised(client: TestClient) -> None:
    resp = await client.get("/ok", headers={**AUTH, "x-request-id": "abc-1"})
    assert resp.headers["x-request-id"] == "abc-1"
    assert await resp.json() == {"id": "abc-1", "same": True}
    resp = await client.get("/ok", headers={"x-correlation-id": "corr 9"})
    assert resp.status == 401 and resp.headers["x-request-id"] == "corr9"
    resp = await client.get("/stream", headers={**AUTH, "x-request-id": "s" * 300})
    assert resp.headers["x-request-id"] == "s" * 128


async def test_too_large_body_gets_an_id(client: TestClient) -> None:
    resp = await client.post("/ok", headers={**AUTH, "x-request-id": "big"}, data=b"x" * 4096)
    # the handler never reads the body here; aiohttp refuses it when it is read
    assert resp.headers["x-request-id"] == "big"


async def test_one_summary_line_per_request(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="wirebridge.request"):
        await (await client.get("/ok", headers={**AUTH, "x-request-id": "sum-1"})).read()
        await (await client.get("/stream", headers={**AUTH, "x-request-id": "sum-2"})).read()
    lines = [r.getMessage() for r in caplog.records if r.name == "wirebridge.request"]
    assert len(lines) == 2
    assert lines[0].startswith("other GET /ok ") and " status=200 " in lines[0]
    assert lines[1].startswith("other GET /stream ")


async def test_the_record_is_gone_after_the_request(client: TestClient) -> None:
    await (await client.get("/ok", headers=AUTH)).read()
    assert context.current() is context.NO_REQUEST
    assert isinstance(context.current(), RequestContext)
