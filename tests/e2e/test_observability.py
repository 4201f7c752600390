"""Request ids, logs, metrics, readiness and the model list cache, against a real gateway process.

* Every response carries ``x-request-id`` — JSON, SSE, WebSocket upgrades, 400, 404, 405, 413,
  401 when client keys are on — and a caller's id is echoed.
* With ``log_level: debug`` and ``log_bodies: true``, every log line a request causes carries its
  id, the summary line has the numbers, and no key (upstream or client) reaches the log.
* ``/metrics/prometheus`` parses, and counts exactly the requests made (by front door and
  status, probes excluded) and the tokens the fake upstream reported; ``/metrics`` has the same
  numbers as JSON.
* ``/ready``: 200 with the store up; 503 naming the store once its Redis server is gone, and
  naming the provider whose ChatGPT sign-in file is missing.
* ``/v1/models`` is cached; ``?refresh=true`` asks the providers again.
"""

from __future__ import annotations

import gzip
import json
import re
import socket
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.sync.client import connect

from tests.support.fake_chat import FakeChat, Reply, chat_usage
from tests.support.gateway import Gateway, default_config
from tests.support.servers import ServerUnavailable, start_redis

MODEL = "fake-model"
UPSTREAM_KEY = "sk-upstream-test"  # default_config's provider key
CLIENT_KEY = "sk-client-observability-0123"
BODY_KEY = "wb-body-secret-987654"
MAX_BODY = 64 * 1024


@pytest.fixture(scope="module")
def obs_gateway(
    fake_chat_server: FakeChat, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    config = default_config(
        fake_chat_server.base_url, log_level="debug", log_bodies=True, max_body_bytes=MAX_BODY
    )
    gw = Gateway.start(config, tmp_path_factory.mktemp("observability"))
    try:
        yield gw
    finally:
        gw.stop()


def _post(gw: Gateway, path: str, body: Any = None, **kw: Any) -> httpx2.Response:
    if body is not None and not isinstance(body, bytes):
        kw["json"] = body
    elif body is not None:
        kw["content"] = body
    return httpx2.post(gw.url(path), timeout=30, **kw)


def _chat(stream: bool = False, content: str = "hi") -> dict[str, Any]:
    body: dict[str, Any] = {"model": MODEL, "messages": [{"role": "user", "content": content}]}
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    return body


# -- x-request-id on everything ------------------------------------------------------------------


def test_every_response_carries_a_request_id(fake_chat: FakeChat, obs_gateway: Gateway) -> None:
    gw = obs_gateway
    fake_chat.script(Reply.text("one"), Reply.text("two", chunk_size=1))
    responses = {
        "chat 200": _post(gw, "/v1/chat/completions", _chat()),
        "responses SSE 200": _post(
            gw, "/v1/responses", {"model": MODEL, "input": "hi", "stream": True}
        ),
        "bad JSON 400": _post(gw, "/v1/chat/completions", b"{not json"),
        "messages 400": _post(gw, "/v1/messages", {"model": MODEL, "messages": []}),
        "no route 404": httpx2.get(gw.url("/nope"), timeout=10),
        "unknown model 404": _post(gw, "/v1/responses", {"model": "no-such-model", "input": "x"}),
        "method 405": httpx2.put(gw.url("/v1/chat/completions"), timeout=10),
        "too large 413": _post(gw, "/v1/responses", b"x" * (MAX_BODY + 1)),
        "health": httpx2.get(gw.url("/health"), timeout=10),
        "ready": httpx2.get(gw.url("/ready"), timeout=10),
        "metrics": httpx2.get(gw.url("/metrics"), timeout=10),
    }
    statuses = {name: r.status_code for name, r in responses.items()}
    assert statuses == {
        "chat 200": 200,
        "responses SSE 200": 200,
        "bad JSON 400": 400,
        "messages 400": 400,
        "no route 404": 404,
        "unknown model 404": 404,
        "method 405": 405,
        "too large 413": 413,
        "health": 200,
        "ready": 200,
        "metrics": 200,
    }
    assert responses["responses SSE 200"].headers["content-type"].startswith("text/event-stream")
    ids = {name: r.headers.get("x-request-id") for name, r in responses.items()}
    assert all(ids.values()), ids
    assert len(set(ids.values())) == len(ids), "ids must differ between requests"
    with connect(gw.url("/v1/responses").replace("http", "ws", 1)) as ws:
        assert ws.response is not None
        assert ws.response.headers.get("x-request-id")


def test_the_callers_id_is_echoed(fake_chat: FakeChat, obs_gateway: Gateway) -> None:
    fake_chat.script(Reply.text("ok", chunk_size=1))
    r = _post(
        obs_gateway, "/v1/chat/completions", _chat(stream=True), headers={"x-request-id": "c-1"}
    )
    assert r.headers["x-request-id"] == "c-1"
    r = httpx2.get(obs_gateway.url("/nope"), headers={"x-correlation-id": "corr-2"}, timeout=10)
    assert r.headers["x-request-id"] == "corr-2"
    r = httpx2.get(obs_gateway.url("/nope"), headers={"x-request-id": "a b\tc" + "z" * 200})
    assert r.headers["x-request-id"] == ("abc" + "z" * 200)[:128]
    url = obs_gateway.url("/v1/responses").replace("http", "ws", 1)
    with connect(url, additional_headers={"x-request-id": "ws-3"}) as ws:
        assert ws.response is not None and ws.response.headers["x-request-id"] == "ws-3"


def test_401_carries_an_id_when_client_keys_are_on(
    fake_chat_server: FakeChat, start_gateway: Any
) -> None:
    config = default_config(fake_chat_server.base_url, api_keys=["wb-the-only-client-key-1"])
    gw: Gateway = start_gateway(config)
    r = _post(gw, "/v1/responses", {"model": MODEL, "input": "hi"}, headers={"x-request-id": "k"})
    assert r.status_code == 401
    assert r.headers["x-request-id"] == "k"
    r = _post(gw, "/v1/messages", {"model": MODEL, "max_tokens": 5, "messages": []})
    assert r.status_code == 401 and r.headers.get("x-request-id")


# -- the log -------------------------------------------------------------------------------------

_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (\w+) (\S+) \[([^\]]*)\] (.*)$")


