"""Stored responses through the openai SDK: retrieve, delete, input items, chains, owners."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from tests.support.fake_chat import FakeChat, Reply
from tests.support.gateway import Gateway
from tests.support.validate import validate_response

MODEL = "fake-model"
TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


@pytest.fixture
def other_client(gateway: Gateway) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(
        base_url=gateway.url("/v1"), api_key="sk-someone-else", max_retries=0, timeout=30
    ) as client:
        yield client


def test_create_retrieve_delete(fake_chat: FakeChat, openai_client: openai.OpenAI) -> None:
    fake_chat.script(Reply.text("stored answer"))
    created = openai_client.responses.create(model=MODEL, input="remember me", store=True)
    got = openai_client.responses.retrieve(created.id)
    assert got.id == created.id and got.output_text == "stored answer"
    raw = openai_client.responses.with_raw_response.retrieve(created.id)
    validate_response(raw.http_response.json())
    deleted = openai_client.responses.delete(created.id)
    assert deleted is None or getattr(deleted, "deleted", True)
    with pytest.raises(openai.NotFoundError):
        openai_client.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        openai_client.responses.delete(created.id)


def test_store_false_is_not_kept(fake_chat: FakeChat, openai_client: openai.OpenAI) -> None:
    fake_chat.script(Reply.text("ephemeral"))
    created = openai_client.responses.create(model=MODEL, input="x", store=False)
    with pytest.raises(openai.NotFoundError):
        openai_client.responses.retrieve(created.id)


def test_input_items_pagination(fake_chat: FakeChat, openai_client: openai.OpenAI) -> None:
    fake_chat.script(Reply.text("ok"))
    items = [{"role": "user", "content": f"message {i}"} for i in range(5)]
    created = openai_client.responses.create(model=MODEL, input=items)  # type: ignore[arg-type]
    page = openai_client.responses.input_items.list(created.id, limit=2, order="asc")
    texts = [it.content[0].text for it in page.data]  # type: ignore[union-attr]
    assert texts == ["message 0", "message 1"] and page.has_more
    every = [
        it.content[0].text  # type: ignore[union-attr]
        for it in openai_client.responses.input_items.list(created.id, limit=2, order="asc")
    ]
    assert every == [f"message {i}" for i in range(5)]  # the SDK followed the cursors
    desc = openai_client.responses.input_items.list(created.id, limit=20)
    assert [it.content[0].text for it in desc.data] == [f"message {i}" for i in range(4, -1, -1)]  # type: ignore[union-attr]
    assert all(it.id for it in desc.data)
    with pytest.raises(openai.BadRequestError):
        openai_client.responses.input_items.list(created.id, limit=101)


def test_three_turn_chain_with_a_tool_call(
    fake_chat: FakeChat, openai_client: openai.OpenAI
) -> None:
    fake_chat.script(
        Reply.text("Hi! Ask me about weather.", reasoning_content="greeting"),
        Reply.tool_calls(
            [("call_1", "get_weather", '{"city": "Oslo"}')], reasoning_content="need the tool"
        ),
        Reply.text("It is snowing in Oslo."),
    )
    one = openai_client.responses.create(model=MODEL, input="hello", tools=[TOOL])  # type: ignore[list-item]
    two = openai_client.responses.create(
        model=MODEL,
        input="weather in Oslo?",
        previous_response_id=one.id,
        tools=[TOOL],  # type: ignore[list-item]
    )
    call = two.output[-1]
    assert call.type == "function_call"
    three = openai_client.responses.create(
        model=MODEL,
        previous_response_id=two.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "snow"}],
        tools=[TOOL],  # type: ignore[list-item]
    )
    assert three.output_text == "It is snowing in Oslo."
    assert three.previous_response_id == two.id
    messages = fake_chat.requests[-1].body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant", "tool"]
    assert messages[0]["content"] == "hello"
    # DeepSeek-style reasoning of earlier turns is replayed from the stored reasoning items.
    assert messages[1]["reasoning_content"] == "greeting"
    assert messages[3]["reasoning_content"] == "need the tool"
    assert messages[3]["tool_calls"][0]["id"] == "call_1"
    assert messages[4] == {"role": "tool", "tool_call_id": "call_1", "content": "snow"}


def test_unknown_previous_response_is_404(openai_client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as exc:
        openai_client.responses.create(model=MODEL, input="x", previous_response_id="resp_nope")
    assert exc.value.code == "previous_response_not_found"


def test_another_key_cannot_see_or_chain(
    fake_chat: FakeChat, openai_client: openai.OpenAI, other_client: openai.OpenAI
) -> None:
    fake_chat.script(Reply.text("mine"))
    mine = openai_client.responses.create(model=MODEL, input="secret")
    with pytest.raises(openai.NotFoundError):
        other_client.responses.retrieve(mine.id)
    with pytest.raises(openai.NotFoundError):
        other_client.responses.input_items.list(mine.id)
    with pytest.raises(openai.NotFoundError):
        other_client.responses.delete(mine.id)
    with pytest.raises(openai.NotFoundError) as exc:
        other_client.responses.create(model=MODEL, input="x", previous_response_id=mine.id)
    assert exc.value.code == "previous_response_not_found"
    assert openai_client.responses.retrieve(mine.id).output_text == "mine"


def test_stored_before_the_terminal_event(
    fake_chat: FakeChat, openai_client: openai.OpenAI
) -> None:
    fake_chat.script(Reply.text("chain me at once", chunk_size=4), Reply.text("second"))
    with openai_client.responses.stream(model=MODEL, input="first") as stream:
        for event in stream:
            if event.type == "response.completed":
                # The stream has not even ended: the response must already be retrievable.
                rid = event.response.id
                assert openai_client.responses.retrieve(rid).status == "completed"
                follow = openai_client.responses.create(
                    model=MODEL, input="next", previous_response_id=rid
                )
                assert follow.output_text == "second"
