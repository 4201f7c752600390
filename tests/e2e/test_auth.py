"""Client authentication end to end: managed keys made with the ``wirebridge keys`` CLI (run as a
subprocess against a running gateway's SQLite store), static keys from the config, model
scoping, open routes, and no key material in the gateway's log."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from typing import Any

import httpx2
import orjson
import pytest
from websockets.sync.client import connect as ws_connect

from tests.support.fake_chat import FakeChat, Reply
from tests.support.gateway import Gateway
from wirebridge.auth.keys import CACHE_SECONDS

MODEL = "fake-model"
RESPONSES = {"model": MODEL, "input": "hi"}
MESSAGES = {"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}


def wirebridge(gw: Gateway, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI, as an operator would run it next to the gateway: same config, same home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREBRIDGE_")}
    env["WIREBRIDGE_HOME"] = str(gw.home)
    return subprocess.run(
        [sys.executable, "-m", "wirebridge", *args, "--config", str(gw.config_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def create_key(gw: Gateway, *args: str) -> dict[str, Any]:
    done = wirebridge(gw, "keys", "create", "--json", *args)
    assert done.returncode == 0, done.stderr
    created: dict[str, Any] = orjson.loads(done.stdout)
    return created


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def post(gw: Gateway, path: str, body: dict[str, Any], **headers: str) -> httpx2.Response:
    return httpx2.post(gw.url(path), json=body, headers=headers, timeout=30)


def auth_post(gw: Gateway, path: str, body: dict[str, Any], key: str) -> httpx2.Response:
    return httpx2.post(gw.url(path), json=body, headers=bearer(key), timeout=30)


def test_managed_key_round_trip_through_the_cli(
    fake_chat: FakeChat, start_gateway: Any, gateway_config: Any
) -> None:
    gw: Gateway = start_gateway(gateway_config())
    created = create_key(gw, "--name", "ci runner")
    key, key_id = created["key"], created["id"]
    assert key.startswith("wb-") and len(key) == 46 and key[3:15] == key_id

    fake_chat.script(Reply.text("one"), Reply.text("two"))
    assert auth_post(gw, "/v1/responses", RESPONSES, key).status_code == 200
    r = post(gw, "/v1/messages", MESSAGES, **{"x-api-key": key})
    assert r.status_code == 200, r.text

    # Now that a key exists, every request needs one.
    r = post(gw, "/v1/responses", RESPONSES)
    assert r.status_code == 401
    assert r.json()["error"]["type"] == "authentication_error"
    assert r.headers["WWW-Authenticate"] == "Bearer"
    wrong = key[:15] + ("A" if key[15] != "A" else "B") + key[16:]  # right id, wrong secret
    assert auth_post(gw, "/v1/responses", RESPONSES, wrong).status_code == 401
    assert auth_post(gw, "/v1/responses", RESPONSES, "sk-anything").status_code == 401
    assert httpx2.get(gw.url("/v1/models"), timeout=10).status_code == 401
    assert httpx2.get(gw.url("/v1/models"), headers=bearer(key), timeout=10).status_code == 200

    listing = wirebridge(gw, "keys", "list")
    assert listing.returncode == 0, listing.stderr
    assert key_id in listing.stdout and "ci runner" in listing.stdout
    listed = orjson.loads(wirebridge(gw, "keys", "list", "--json").stdout)
    assert [(k["id"], k["name"], k["revoked_at"]) for k in listed] == [(key_id, "ci runner", None)]

    revoked = wirebridge(gw, "keys", "revoke", key_id)
    assert revoked.returncode == 0, revoked.stderr
    # The server reads a key's record at most every CACHE_SECONDS: refused within that time.
    deadline = time.monotonic() + CACHE_SECONDS + 2
    while (
        r := httpx2.get(gw.url("/v1/models"), headers=bearer(key), timeout=10)
    ).status_code == 200:
        assert time.monotonic() < deadline, "the revoked key still works"
        time.sleep(0.2)
    assert r.status_code == 401
    r = auth_post(gw, "/v1/responses", RESPONSES, key)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "invalid_api_key"
    listed = orjson.loads(wirebridge(gw, "keys", "list", "--json").stdout)
    assert listed[0]["revoked_at"] is not None
    assert wirebridge(gw, "keys", "revoke", "no-such-key").returncode == 1

    # Revoking the last key does not open the gateway again.
    assert post(gw, "/v1/responses", RESPONSES).status_code == 401
    assert httpx2.get(gw.url("/health"), timeout=10).status_code == 200
    assert len(fake_chat.chat_requests) == 2

    hashed = hashlib.sha256(key.encode()).hexdigest()
    for output in (listing.stdout, listing.stderr, revoked.stdout, gw.log_text()):
        assert key not in output
        assert key[15:] not in output  # not even the secret part alone
        assert hashed not in output


def test_a_key_is_required_only_once_one_exists(
    fake_chat: FakeChat, start_gateway: Any, gateway_config: Any
) -> None:
    gw: Gateway = start_gateway(gateway_config())
    fake_chat.script(Reply.text("open"))
    assert (
        post(gw, "/v1/responses", RESPONSES, Authorization="Bearer sk-whatever").status_code == 200
    )
    create_key(gw)
    # The gateway notices the first key within a second, without any request using it.
    deadline = time.monotonic() + 5
    while (r := httpx2.get(gw.url("/v1/models"), timeout=10)).status_code == 200:
        assert time.monotonic() < deadline, "the new key was not noticed"
        time.sleep(0.1)
    assert r.status_code == 401


def test_model_scoping_answers_403_in_the_callers_envelope(
    fake_chat: FakeChat, start_gateway: Any, gateway_config: Any
) -> None:
    gw: Gateway = start_gateway(gateway_config())
    key = create_key(gw, "--models", "fake-*")["key"]
    other = {"model": "gpt-5.5"}

    r = auth_post(gw, "/v1/responses", {**RESPONSES, **other}, key)
    assert r.status_code == 403
    error = r.json()["error"]
    assert error["type"] == "permission_error" and error["code"] == "model_not_allowed"
    assert error["param"] == "model" and "gpt-5.5" in error["message"]

    r = post(gw, "/v1/messages", {**MESSAGES, **other}, **{"x-api-key": key})
    assert r.status_code == 403
    assert r.json()["type"] == "error"
    assert r.json()["error"]["type"] == "permission_error"

    assert auth_post(gw, "/v1/chat/completions", {**CHAT, **other}, key).status_code == 403
    assert auth_post(gw, "/v1/responses/input_tokens", {**RESPONSES, **other}, key).status_code == (
        403
    )
    # Over the WebSocket each frame names its model: a refused one is an error event, and the
    # socket goes on serving the models the key may use.
    url = gw.url("/v1/responses").replace("http://", "ws://")
    fake_chat.script(Reply.text("allowed over the socket"))
    with ws_connect(url, additional_headers=bearer(key)) as ws:
        ws.send(orjson.dumps({"type": "response.create", "input": "x", **other}).decode())
        refused = orjson.loads(ws.recv(timeout=10))
        assert refused["type"] == "error" and refused["status"] == 403
        assert refused["error"]["code"] == "model_not_allowed"
        ws.send(orjson.dumps({"type": "response.create", "input": "x", **RESPONSES}).decode())
        while orjson.loads(ws.recv(timeout=10))["type"] != "response.completed":
            pass

    fake_chat.script(Reply.text("allowed"), Reply.text("allowed too"))
    assert auth_post(gw, "/v1/responses", RESPONSES, key).status_code == 200
    assert post(gw, "/v1/messages", MESSAGES, **{"x-api-key": key}).status_code == 200
    # A body without a model is the handler's 400, not a 403.
    assert auth_post(gw, "/v1/responses", {"input": "hi"}, key).status_code == 400
    assert len(fake_chat.chat_requests) == 3  # the socket's allowed turn and the two above


def test_a_managed_keys_stored_responses_are_its_own(
    fake_chat: FakeChat, start_gateway: Any, gateway_config: Any
) -> None:
    gw: Gateway = start_gateway(gateway_config())
    alice, bob = create_key(gw)["key"], create_key(gw)["key"]
    fake_chat.script(Reply.text("kept"))
    r = auth_post(gw, "/v1/responses", {**RESPONSES, "store": True}, alice)
    assert r.status_code == 200
    rid = r.json()["id"]
    url = gw.url(f"/v1/responses/{rid}")
    assert httpx2.get(url, headers=bearer(alice), timeout=10).status_code == 200
    assert httpx2.get(url, headers={"x-api-key": alice}, timeout=10).status_code == 200
    assert httpx2.get(url, headers=bearer(bob), timeout=10).status_code == 404


def test_static_keys_from_the_config(
    fake_chat: FakeChat, start_gateway: Any, gateway_config: Any
) -> None:
    gw: Gateway = start_gateway(gateway_config(api_keys=["sk-static-one", "sk-static-two"]))
    fake_chat.script(Reply.text("one"), Reply.text("two"))
    assert auth_post(gw, "/v1/responses", RESPONSES, "sk-static-one").status_code == 200
    assert post(gw, "/v1/messages", MESSAGES, **{"x-api-key": "sk-static-two"}).status_code == 200
    r = post(gw, "/v1/messages", MESSAGES)
    assert r.status_code == 401
    assert r.json() == {
        "type": "error",
        "error": {"type": "authentication_error", "message": r.json()["error"]["message"]},
    }
    assert auth_post(gw, "/v1/responses", RESPONSES, "sk-static-on").status_code == 401
    assert auth_post(gw, "/v1/responses", RESPONSES, "sk-static-one-").status_code == 401
    assert httpx2.get(gw.url("/health"), timeout=10).status_code == 200
    assert "sk-static-one" not in gw.log_text() and "sk-static-two" not in gw.log_text()


@pytest.mark.parametrize("public", [False, True])
def test_health_and_ready_are_open_metrics_only_when_public(
    start_gateway: Any, gateway_config: Any, public: bool
) -> None:
    gw: Gateway = start_gateway(gateway_config(metrics_public=public))
    key = create_key(gw)["key"]
    assert httpx2.get(gw.url("/health"), timeout=10).status_code == 200
    assert httpx2.get(gw.url("/ready"), timeout=10).status_code in (200, 503)
    assert httpx2.get(gw.url("/metrics"), headers=bearer(key), timeout=10).status_code == 200
    assert httpx2.get(gw.url("/metrics"), timeout=10).status_code == (200 if public else 401)
    assert httpx2.get(gw.url("/v1/models"), timeout=10).status_code == 401