def _lines(text: str) -> list[tuple[str, str, str, str]]:
    """(level, logger, request id, message) of each log line; tracebacks are folded away."""
    out = []
    for raw in text.splitlines():
        m = _LINE.match(raw)
        if m:
            out.append((m[1], m[2], m[3], m[4]))
    return out


def test_every_log_line_of_a_request_carries_its_id(
    fake_chat: FakeChat, obs_gateway: Gateway
) -> None:
    gw = obs_gateway
    rid = f"obs-{uuid.uuid4().hex[:12]}"
    fake_chat.script(Reply.text("hello there", usage=chat_usage(21, 8)))
    mark = gw.log_size()
    body = {
        "model": MODEL,
        "input": f"remember {BODY_KEY}",
        "metadata": {"note": "n"},
        "user": "someone",
    }
    headers = {"x-request-id": rid, "authorization": f"Bearer {CLIENT_KEY}"}
    r = _post(gw, "/v1/responses", body, headers=headers)
    assert r.status_code == 200 and r.headers["x-request-id"] == rid
    text = gw.log_text(since=mark)
    lines = _lines(text)
    assert lines, text

    # Every line written while the request ran is the request's, and says so.
    assert {req_id for _, _, req_id, _ in lines} == {rid}, text
    summary = [
        msg for lvl, logger, _, msg in lines if lvl == "INFO" and logger == "wirebridge.request"
    ]
    assert len(summary) == 1, text
    assert summary[0].startswith("responses POST /v1/responses model=fake-model provider=fake ")
    for part in ("status=200", "tokens_in=21", "tokens_out=8", "stream=false"):
        assert part in summary[0]
    assert re.search(r"latency_ms=\d+\.\d ttft_ms=\d+\.\d", summary[0])

    # Bodies, at debug, redacted.
    debug = [msg for lvl, _, _, msg in lines if lvl == "DEBUG"]
    request_line = next(m for m in debug if m.startswith("request POST /v1/responses"))
    response_line = next(m for m in debug if m.startswith("response 200"))
    assert "remember wb-[REDACTED]" in request_line
    assert '"Authorization":"Bearer [REDACTED]"' in request_line
    assert "hello there" in response_line
    for secret in (UPSTREAM_KEY, CLIENT_KEY, BODY_KEY):
        assert secret not in text


