"""Responses over WebSocket: the openai SDK's ``responses.connect()`` and raw frames."""

from __future__ import annotations

import json
import time
from typing import Any

import openai
import pytest
from websockets.sync.client import ClientConnection, connect

from tests.support.fake_chat import FakeChat, Reply
from tests.support.gateway import Gateway
from tests.support.validate import check_event_order, validate_event

MODEL = "fake-model"
TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def ws_url(gateway: Gateway) -> str:
    return gateway.url("/v1/responses").replace("http://", "ws://")


def until_terminal(ws: ClientConnection) -> list[dict[str, Any]]:
    events = []
    while True:
        ev = json.loads(ws.recv(timeout=10))
        events.append(ev)
        if ev["type"] in ("response.completed", "response.incomplete", "response.failed", "error"):
            return events


def test_sdk_connect_multi_turn_with_tool(fake_chat: FakeChat, gateway: Gateway) -> None:
    fake_chat.script(
        Reply.tool_calls([("call_w", "get_weather", '{"city": "Paris"}')]),
        Reply.text("It is sunny in Paris."),
    )
    client = openai.OpenAI(base_url=gateway.url("/v1"), api_key="sk-client", max_retries=0)
    with client.responses.connect() as conn:
        conn.response.create(model=MODEL, input="Weather in Paris?", tools=[TOOL], store=False)
        first = []
        for event in conn:
            first.append(event)
            if event.type == "response.completed":
                break
        done = first[-1].response
        call = done.output[0]
        assert call.type == "function_call" and call.call_id == "call_w"
        conn.response.create(
            model=MODEL,
            previous_response_id=done.id,
            input=[{"type": "function_call_output", "call_id": "call_w", "output": "sunny"}],
            tools=[TOOL],
            store=False,
        )
        second = []
        for event in conn:
            second.append(event)
            if event.type == "response.completed":
                break
    assert second[-1].response.output_text == "It is sunny in Paris."
    # The upstream got the whole conversation although the client sent only the new item.
    messages = fake_chat.requests[-1].body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool"]
    assert messages[1]["tool_calls"][0]["id"] == "call_w"
    assert messages[2] == {"role": "tool", "tool_call_id": "call_w", "content": "sunny"}


def test_events_validate_and_never_done(fake_chat: FakeChat, gateway: Gateway) -> None:
    fake_chat.script(Reply.text("hello there", chunk_size=3))
    with connect(ws_url(gateway)) as ws:
        ws.send(json.dumps({"type": "response.create", "model": MODEL, "input": "hi"}))
        events = until_terminal(ws)
    for ev in events:
        validate_event(ev)
    check_event_order(events)
    assert events[-1]["response"]["output"][0]["content"][0]["text"] == "hello there"


def test_warm_up_then_incremental_turn(fake_chat: FakeChat, gateway: Gateway) -> None:
    fake_chat.script(Reply.text("ok"))
    with connect(ws_url(gateway)) as ws:
        warm = {
            "type": "response.create",
            "model": MODEL,
            "generate": False,
            "store": False,
            "input": [{"type": "message", "role": "developer", "content": "Be brief."}],
        }
        ws.send(json.dumps(warm))
        events = until_terminal(ws)
        assert [e["type"] for e in events] == [
            "response.created",
            "response.in_progress",
            "response.completed",
        ]
        assert not fake_chat.requests, "generate: false must not call the upstream"
        next_turn = {
            "type": "response.create",
            "model": MODEL,
            "store": False,
            "previous_response_id": events[-1]["response"]["id"],
            "input": "hello",
        }
        ws.send(json.dumps(next_turn))
        assert until_terminal(ws)[-1]["type"] == "response.completed"
    assert fake_chat.last.body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hello"},
    ]


def test_unknown_previous_id_and_other_connection(fake_chat: FakeChat, gateway: Gateway) -> None:
    fake_chat.script(Reply.text("first"))
    with connect(ws_url(gateway)) as ws:
        ws.send(
            json.dumps({"type": "response.create", "model": MODEL, "input": "a", "store": False})
        )
        rid = until_terminal(ws)[-1]["response"]["id"]
    with connect(ws_url(gateway)) as other:
        other.send(
            json.dumps(
                {
                    "type": "response.create",
                    "model": MODEL,
                    "input": "b",
                    "store": False,
                    "previous_response_id": rid,
                }
            )
        )
        err = json.loads(other.recv(timeout=10))
    assert err["type"] == "error" and err["status"] == 404
    assert err["error"]["code"] == "previous_response_not_found"


