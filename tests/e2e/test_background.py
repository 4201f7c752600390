"""Background responses: queued at once, polled, cancelled, streamed again from any point."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import httpx2
import openai

from tests.support.fake_chat import FakeChat, Reply
from tests.support.gateway import Gateway
from tests.support.validate import check_event_order, parse_sse

MODEL = "fake-model"


def wait_for(client: openai.OpenAI, rid: str, statuses: set[str], timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.responses.retrieve(rid).status
        if status in statuses:
            return status
        time.sleep(0.05)
    raise AssertionError(f"{rid} never reached {statuses}")


def test_background_then_poll(fake_chat: FakeChat, openai_client: openai.OpenAI) -> None:
    fake_chat.script(Reply.text("done in the background", chunk_size=4, delay=0.02))
    queued = openai_client.responses.create(model=MODEL, input="work", background=True)
    assert queued.status == "queued" and queued.background is True
    assert wait_for(openai_client, queued.id, {"completed"}) == "completed"
    assert openai_client.responses.retrieve(queued.id).output_text == "done in the background"


def test_cancel(fake_chat: FakeChat, openai_client: openai.OpenAI) -> None:
    fake_chat.script(Reply.text("x" * 400, chunk_size=2, delay=0.05))  # ~10 s of stream
    queued = openai_client.responses.create(model=MODEL, input="long", background=True)
    wait_for(openai_client, queued.id, {"in_progress"})
    cancelled = openai_client.responses.cancel(queued.id)
    assert cancelled.status == "cancelled"
    assert openai_client.responses.retrieve(queued.id).status == "cancelled"
    assert fake_chat.last.closed_by_peer.wait(timeout=5), "the upstream call went on"


def test_cancel_needs_background(fake_chat: FakeChat, openai_client: openai.OpenAI) -> None:
    fake_chat.script(Reply.text("plain"))
    done = openai_client.responses.create(model=MODEL, input="x")
    try:
        openai_client.responses.cancel(done.id)
    except openai.BadRequestError:
        pass
    else:
        raise AssertionError("cancelling a foreground response must be a 400")


def test_resume_stream_from_a_sequence_number(
    fake_chat: FakeChat, openai_client: openai.OpenAI, gateway: Gateway
) -> None:
    fake_chat.script(Reply.text("resumable stream", chunk_size=3, delay=0.02))
    queued = openai_client.responses.create(model=MODEL, input="go", background=True)
    wait_for(openai_client, queued.id, {"completed"})
    url = gateway.url(f"/v1/responses/{queued.id}")
    full = httpx2.get(
        url, params={"stream": "true"}, timeout=10, headers={"Authorization": "Bearer sk-client"}
    )
    events, _ = parse_sse(full.content)
    check_event_order(events)
    assert events[-1]["type"] == "response.completed"
    tail = httpx2.get(
        url,
        params={"stream": "true", "starting_after": "5"},
        timeout=10,
        headers={"Authorization": "Bearer sk-client"},
    )
    rest, _ = parse_sse(tail.content)
    assert [e["sequence_number"] for e in rest] == [e["sequence_number"] for e in events[6:]]
    # The SDK's own resume call reads the same events.
    with openai_client.responses.retrieve(queued.id, stream=True, starting_after=5) as stream:
        assert [e.sequence_number for e in stream] == [e["sequence_number"] for e in events[6:]]


def test_background_stream_survives_the_client_leaving(
    fake_chat: FakeChat, openai_client: openai.OpenAI
) -> None:
    fake_chat.script(Reply.text("still finishing", chunk_size=2, delay=0.03))
    rid = ""
    with openai_client.responses.create(
        model=MODEL, input="go", background=True, stream=True
    ) as stream:
        for event in stream:
            if event.type == "response.created":
                rid = event.response.id
            if event.type == "response.output_text.delta":
                break  # leaving the block drops the connection mid-stream
    assert rid
    assert wait_for(openai_client, rid, {"completed"}) == "completed"
    assert openai_client.responses.retrieve(rid).output_text == "still finishing"


def test_a_fast_background_stream_carries_every_event(
    fake_chat: FakeChat, openai_client: openai.OpenAI, gateway: Gateway
) -> None:
    # Regression: the final Response is written just before the terminal batch's events are
    # stored, and a stream that looked at the Response in between ended with what was stored
    # so far: with an upstream that answers at once, [DONE] after response.in_progress and no
    # text at all. Several rounds, since the window is short.
    for n in range(6):
        text = f"answer number {n}, all of it"
        fake_chat.script(Reply.text(text, chunk_size=3))
        with openai_client.responses.create(
            model=MODEL, input="go", background=True, stream=True
        ) as stream:
            events = list(stream)
        assert events[-1].type == "response.completed", [e.type for e in events]
        deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
        assert deltas == text
        assert [e.sequence_number for e in events] == list(range(len(events)))
        url = gateway.url(f"/v1/responses/{events[-1].response.id}")
        again = httpx2.get(
            url,
            params={"stream": "true"},
            timeout=10,
            headers={"Authorization": "Bearer sk-client"},
        )
        replayed, _ = parse_sse(again.content)
        assert [e["type"] for e in replayed] == [e.type for e in events]


def test_background_needs_store(openai_client: openai.OpenAI) -> None:
    try:
        openai_client.responses.create(model=MODEL, input="x", background=True, store=False)
    except openai.BadRequestError as e:
        assert e.param == "background"
    else:
        raise AssertionError("background with store: false must be a 400")


def test_crashed_instance_runs_are_marked_failed(
    fake_chat: FakeChat, start_gateway: Any, gateway_config: Any, tmp_path: Path
) -> None:
    store = {"backend": "sqlite", "path": str(tmp_path / "shared.db")}
    config = gateway_config(background_lease=1, secret_key="shared-secret-for-both")
    config["store"] = store
    first: Gateway = start_gateway(config)
    fake_chat.script(Reply.text("y" * 400, chunk_size=2, delay=0.05))  # runs ~10 s
    client = openai.OpenAI(base_url=first.url("/v1"), api_key="sk-client", max_retries=0)
    queued = client.responses.create(model=MODEL, input="long", background=True)
    wait_for(client, queued.id, {"in_progress"})
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(timeout=10)

    second: Gateway = start_gateway(config)
    other = openai.OpenAI(base_url=second.url("/v1"), api_key="sk-client", max_retries=0)
    assert wait_for(other, queued.id, {"failed", "completed"}) == "failed"
    failed = other.responses.retrieve(queued.id)
    assert failed.error is not None and "stopped" in failed.error.message
