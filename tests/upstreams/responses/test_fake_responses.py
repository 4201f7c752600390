"""The fake Responses provider's own test: the official ``openai`` SDK must read what it sends,
and it must refuse what OpenAI refuses."""

from __future__ import annotations

import openai
import pytest

from tests.support.fake_responses import FakeResponses, Reply, custom_tool_call, reasoning


@pytest.fixture
def client(fake_responses: FakeResponses) -> openai.OpenAI:
    with openai.OpenAI(base_url=fake_responses.base_url, api_key="sk-t", max_retries=0) as c:
        yield c


@pytest.mark.parametrize("shape", ["full", "minimal", "terminal_only", "empty_terminal"])
def test_sdk_reads_every_stream_shape(
    fake_responses: FakeResponses, client: openai.OpenAI, shape: str
) -> None:
    fake_responses.script(Reply.text("Hello there", "thinking", chunk_size=3, stream_shape=shape))
    with client.responses.stream(model="m", input="hi") as stream:
        types = [e.type for e in stream]
        final = stream.get_final_response()
    assert types[-1] == "response.completed"
    if shape in ("full", "minimal"):
        assert final.output_text == "Hello there"
    if shape == "full":
        assert "response.output_text.delta" in types


def test_sdk_reads_json_with_reasoning_and_tools(
    fake_responses: FakeResponses, client: openai.OpenAI
) -> None:
    fake_responses.script(
        Reply.items(reasoning("plan"), custom_tool_call("apply_patch", "*** Begin Patch\n"))
    )
    resp = client.responses.create(model="m", input="x", include=["reasoning.encrypted_content"])
    rs, call = resp.output
    assert rs.type == "reasoning" and rs.encrypted_content in fake_responses.issued
    assert call.type == "custom_tool_call" and call.input == "*** Begin Patch\n"


def test_refuses_foreign_reasoning_and_private_keys(
    fake_responses: FakeResponses, client: openai.OpenAI
) -> None:
    item = {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "wb1.x"}
    with pytest.raises(openai.BadRequestError) as exc:
        client.responses.create(model="m", input=[item])  # type: ignore[list-item]
    assert exc.value.code == "invalid_encrypted_content"
    with pytest.raises(openai.BadRequestError) as exc:
        client.responses.create(model="m", input="x", extra_body={"_provider": 1})
    assert exc.value.code == "unknown_parameter"
    assert fake_responses.pending == 0 and not fake_responses.unscripted


def test_previous_response_id_only_when_stateful(
    fake_responses: FakeResponses, client: openai.OpenAI
) -> None:
    fake_responses.script(Reply.text("one"))
    first = client.responses.create(model="m", input="a")
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="m", input="b", previous_response_id=first.id)
    fake_responses.stateful = True
    fake_responses.script(Reply.text("two"), Reply.text("three"))
    second = client.responses.create(model="m", input="b")
    client.responses.create(model="m", input="c", previous_response_id=second.id)
    assert next(i.get("content") for i in fake_responses.effective_inputs[-1]) == "b"
    assert len(fake_responses.effective_inputs[-1]) == 3  # b, its answer, c