def test_failed_turn_evicts_its_previous_id(fake_chat: FakeChat, gateway: Gateway) -> None:
    fake_chat.script(Reply.text("one"), Reply.text("broken", chunk_size=2, fail_after=2))
    with connect(ws_url(gateway)) as ws:
        ws.send(
            json.dumps({"type": "response.create", "model": MODEL, "input": "a", "store": False})
        )
        rid = until_terminal(ws)[-1]["response"]["id"]
        follow = {
            "type": "response.create",
            "model": MODEL,
            "input": "b",
            "store": False,
            "previous_response_id": rid,
        }
        ws.send(json.dumps(follow))
        events = until_terminal(ws)
        assert events[-1]["type"] == "error"  # the error event, then response.failed
        assert json.loads(ws.recv(timeout=10))["type"] == "response.failed"
        ws.send(json.dumps(follow))
        err = json.loads(ws.recv(timeout=10))
    assert err["error"]["code"] == "previous_response_not_found"


def test_second_create_while_running_is_an_error_event(
    fake_chat: FakeChat, gateway: Gateway
) -> None:
    fake_chat.script(Reply.text("slow answer", chunk_size=2, delay=0.05))
    with connect(ws_url(gateway)) as ws:
        create = {"type": "response.create", "model": MODEL, "input": "a"}
        ws.send(json.dumps(create))
        ws.send(json.dumps({"type": "response.processed"}))  # ignored
        ws.send(json.dumps({"type": "something.unknown"}))  # ignored
        ws.send(json.dumps(create))
        seen = []
        while True:
            ev = json.loads(ws.recv(timeout=10))
            seen.append(ev)
            if ev["type"] == "response.completed":
                break
    errors = [e for e in seen if e["type"] == "error"]
    assert len(errors) == 1 and errors[0]["error"]["code"] == "response_in_progress"
    assert len(fake_chat.requests) == 1


@pytest.mark.parametrize("frame", ["not json", json.dumps({"type": "response.create"})])
def test_bad_frames_get_error_events(gateway: Gateway, frame: str) -> None:
    with connect(ws_url(gateway)) as ws:
        ws.send(frame)
        err = json.loads(ws.recv(timeout=10))
    assert err["type"] == "error" and err["status"] == 400


def test_plain_get_is_426(gateway: Gateway) -> None:
    import httpx2

    r = httpx2.get(gateway.url("/v1/responses"), timeout=10)
    assert r.status_code == 426
    assert r.json()["error"]["code"] == "websocket_upgrade_required"


def test_stored_socket_turns_are_retrievable_and_chain_anywhere(
    fake_chat: FakeChat, gateway: Gateway, openai_client: openai.OpenAI
) -> None:
    fake_chat.script(Reply.text("kept from the socket"), Reply.text("continued over HTTP"))
    with connect(ws_url(gateway), additional_headers={"Authorization": "Bearer sk-client"}) as ws:
        ws.send(json.dumps({"type": "response.create", "model": MODEL, "input": "remember"}))
        rid = until_terminal(ws)[-1]["response"]["id"]
    assert openai_client.responses.retrieve(rid).output_text == "kept from the socket"
    follow = openai_client.responses.create(model=MODEL, input="and?", previous_response_id=rid)
    assert follow.output_text == "continued over HTTP"
    assert [m["role"] for m in fake_chat.last.body["messages"]] == ["user", "assistant", "user"]


@pytest.mark.parametrize("configured", [False, True])
def test_compression_only_when_configured(
    fake_chat: FakeChat, start_gateway: Any, gateway_config: Any, configured: bool
) -> None:
    # the client offers permessage-deflate, as Codex CLI does; compressing every event costs
    # the gateway about 40 % more CPU a turn, so it takes the offer only when told to
    gw = start_gateway(
        gateway_config(websocket_compression=True) if configured else gateway_config()
    )
    fake_chat.script(Reply.text("Compressed or not, the same events."))
    with connect(ws_url(gw), compression="deflate") as ws:
        extensions = ws.response.headers.get("Sec-WebSocket-Extensions") or ""
        assert ("permessage-deflate" in extensions) is configured, extensions
        ws.send(json.dumps({"type": "response.create", "model": MODEL, "input": "hi"}))
        events = until_terminal(ws)
    for ev in events:
        validate_event(ev)
    check_event_order(events)
    assert events[-1]["response"]["output"][0]["content"][0]["text"] == (
        "Compressed or not, the same events."
    )


def test_a_client_slower_than_its_stream_gets_every_event_in_order(
    fake_chat: FakeChat, gateway: Gateway
) -> None:
    # the gateway writes a batch's frames at once and then waits while the client's socket
    # is full: megabytes of events, taken only after a pause, arrive whole and in order
    text = "".join(f"{i:07d} " for i in range(600_000))  # 4.8 MB: more than the socket buffers hold
    fake_chat.script(Reply.text(text, chunk_size=4000))
    with connect(ws_url(gateway), max_queue=2, max_size=None, compression=None) as ws:
        ws.send(json.dumps({"type": "response.create", "model": MODEL, "input": "hi"}))
        time.sleep(1.0)  # the client reads nothing: its queue, then the socket, fill up
        events = until_terminal(ws)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    deltas = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert deltas == text
    assert events[-1]["type"] == "response.completed"
    assert events[-1]["response"]["output"][0]["content"][0]["text"] == text
