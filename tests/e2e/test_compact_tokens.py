"""``/v1/responses/compact`` and ``/v1/responses/input_tokens`` through the openai SDK."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
import openai
import openresponses_types as ort
import pytest

from tests.support.fake_chat import FakeChat, Reply, chat_usage
from tests.support.gateway import Gateway
from wirebridge.engine.compact import FINAL_REQUEST, INSTRUCTIONS
from wirebridge.engine.tokens import MESSAGE_OVERHEAD, REPLY_PRIMING
from wirebridge.hub.compaction import SUMMARY_PREFIX

MODEL = "fake-model"
SUMMARY = "User wants the login bug in /srv/app/auth.py fixed; done; next: add tests."


def _post(gateway: Gateway, path: str, body: dict[str, Any]) -> httpx2.Response:
    headers = {"Authorization": "Bearer sk-client"}
    return httpx2.post(gateway.url(path), json=body, headers=headers, timeout=30)


# -- compact -------------------------------------------------------------------------------------


def test_compact_a_chain_then_continue_from_the_item(
    fake_chat: FakeChat, openai_client: openai.OpenAI, gateway: Gateway
) -> None:
    fake_chat.script(
        Reply.text("Looking at /srv/app/auth.py: fixed.", reasoning_content="hmm"),
        Reply.text(SUMMARY, usage=chat_usage(120, 30, cached=8)),
        Reply.text("Adding tests now."),
    )
    first = openai_client.responses.create(model=MODEL, input="Fix the login bug in auth.py")
    compacted = openai_client.responses.compact(
        model=MODEL,
        previous_response_id=first.id,
        input="Also keep the old API.",
        instructions="You are a coding agent.",
    )
    raw = compacted.model_dump(mode="json", exclude_none=True)
    ort.CompactResource.model_validate(raw)
    assert compacted.object == "response.compaction" and compacted.id.startswith("cmp_")
    assert compacted.usage.input_tokens == 120 and compacted.usage.output_tokens == 30
    assert compacted.usage.input_tokens_details.cached_tokens == 8
    [item] = compacted.output
    assert item.type == "compaction" and SUMMARY not in str(item)

    summary_call = fake_chat.chat_requests[1].body
    assert not summary_call.get("stream") and "tools" not in summary_call
    messages = summary_call["messages"]
    assert messages[0]["role"] == "system" and messages[0]["content"].startswith(INSTRUCTIONS)
    assert "You are a coding agent." in messages[0]["content"]
    assert [m["role"] for m in messages[1:]] == ["user", "assistant", "user", "user"]
    assert messages[1]["content"] == "Fix the login bug in auth.py"
    assert messages[2]["reasoning_content"] == "hmm"  # history replayed as for a normal turn
    assert messages[3]["content"] == "Also keep the old API."
    assert messages[4]["content"] == FINAL_REQUEST

    # The item goes back as input: the upstream sees the summary where the item was.
    later = openai_client.responses.create(
        model=MODEL,
        input=[
            {"type": "compaction", "id": item.id, "encrypted_content": item.encrypted_content},  # type: ignore[union-attr]
            {"role": "user", "content": "Carry on."},
        ],
    )
    assert later.output_text == "Adding tests now."
    assert fake_chat.chat_requests[2].body["messages"] == [
        {"role": "user", "content": SUMMARY_PREFIX + SUMMARY},
        {"role": "user", "content": "Carry on."},
    ]
    # Listed as the client sent it, blob and all; never the plain summary.
    listed = openai_client.responses.input_items.list(later.id, order="asc").data
    assert listed[0].type == "compaction"
    assert listed[0].encrypted_content == item.encrypted_content  # type: ignore[union-attr]


def test_compact_under_the_unversioned_path(fake_chat: FakeChat, gateway: Gateway) -> None:
    fake_chat.script(Reply.text(SUMMARY))
    resp = _post(gateway, "/responses/compact", {"model": MODEL, "input": "hello"})
    assert resp.status_code == 200, resp.text
    ort.CompactResource.model_validate(resp.json())


BAD_COMPACT: list[Any] = [
    pytest.param({"input": "hi"}, 400, "model", id="no_model"),
    pytest.param({"model": MODEL}, 400, "input", id="nothing_to_compact"),
    pytest.param(
        {"model": MODEL, "input": "hi", "previous_response_id": "resp_nope"},
        404,
        "previous_response_id",
        id="unknown_previous",
    ),
    pytest.param({"model": "no-such-model", "input": "hi"}, 404, "model", id="unknown_model"),
]


@pytest.mark.parametrize(("body", "status", "param"), BAD_COMPACT)
def test_compact_errors(
    fake_chat: FakeChat, gateway: Gateway, body: dict[str, Any], status: int, param: str
) -> None:
    resp = _post(gateway, "/v1/responses/compact", body)
    assert resp.status_code == status, resp.text
    assert resp.json()["error"]["param"] == param
    assert not fake_chat.requests


def test_empty_summary_is_an_error(fake_chat: FakeChat, gateway: Gateway) -> None:
    fake_chat.script(Reply.text(""))
    resp = _post(gateway, "/v1/responses/compact", {"model": MODEL, "input": "hi"})
    assert resp.status_code == 502 and resp.json()["error"]["code"] == "empty_summary"


def test_a_compaction_blob_from_elsewhere_is_a_400(
    fake_chat: FakeChat, openai_client: openai.OpenAI
) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        openai_client.responses.create(
            model=MODEL,
            input=[
                {"role": "user", "content": "hi"},
                {"type": "compaction", "encrypted_content": "gAAAAABpM0Yj-openai="},
            ],
        )
    assert exc.value.body["param"] == "input[1].encrypted_content"  # type: ignore[index]
    assert "input[1]" in exc.value.message
    assert not fake_chat.requests


# -- input_tokens ----------------------------------------------------------------------------


@pytest.fixture
def openai_gateway(
    start_gateway: Callable[..., Gateway], gateway_config: Callable[..., dict[str, Any]]
) -> Gateway:
    config = gateway_config()
    config["models"].append(
        {"model": "smart", "provider": "fake", "downstream_model": "gpt-4o-2024-08-06"}
    )
    return start_gateway(config)


def test_input_tokens_openai_model_is_exact(openai_gateway: Gateway) -> None:
    with openai.OpenAI(base_url=openai_gateway.url("/v1"), api_key="k", max_retries=0) as client:
        got = client.responses.input_tokens.count(model="smart", input="Hello, world!")
        assert got.object == "response.input_tokens"
        assert got.input_tokens == REPLY_PRIMING + MESSAGE_OVERHEAD + 1 + 4  # "user", 4 tokens
        # A name that does not route is counted by its own family.
        assert client.responses.input_tokens.count(model="gpt-4o", input="Hello, world!") == got
        assert client.responses.input_tokens.count(input="Hello, world!") == got  # no model


def test_input_tokens_counts_history_instructions_and_tools(
    fake_chat: FakeChat, openai_client: openai.OpenAI
) -> None:
    fake_chat.script(Reply.text("x" * 400))
    first = openai_client.responses.create(model=MODEL, input="y" * 400)
    count = openai_client.responses.input_tokens.count
    alone = count(model=MODEL, input="z").input_tokens
    chained = count(model=MODEL, input="z", previous_response_id=first.id).input_tokens
    assert chained >= alone + 2 * 100  # the 800 characters of the first turn, estimated
    instructed = count(model=MODEL, input="z", instructions="i" * 400).input_tokens
    assert instructed >= alone + 100
    tool = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}
    assert count(model=MODEL, input="z", tools=[tool]).input_tokens > alone  # type: ignore[list-item]
    with pytest.raises(openai.NotFoundError) as exc:
        count(model=MODEL, input="z", previous_response_id="resp_nope")
    assert exc.value.code == "previous_response_not_found"
    assert len(fake_chat.requests) == 1  # counting never calls the upstream


def test_input_tokens_unversioned_path_and_bad_body(gateway: Gateway) -> None:
    resp = _post(gateway, "/responses/input_tokens", {"model": MODEL, "input": "abcd"})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"object": "response.input_tokens", "input_tokens": 3 + 3 + 1 + 1}
    bad = _post(gateway, "/v1/responses/input_tokens", {"model": MODEL, "input": 5})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "input"


def test_input_tokens_refuses_what_only_openai_can_read(openai_client: openai.OpenAI) -> None:
    # Counted without the conversation's items or the prompt's text, the answer would be low.
    count = openai_client.responses.input_tokens.count
    with pytest.raises(openai.BadRequestError) as info:
        count(model=MODEL, input="z", conversation="conv_1")
    assert info.value.code == "unsupported_feature"
    assert isinstance(info.value.body, dict) and info.value.body["param"] == "conversation"
    with pytest.raises(openai.BadRequestError) as info:
        count(model=MODEL, input="z", extra_body={"prompt": {"id": "pmpt_1"}})
    assert isinstance(info.value.body, dict) and info.value.body["param"] == "prompt"
