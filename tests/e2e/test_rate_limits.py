"""Rate limits end to end: the Nth request of a limit of N passes and the next one is a 429 in
the caller's envelope with ``Retry-After`` and ``x-ratelimit-*`` headers; per key (config and a
managed key's own limits), per client address, tokens per minute from the fake upstream's
usage, and two gateway instances counting together in a real Redis."""

from __future__ import annotations

import concurrent.futures
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import orjson
import pytest

from tests.support.fake_chat import FakeChat, Reply, chat_usage
from tests.support.gateway import Gateway
from tests.support.servers import running, start_redis

MODEL = "fake-model"
RESPONSES = {"model": MODEL, "input": "hi"}
MESSAGES = {"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from running(start_redis, tmp_path_factory.mktemp("redis"))


def create_key(gw: Gateway, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREBRIDGE_")}
    env["WIREBRIDGE_HOME"] = str(gw.home)
    config = ("--config", str(gw.config_path))
    done = subprocess.run(
        [sys.executable, "-m", "wirebridge", "keys", "create", "--json", *args, *config],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    key: str = orjson.loads(done.stdout)["key"]
    return key


def limited(**limits: Any) -> dict[str, Any]:
    return {"rate_limits": limits}


def post(gw: Gateway, path: str, body: dict[str, Any], key: str | None = None) -> httpx2.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx2.post(gw.url(path), json=body, headers=headers, timeout=30)


def assert_refused(r: httpx2.Response, limit: int, kind: str = "requests") -> None:
    assert r.status_code == 429, r.text
    assert int(r.headers["Retry-After"]) >= 1
    assert r.headers[f"x-ratelimit-limit-{kind}"] == str(limit)
    assert r.headers[f"x-ratelimit-remaining-{kind}"] == "0"
    assert r.headers[f"x-ratelimit-reset-{kind}"].endswith("s")


def test_per_key_rpm_lets_exactly_n_requests_through(
    fake_chat: FakeChat, start_gateway: Any, gateway_config: Any
) -> None:
    gw: Gateway = start_gateway(
        gateway_config(api_keys=["sk-static"], **limited(per_key={"rpm": 3}))
    )
    fake_chat.script(*(Reply.text(f"answer {n}") for n in range(3)))
    for n in range(3):
        r = post(gw, "/v1/responses", RESPONSES, "sk-static")
        assert r.status_code == 200, r.text
        assert r.headers["x-ratelimit-limit-requests"] == "3"
        assert r.headers["x-ratelimit-remaining-requests"] == str(2 - n)
        assert r.headers["x-ratelimit-reset-requests"] in ("1m0s", "59s", "58s")
        assert "x-ratelimit-limit-tokens" not in r.headers
    r = post(gw, "/v1/responses", RESPONSES, "sk-static")
    assert_refused(r, 3)
    error = r.json()["error"]
    assert error["type"] == "rate_limit_error" and error["code"] == "rate_limit_exceeded"
    assert "3 requests per minute" in error["message"]
    # Anthropic's envelope on its own route; still no upstream call.
    r = post(gw, "/v1/messages", MESSAGES, "sk-static")
    assert_refused(r, 3)
    assert r.json()["type"] == "error" and r.json()["error"]["type"] == "rate_limit_error"
    assert len(fake_chat.chat_requests) == 3
    # Open routes are neither authenticated nor limited.
    assert httpx2.get(gw.url("/health"), timeout=10).status_code == 200


def test_a_managed_keys_own_limits_replace_per_key(
    fake_chat: FakeChat, start_gateway: Any, gateway_config: Any
) -> None:
    gw: Gateway = start_gateway(gateway_config(**limited(per_key={"rpm": 2})))
    own = create_key(gw, "--rpm", "4")
    unlimited = create_key(gw, "--rpm", "0")
    default = create_key(gw)
    models = gw.url("/v1/models")

    def statuses(key: str, n: int) -> list[int]:
        auth = {"Authorization": f"Bearer {key}"}
        return [httpx2.get(models, headers=auth, timeout=10).status_code for _ in range(n)]

    assert statuses(own, 5) == [200, 200, 200, 200, 429]
    assert statuses(default, 3) == [200, 200, 429]
    assert statuses(unlimited, 6) == [200] * 6  # other keys' counters are their own


def test_per_ip_limits_without_any_key(
    fake_chat: FakeChat, start_gateway: Any, gateway_config: Any
) -> None:
    gw: Gateway = start_gateway(gateway_config(**limited(per_ip={"rpm": 5, "rpd": 2})))
    fake_chat.script(Reply.text("one"), Reply.text("two"))
    first = post(gw, "/v1/responses", RESPONSES)
    assert first.status_code == 200
    # The tightest limit is the one reported: 2 a day, not 5 a minute.
    assert first.headers["x-ratelimit-limit-requests"] == "2"
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    assert first.headers["x-ratelimit-reset-requests"].startswith(("23h59m", "24h0m"))
    assert post(gw, "/v1/responses", RESPONSES).status_code == 200
    r = post(gw, "/v1/responses", RESPONSES)
    assert_refused(r, 2)
    assert "this client address" in r.json()["error"]["message"]
    assert int(r.headers["Retry-After"]) > 86_000


def test_tokens_per_minute_count_the_upstreams_usage(
    fake_chat: FakeChat, start_gateway: Any, gateway_config: Any
) -> None:
    gw: Gateway = start_gateway(
        gateway_config(api_keys=["sk-tokens"], **limited(per_key={"tpm": 50}))
    )
    usage = chat_usage(prompt=12, completion=8)  # 20 tokens a turn
    fake_chat.script(Reply.text("one", usage=usage), Reply.text("two", usage=usage))
    fake_chat.script(Reply.text("three", usage=usage))
    first = post(gw, "/v1/responses", RESPONSES, "sk-tokens")
    assert first.status_code == 200
    assert first.headers["x-ratelimit-limit-tokens"] == "50"
    assert first.headers["x-ratelimit-remaining-tokens"] == "50"  # counted after the answer
    assert "x-ratelimit-limit-requests" not in first.headers
    # Streamed: the tokens are charged before the terminal event goes out.
    stream = post(gw, "/v1/responses", {**RESPONSES, "stream": True}, "sk-tokens")
    assert stream.status_code == 200
    assert stream.headers["x-ratelimit-remaining-tokens"] == "30"
    assert b"response.completed" in stream.content
    # 40 of 50 used: the next request may still start, and takes the window past its limit.
    third = post(gw, "/v1/messages", MESSAGES, "sk-tokens")
    assert third.status_code == 200
    assert third.headers["x-ratelimit-remaining-tokens"] == "10"
    r = post(gw, "/v1/responses", RESPONSES, "sk-tokens")
    assert_refused(r, 50, "tokens")
    assert "50 tokens per minute" in r.json()["error"]["message"]
    assert len(fake_chat.chat_requests) == 3
    # Only POSTs spend tokens: reading a listing is not refused by the token limit.
    models = httpx2.get(gw.url("/v1/models"), headers={"x-api-key": "sk-tokens"}, timeout=10)
    assert models.status_code == 200


def test_two_instances_sharing_redis_hit_the_limit_together(
    fake_chat: FakeChat, start_gateway: Any, gateway_config: Any, redis_server: str
) -> None:
    db = redis_server.rsplit("/", 1)[0] + "/3"
    config = gateway_config(**limited(per_ip={"rpm": 5}, storage="redis", redis_url=db))
    one: Gateway = start_gateway(config)
    two: Gateway = start_gateway(config)
    statuses = [
        httpx2.get(gw.url("/v1/models"), timeout=10).status_code
        for gw in (one, two, one, two, one, two, one)
    ]
    assert statuses == [200, 200, 200, 200, 200, 429, 429]


def test_concurrent_requests_on_two_instances_never_exceed_the_limit(
    fake_chat: FakeChat, start_gateway: Any, gateway_config: Any, redis_server: str
) -> None:
    db = redis_server.rsplit("/", 1)[0] + "/4"
    config = gateway_config(
        api_keys=["sk-shared"], **limited(per_key={"rpm": 7}, storage="redis", redis_url=db)
    )
    gateways: list[Gateway] = [start_gateway(config), start_gateway(config)]
    auth = {"Authorization": "Bearer sk-shared"}

    def call(n: int) -> int:
        gw = gateways[n % 2]
        return httpx2.get(gw.url("/v1/models"), headers=auth, timeout=30).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(call, range(24)))
    assert statuses.count(200) == 7
    assert statuses.count(429) == 17


def test_redis_storage_that_does_not_answer_stops_the_start(
    start_gateway: Any, gateway_config: Any, tmp_path: Path
) -> None:
    from tests.support.gateway import GatewayStartError, free_port

    dead = f"redis://127.0.0.1:{free_port()}/0"
    with pytest.raises(GatewayStartError, match="does not answer"):
        start_gateway(gateway_config(**limited(per_ip={"rpm": 1}, storage="redis", redis_url=dead)))