def test_a_compressed_body_is_logged_decoded_and_still_served(
    fake_chat: FakeChat, obs_gateway: Gateway
) -> None:
    gw = obs_gateway
    fake_chat.script(Reply.text("inflated"))
    mark = gw.log_size()
    body = gzip.compress(orjson.dumps({"model": MODEL, "input": f"remember {BODY_KEY}"}))
    headers = {
        "authorization": f"Bearer {CLIENT_KEY}",
        "content-type": "application/json",
        "content-encoding": "gzip",
    }
    r = _post(gw, "/v1/responses", body, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["output"][0]["content"][0]["text"] == "inflated"
    debug = [msg for lvl, _, _, msg in _lines(gw.log_text(since=mark)) if lvl == "DEBUG"]
    request_line = next(m for m in debug if m.startswith("request POST /v1/responses"))
    assert "remember wb-[REDACTED]" in request_line, request_line

    mark = gw.log_size()
    r = _post(gw, "/v1/responses", b"not gzip", headers=headers)
    assert r.status_code == 400 and "not valid gzip" in r.json()["error"]["message"], r.text
    debug = [msg for lvl, _, _, msg in _lines(gw.log_text(since=mark)) if lvl == "DEBUG"]
    request_line = next(m for m in debug if m.startswith("request POST /v1/responses"))
    assert "(not logged: The request body is not valid gzip data" in request_line, request_line


def test_a_request_that_is_not_http_is_one_warning_line(obs_gateway: Gateway) -> None:
    gw = obs_gateway
    mark = gw.log_size()
    host, port = gw.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(
            b"POST /v1/responses HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"2\r\n{}\r\nzz\r\n"  # a chunk size that is not hex
        )
        assert s.recv(4096).startswith(b"HTTP/1.0 400"), "aiohttp answers broken framing"
    text = ""
    for _ in range(50):  # the line is written as the connection closes
        text = gw.log_text(since=mark)
        if "Invalid character in chunk size" in text:
            break
        time.sleep(0.05)
    assert "Traceback" not in text, text
    (line,) = [ln for ln in text.splitlines() if "Error handling request" in ln]
    assert " WARNING " in line and "Invalid character in chunk size" in line, line


def test_json_log_lines_carry_the_id_and_the_summary_fields(
    fake_chat: FakeChat, fake_chat_server: FakeChat, start_gateway: Any
) -> None:
    config = default_config(fake_chat_server.base_url, log_format="json")
    gw: Gateway = start_gateway(config)
    fake_chat.script(Reply.text("hi", usage=chat_usage(4, 2)))
    r = _post(gw, "/v1/chat/completions", _chat(), headers={"x-request-id": "json-1"})
    assert r.status_code == 200
    records = [json.loads(line) for line in gw.log_text().splitlines() if line.startswith("{")]
    assert records and all(
        {"time", "level", "logger", "message", "request_id"} <= set(x) for x in records
    )
    (summary,) = [x for x in records if x["request_id"] == "json-1"]
    assert summary["logger"] == "wirebridge.request" and summary["level"] == "info"
    assert summary["front_door"] == "chat" and summary["model"] == MODEL
    assert summary["provider"] == "fake" and summary["status"] == 200
    assert summary["tokens_in"] == 4 and summary["tokens_out"] == 2
    assert summary["latency_ms"] >= summary["ttft_ms"] > 0


def test_a_stream_is_summed_up_when_it_ends(fake_chat: FakeChat, obs_gateway: Gateway) -> None:
    gw = obs_gateway
    fake_chat.script(Reply.text("abcdef", chunk_size=1, delay=0.02, usage=chat_usage(5, 6)))
    mark = gw.log_size()
    r = _post(gw, "/v1/chat/completions", _chat(stream=True), headers={"x-request-id": "s-1"})
    assert r.status_code == 200
    # The stream's last bytes end the body, and the summary is logged as the handler returns:
    # a client reading the log at once may be a moment early.
    deadline = time.monotonic() + 5
    while True:
        lines = _lines(gw.log_text(since=mark))
        summaries = [m for lvl, lg, _, m in lines if lg == "wirebridge.request" and lvl == "INFO"]
        if summaries or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    (summary,) = summaries
    assert summary.startswith("chat POST /v1/chat/completions ")
    assert "stream=true" in summary and "tokens_out=6" in summary
    latency = float(re.search(r"latency_ms=([\d.]+)", summary)[1])  # type: ignore[index]
    ttft = float(re.search(r"ttft_ms=([\d.]+)", summary)[1])  # type: ignore[index]
    assert ttft < latency and latency >= 100  # six chunks 20 ms apart: timed to the end
    streamed = [m for lvl, _, rid, m in lines if m.startswith("streamed response:")]
    assert streamed and all(rid == "s-1" for _, _, rid, _ in lines)


def test_each_websocket_turn_is_a_request_of_its_own(
    fake_chat: FakeChat, fake_chat_server: FakeChat, start_gateway: Any
) -> None:
    gw: Gateway = start_gateway(default_config(fake_chat_server.base_url))
    fake_chat.script(Reply.text("one", usage=chat_usage(3, 1)), Reply.text("two"))
    url = gw.url("/v1/responses").replace("http", "ws", 1)
    with connect(url, additional_headers={"x-request-id": "conn-7"}) as ws:
        for n in range(3):
            model = MODEL if n < 2 else "no-such-model"
            ws.send(json.dumps({"type": "response.create", "model": model, "input": "hi"}))
            while True:
                ev = json.loads(ws.recv(timeout=10))
                if ev["type"] in ("response.completed", "response.failed", "error"):
                    break
        assert ev["type"] == "error" and ev["status"] == 404
    deadline = time.monotonic() + 5  # the connection's own line comes once the socket is closed
    while "closed after" not in gw.log_text() and time.monotonic() < deadline:
        time.sleep(0.02)
    lines = _lines(gw.log_text())
    summaries = {rid: m for _, lg, rid, m in lines if lg == "wirebridge.request"}
    assert summaries["conn-7:1"].startswith("websocket WS /v1/responses model=fake-model ")
    assert "tokens_in=3" in summaries["conn-7:1"] and "stream=true" in summaries["conn-7:1"]
    assert "status=404" in summaries["conn-7:3"]
    assert summaries["conn-7"].startswith("websocket /v1/responses closed after 3 turns")
    counted = {
        (s.labels["front_door"], s.labels["status"]): s.value
        for s in _scrape(gw)["wirebridge_requests"]
        if s.name == "wirebridge_requests_total"
    }
    assert counted == {("websocket", "200"): 2.0, ("websocket", "404"): 1.0}


# -- metrics -------------------------------------------------------------------------------------


def _scrape(gw: Gateway) -> dict[str, list[Any]]:
    r = httpx2.get(gw.url("/metrics/prometheus"), timeout=10)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    return {f.name: f.samples for f in text_string_to_metric_families(r.text)}


def test_prometheus_counts_every_request_and_token(
    fake_chat: FakeChat, fake_chat_server: FakeChat, start_gateway: Any
) -> None:
    gw: Gateway = start_gateway(default_config(fake_chat_server.base_url))
    fake_chat.script(
        Reply.text("a", usage=chat_usage(10, 1)),
        Reply.text("b", usage=chat_usage(20, 2)),
        Reply.text("ccc", chunk_size=1, usage=chat_usage(30, 3)),
        Reply.text("d", usage=chat_usage(40, 4)),
        Reply.text("eee", chunk_size=1, usage=chat_usage(50, 5)),
        Reply.text("f", usage=chat_usage(60, 6)),
    )
    made = Counter[tuple[str, str]]()

    def call(door: str, status: int, path: str, body: Any) -> None:
        r = _post(gw, path, body)
        assert r.status_code == status, r.text
        made[(door, str(status))] += 1

    call("chat", 200, "/v1/chat/completions", _chat())
    call("chat", 200, "/v1/chat/completions", _chat())
    call("chat", 200, "/v1/chat/completions", _chat(stream=True))
    call("responses", 200, "/v1/responses", {"model": MODEL, "input": "x"})
    call("responses", 200, "/v1/responses", {"model": MODEL, "input": "x", "stream": True})
    call(
        "messages",
        200,
        "/v1/messages",
        {"model": MODEL, "max_tokens": 9, "messages": [{"role": "user", "content": "x"}]},
    )
    call("responses", 404, "/v1/responses", {"model": "no-such-model", "input": "x"})
    call("chat", 404, "/v1/chat/completions", {**_chat(), "model": "no-such-model"})
    call("chat", 400, "/v1/chat/completions", b"[")
    r = httpx2.get(gw.url("/nope"), timeout=10)
    assert r.status_code == 404
    made[("other", "404")] += 1
    httpx2.get(gw.url("/health"), timeout=10)  # probes are not counted
    httpx2.get(gw.url("/metrics"), timeout=10)

    families = _scrape(gw)
    counted = Counter[tuple[str, str]]()
    for s in families["wirebridge_requests"]:
        if s.name == "wirebridge_requests_total":
            counted[(s.labels["front_door"], s.labels["status"])] += int(s.value)
    assert counted == made

    by_model = Counter[tuple[str, str, str]]()
    for s in families["wirebridge_requests"]:
        if s.name == "wirebridge_requests_total":
            by_model[(s.labels["model"], s.labels["provider"], s.labels["status"])] += int(s.value)
    assert by_model[(MODEL, "fake", "200")] == 6
    assert by_model[("other", "none", "404")] == 2  # unknown model names are not labels

    tokens = {
        (s.labels["direction"], s.labels["model"]): s.value
        for s in families["wirebridge_tokens"]
        if s.name == "wirebridge_tokens_total"
    }
    assert tokens == {("in", MODEL): 210.0, ("out", MODEL): 21.0}

    ttft = {
        s.labels["front_door"]: s.value
        for s in families["wirebridge_time_to_first_token_seconds"]
        if s.name.endswith("_count")
    }
    assert ttft == {"chat": 1.0, "responses": 1.0}  # the streamed turns
    durations = {
        s.labels["front_door"]: s.value
        for s in families["wirebridge_request_duration_seconds"]
        if s.name.endswith("_count")
    }
    assert durations == {"chat": 5.0, "responses": 3.0, "messages": 1.0, "other": 1.0}
    in_flight = [s.value for s in families["wirebridge_streams_in_flight"]]
    assert in_flight and all(v == 0 for v in in_flight)

    doc = httpx2.get(gw.url("/metrics"), timeout=10).json()
    json_counted = Counter[tuple[str, str]]()
    for s in doc["wirebridge_requests"]["samples"]:
        if s["name"] == "wirebridge_requests_total":
            json_counted[(s["labels"]["front_door"], s["labels"]["status"])] += int(s["value"])
    assert json_counted == made


def test_upstream_errors_and_retries_are_counted(
    fake_chat: FakeChat, fake_chat_server: FakeChat, start_gateway: Any
) -> None:
    config = default_config(fake_chat_server.base_url)
    config["providers"]["fake"]["retries"] = 1
    gw: Gateway = start_gateway(config)
    fake_chat.script(Reply.error(503, headers={"Retry-After": "0"}), Reply.text("second"))
    r = _post(gw, "/v1/chat/completions", _chat())
    assert r.status_code == 200
    fake_chat.script(Reply.error(400))
    assert _post(gw, "/v1/chat/completions", _chat()).status_code == 400
    families = _scrape(gw)
    errors = {
        (s.labels["provider"], s.labels["status"]): s.value
        for s in families["wirebridge_upstream_errors"]
        if s.name == "wirebridge_upstream_errors_total"
    }
    assert errors == {("fake", "503"): 1.0, ("fake", "400"): 1.0}
    retries = [
        (s.labels["provider"], s.value)
        for s in families["wirebridge_upstream_retries"]
        if s.name == "wirebridge_upstream_retries_total"
    ]
    assert retries == [("fake", 1.0)]


# -- readiness -----------------------------------------------------------------------------------


def test_ready_with_the_default_store(obs_gateway: Gateway) -> None:
    r = httpx2.get(obs_gateway.url("/ready"), timeout=10)
    assert r.status_code == 200
    assert r.json() == {"status": "ready"}


def test_ready_is_503_when_the_redis_store_goes_away(
    fake_chat_server: FakeChat, start_gateway: Any, tmp_path: Path
) -> None:
    try:
        url, stop_redis = start_redis(tmp_path / "redis")
    except ServerUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        config = default_config(fake_chat_server.base_url)
        config["store"] = {"backend": "redis", "url": url}
        gw: Gateway = start_gateway(config)
        assert httpx2.get(gw.url("/ready"), timeout=10).json() == {"status": "ready"}
    finally:
        stop_redis()
    r = httpx2.get(gw.url("/ready"), timeout=20)
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "not_ready"
    assert set(body["failed"]) == {"store"}
    assert "redis" in body["failed"]["store"]
    assert httpx2.get(gw.url("/health"), timeout=10).status_code == 200  # alive, not ready


def test_ready_names_a_provider_whose_sign_in_is_missing(
    fake_chat_server: FakeChat, start_gateway: Any, tmp_path: Path
) -> None:
    auth_file = tmp_path / "auth.json"
    auth_file.write_text(
        json.dumps({"tokens": {"access_token": "not-a-jwt", "account_id": "acct-1"}})
    )
    config = default_config(fake_chat_server.base_url)
    config["providers"]["plan"] = {
        "api": "chatgpt",
        "base_url": fake_chat_server.base_url,
        "chatgpt": {"auth_file": str(auth_file)},
    }
    gw: Gateway = start_gateway(config)
    assert httpx2.get(gw.url("/ready"), timeout=10).status_code == 200
    auth_file.unlink()
    r = httpx2.get(gw.url("/ready"), timeout=10)
    assert r.status_code == 503
    failed = r.json()["failed"]
    assert set(failed) == {"credentials"}
    assert "No ChatGPT sign-in" in failed["credentials"]["plan"]


# -- the model list cache ------------------------------------------------------------------------


def test_models_are_cached_until_refresh(
    fake_chat: FakeChat, fake_chat_server: FakeChat, start_gateway: Any
) -> None:
    gw: Gateway = start_gateway(default_config(fake_chat_server.base_url))

    def asked() -> int:
        return sum(1 for r in fake_chat.requests if r.path.endswith("/models"))

    def ids(query: str = "") -> list[str]:
        r = httpx2.get(gw.url("/v1/models" + query), timeout=10)
        assert r.status_code == 200 and r.headers.get("x-request-id")
        return [m["id"] for m in r.json()["data"]]

    first = ids()
    assert asked() == 1
    assert ids() == first
    assert ids("?refresh=false") == first
    assert asked() == 1  # served from the cache
    assert ids("?refresh=true") == first
    assert asked() == 2
    assert ids("?refresh=1") == first
    assert asked() == 3
    assert ids() == first
    assert asked() == 3
