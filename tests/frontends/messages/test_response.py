"""Final hub Response → Anthropic message JSON: one row per rule.

Each row is a non-streamed upstream ``chat.completion`` (through the same decoder and
accumulator the gateway uses) and what the Anthropic message must hold.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.upstreams.chat.pipeline import SEALER, completion, usage
from wirebridge.frontends.messages.response import encode_response, stop_reason
from wirebridge.hub.seal import ProviderData

from .support import MODEL, RESPONSE_ID, run_json

WEATHER = {
    "name": "get_weather",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}
CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
}


def sealed_reasoning(signature: str) -> bool:
    pd = SEALER.open(signature)
    return pd == ProviderData("deepseek", {"reasoning_content": "Hmm."})


ROWS: list[Any] = [
    pytest.param(
        completion({"content": "Hello"}, usage_=usage(11, 7)),
        None,
        {
            "type": "message",
            "role": "assistant",
            "model": MODEL,
            "id": "msg_" + RESPONSE_ID.removeprefix("resp_"),
            "content": [{"type": "text", "text": "Hello"}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": 11,
                "output_tokens": 7,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
            },
        },
        id="text_answer_full_shape",
    ),
    pytest.param(
        completion({"content": "Hi", "reasoning_content": "Hmm."}),
        None,
        {
            "content": lambda c: (
                c[0]["type"] == "thinking"
                and c[0]["thinking"] == "Hmm."
                and sealed_reasoning(c[0]["signature"])
                and c[1] == {"type": "text", "text": "Hi"}
            )
        },
        id="reasoning_content_is_thinking_with_sealed_signature",
    ),
    pytest.param(
        completion({"content": None, "tool_calls": [CALL]}, finish="tool_calls"),
        {"tools": [WEATHER]},
        {
            "content": [
                {
                    "type": "tool_use",
                    "id": "call_1",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                }
            ],
            "stop_reason": "tool_use",
        },
        id="tool_call_is_tool_use_with_parsed_input",
    ),
    pytest.param(
        completion({"content": "Let me check.", "tool_calls": [CALL]}, finish="tool_calls"),
        {"tools": [WEATHER]},
        {"content": lambda c: [b["type"] for b in c] == ["text", "tool_use"]},
        id="text_then_tool_use_in_order",
    ),
    pytest.param(
        completion({"content": "Partial"}, finish="length"),
        None,
        {"stop_reason": "max_tokens", "content": [{"type": "text", "text": "Partial"}]},
        id="length_is_max_tokens",
    ),
    pytest.param(
        completion({"content": None, "refusal": "No."}),
        None,
        {"stop_reason": "refusal", "content": [{"type": "text", "text": "No."}]},
        id="refusal_is_refusal",
    ),
    pytest.param(
        completion({"content": ""}, finish="content_filter"),
        None,
        {"stop_reason": "refusal"},
        id="content_filter_is_refusal",
    ),
    pytest.param(
        completion(
            {"content": "x"},
            usage_=usage(100, 5, prompt_tokens_details={"cached_tokens": 60}),
        ),
        None,
        {
            "usage": {
                "input_tokens": 40,
                "output_tokens": 5,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 60,
            }
        },
        id="cached_tokens_are_cache_reads_not_input",
    ),
    pytest.param(
        completion({"content": "x"}),
        None,
        {
            "usage": {
                "input_tokens": 0,
                "output_tokens": 0,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
            }
        },
        id="no_usage_is_zeros",
    ),
]


@pytest.mark.parametrize(("upstream", "body", "expect"), ROWS)
def test_response_rule(
    upstream: dict[str, Any],
    body: dict[str, Any] | None,
    expect: dict[str, Any | Callable[[Any], bool]],
) -> None:
    message = run_json(upstream, body)
    for key, expected in expect.items():
        actual = message[key]
        ok = expected(actual) if callable(expected) else expected == actual
        assert ok, f"{key}: {actual!r}"


def test_thinking_hidden_when_display_omitted_keeps_signature() -> None:
    resp = {
        "id": RESPONSE_ID,
        "status": "completed",
        "output": [
            {
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": "t"}],
                "encrypted_content": "wb1.x",
            }
        ],
        "usage": None,
    }
    (block,) = encode_response(resp, MODEL, show_thinking=False)["content"]
    assert block == {"type": "thinking", "thinking": "", "signature": "wb1.x"}


@pytest.mark.parametrize(
    ("output", "status", "reason"),
    [
        pytest.param([], "completed", "end_turn", id="empty_is_end_turn"),
        pytest.param(
            [{"type": "custom_tool_call", "call_id": "c", "name": "n", "input": "raw"}],
            "completed",
            "tool_use",
            id="custom_tool_call_is_tool_use",
        ),
        pytest.param([], "incomplete", "max_tokens", id="incomplete_without_reason_is_max_tokens"),
    ],
)
def test_stop_reason(output: list[dict[str, Any]], status: str, reason: str) -> None:
    assert stop_reason({"status": status, "output": output}) == reason


def test_unparseable_arguments_give_empty_input() -> None:
    resp = {
        "id": RESPONSE_ID,
        "status": "incomplete",
        "incomplete_details": {"reason": "max_output_tokens"},
        "output": [{"type": "function_call", "call_id": "c", "name": "n", "arguments": '{"a": '}],
    }
    (block,) = encode_response(resp, MODEL)["content"]
    assert block["input"] == {}
