"""Hub request → Responses upstream body: one row per rule."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from wirebridge.errors import Untranslatable
from wirebridge.frontends.chat.request import bind_route
from wirebridge.hub.compaction import COMPACTION_FAMILY, SUMMARY_PREFIX
from wirebridge.hub.seal import ProviderData
from wirebridge.upstreams.responses.request import encode_request

from .support import FAMILY, SEALER, decode, encode, sealed

FN = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
CUSTOM = {
    "type": "custom",
    "name": "apply_patch",
    "description": "Patch files.",
    "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"},
}
NAMESPACE = {
    "type": "namespace",
    "name": "mcp",
    "description": "An MCP server.",
    "tools": [{"type": "function", "name": "read", "parameters": {"type": "object"}}],
}

# (name, client body, expected subset of the upstream body, keys that must be absent)
ROWS: list[tuple[str, dict[str, Any], dict[str, Any], tuple[str, ...]]] = [
    (
        "model replaced, state emulated",
        {"input": "hi", "store": True, "previous_response_id": "resp_gw"},
        {"model": "up-model", "store": False, "stream": True},
        ("previous_response_id",),
    ),
    (
        "unknown fields pass back, private ones do not",
        {"input": "hi", "client_metadata": {"a": "b"}, "prompt_cache_retention": "24h"},
        {"client_metadata": {"a": "b"}, "prompt_cache_retention": "24h"},
        (),
    ),
    (
        "OpenAI's conversations and prompt templates go on to OpenAI",
        {"input": "hi", "conversation": "conv_1", "prompt": {"id": "pmpt_1"}},
        {"conversation": "conv_1", "prompt": {"id": "pmpt_1"}},
        (),
    ),
    (
        "known fields as given",
        {
            "input": "hi",
            "instructions": "Be brief.",
            "temperature": 0.2,
            "top_p": 0.9,
            "max_output_tokens": 50,
            "text": {"verbosity": "low"},
            "reasoning": {"effort": "high", "summary": "auto"},
            "prompt_cache_key": "k",
            "safety_identifier": "u1",
            "metadata": {"x": "y"},
            "service_tier": "flex",
            "truncation": "auto",
            "tool_choice": "none",
            "parallel_tool_calls": False,
            "max_tool_calls": 3,
            "top_logprobs": 2,
        },
        {
            "instructions": "Be brief.",
            "temperature": 0.2,
            "top_p": 0.9,
            "max_output_tokens": 50,
            "text": {"verbosity": "low"},
            "reasoning": {"effort": "high", "summary": "auto"},
            "prompt_cache_key": "k",
            "safety_identifier": "u1",
            "metadata": {"x": "y"},
            "service_tier": "flex",
            "truncation": "auto",
            "tool_choice": "none",
            "parallel_tool_calls": False,
            "max_tool_calls": 3,
            "top_logprobs": 2,
            "include": ["reasoning.encrypted_content"],
        },
        (),
    ),
    (
        "client's include kept, encrypted reasoning not doubled",
        {"input": "hi", "reasoning": {"effort": "low"}, "include": ["reasoning.encrypted_content"]},
        {"include": ["reasoning.encrypted_content"]},
        (),
    ),
    (
        "no reasoning asked: no include",
        {"input": "hi"},
        {"input": [{"type": "message", "role": "user", "content": "hi"}]},
        ("include", "tools", "instructions", "temperature"),
    ),
    (
        "a Responses client's seed and stop go to the upstream to judge",
        {"input": "hi", "seed": 7, "stop": ["END"]},
        {"seed": 7, "stop": ["END"]},
        (),
    ),
    (
        "stream_options only with stream",
        {"input": "hi", "stream_options": {"include_obfuscation": False}},
        {"stream_options": {"include_obfuscation": False}},
        (),
    ),
    (
        "tools: functions rebuilt without the echo's defaults, custom and namespace as sent",
        {"input": "hi", "tools": [FN, CUSTOM, NAMESPACE]},
        {"tools": [FN, CUSTOM, NAMESPACE]},
        (),
    ),
    (
        "tools the front door drops are not sent",
        {"input": "hi", "tools": [FN, {"type": "web_search"}]},
        {"tools": [FN]},
        (),
    ),
    (
        "additional_tools items become declared tools",
        {
            "input": [
                {"type": "additional_tools", "tools": [NAMESPACE, CUSTOM]},
                {"role": "user", "content": "hi"},
            ],
            "tools": [FN],
        },
        {
            "tools": [
                FN,
                {"type": "namespace", "name": "mcp", "tools": [NAMESPACE["tools"][0]]},
                CUSTOM,
            ],
            "input": [{"type": "message", "role": "user", "content": "hi"}],
        },
        (),
    ),
]


@pytest.mark.parametrize(("name", "body", "expected", "absent"), ROWS, ids=[r[0] for r in ROWS])
def test_request_rows(
    name: str, body: dict[str, Any], expected: dict[str, Any], absent: tuple[str, ...]
) -> None:
    out = encode(body)
    for key, value in expected.items():
        assert out[key] == value, key
    for key in absent:
        assert key not in out, key
    assert not any(k.startswith("_") for k in out)


def test_stream_options_dropped_without_stream() -> None:
    out = encode({"input": "hi", "stream_options": {"include_obfuscation": False}}, stream=False)
    assert out["stream"] is False and "stream_options" not in out


def test_private_keys_are_stripped_without_touching_the_callers_items() -> None:
    req = decode({"input": [{"role": "user", "content": "hi"}]})
    req.input[0]["_note"] = "gateway private"
    req.extra["_new_items_from"] = 0
    before = copy.deepcopy(req.input)
    out = encode(req)
    assert out["input"] == [{"type": "message", "role": "user", "content": "hi"}]
    assert req.input == before  # the caller's dicts are untouched
    assert "_new_items_from" not in out


RS_ID = "rs_upstream1"
BLOB = "gAAAAA-upstream-blob"


def reasoning_item(blob: str | None, **extra: Any) -> dict[str, Any]:
    item = {"type": "reasoning", "id": "rs_seen_by_client", "summary": [], **extra}
    if blob is not None:
        item["encrypted_content"] = blob
    return item


# (name, reasoning item as the client replays it, what the upstream gets: None = dropped)
REASONING_ROWS: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = [
    (
        "this upstream's blob is unwrapped to the original blob and id",
        reasoning_item(sealed(FAMILY, encrypted_content=BLOB, id=RS_ID)),
        {"type": "reasoning", "id": RS_ID, "summary": [], "encrypted_content": BLOB},
    ),
    (
        "another Responses provider's blob is dropped",
        reasoning_item(sealed("other", encrypted_content=BLOB, id=RS_ID)),
        None,
    ),
    (
        "DeepSeek reasoning is dropped",
        reasoning_item(sealed("deepseek", reasoning_content="secret thoughts")),
        None,
    ),
    ("a blob the gateway did not seal is dropped", reasoning_item("gAAAAA-raw"), None),
    ("a tampered blob is dropped", reasoning_item(sealed(FAMILY)[:-4] + "AAAA"), None),
    ("reasoning without a blob is dropped", reasoning_item(None), None),
]


@pytest.mark.parametrize(
    ("name", "item", "sent"), REASONING_ROWS, ids=[r[0] for r in REASONING_ROWS]
)
def test_reasoning_rows(name: str, item: dict[str, Any], sent: dict[str, Any] | None) -> None:
    body = {"input": [{"role": "user", "content": "hi"}, item, {"role": "user", "content": "go"}]}
    out = encode(body)["input"]
    reasoning = [i for i in out if i["type"] == "reasoning"]
    assert reasoning == ([] if sent is None else [sent])
    assert len(out) == (3 if sent is not None else 2)


def test_chat_client_reasoning_is_never_sent() -> None:
    req = decode(
        {
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "yo", "reasoning_content": "hmm"},
                {"role": "user", "content": "again"},
            ]
        },
        source="chat",
    )
    bind_route(req, "responses", FAMILY)
    out = encode(req)
    assert [i["type"] for i in out["input"]] == ["message", "message", "message"]


def test_compaction_becomes_a_user_message() -> None:
    blob = SEALER.seal(ProviderData(COMPACTION_FAMILY, {"summary": "we did things"}))
    out = encode({"input": [{"type": "compaction", "encrypted_content": blob}]})
    assert out["input"] == [
        {"type": "message", "role": "user", "content": SUMMARY_PREFIX + "we did things"}
    ]


def test_chat_client_fields() -> None:
    req = decode(
        {
            "messages": [{"role": "user", "content": "hi"}],
            "logprobs": True,
            "top_logprobs": 2,
            "reasoning_effort": "low",
            "response_format": {"type": "json_object"},
            "user": "u",
            "some_chat_only_field": 1,
        },
        source="chat",
    )
    out = encode(req)
    assert out["include"] == ["reasoning.encrypted_content", "message.output_text.logprobs"]
    assert out["top_logprobs"] == 2
    assert out["reasoning"] == {"effort": "low"}
    assert out["text"] == {"format": {"type": "json_object"}}
    assert "some_chat_only_field" not in out  # a chat client's extras are chat's
    assert out["store"] is False


@pytest.mark.parametrize(("field", "value"), [("stop", ["\n"]), ("seed", 3)])
def test_chat_client_fields_the_responses_api_lacks(field: str, value: Any) -> None:
    req = decode({"messages": [{"role": "user", "content": "hi"}], field: value}, source="chat")
    with pytest.raises(Untranslatable) as exc:
        encode(req)
    assert exc.value.param == field


def test_stateful_passes_store_and_sends_only_new_items() -> None:
    req = decode(
        {
            "input": [{"role": "user", "content": "old"}, {"role": "user", "content": "new"}],
            "store": True,
        }
    )
    # no hint from the engine: the whole conversation, no previous_response_id
    out = encode_request(req, "m", True, family=FAMILY, stateful=True)
    assert out["store"] is True and "previous_response_id" not in out
    assert len(out["input"]) == 2
    req.extra.update({"_new_items_from": 1, "_upstream_previous_id": "resp_upstream"})
    out = encode_request(req, "m", True, family=FAMILY, stateful=True)
    assert out["previous_response_id"] == "resp_upstream"
    assert out["input"] == [{"type": "message", "role": "user", "content": "new"}]
    # hints are ignored unless the provider is stateful
    out = encode_request(req, "m", True, family=FAMILY, stateful=False)
    assert out["store"] is False and "previous_response_id" not in out
    assert len(out["input"]) == 2
