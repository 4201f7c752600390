"""Responses request → Chat Completions request: one table row per mapping rule.

Each row is a Responses body (``model`` defaulted), the provider profile it goes to, and what the
encoded chat body must hold (``expect``: key → exact value, or a predicate) and must not hold
(``absent``). Every body goes through ``decode_request`` and ``encode_request`` as the gateway
does it; ``ERRORS`` lists the requests that must be refused, with the error and its ``param``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from wirebridge.errors import InvalidRequest, MalformedJSON, Untranslatable
from wirebridge.frontends.responses.request import parse_json_object
from wirebridge.hub.seal import ProviderData, Sealer

from .pipeline import SEALER, translate

PNG = "data:image/png;base64,iVBORw0KGgo="
PDF = "data:application/pdf;base64,JVBERi0xLjQK"
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
SHIM_PARAMS = {
    "type": "object",
    "properties": {"input": {"type": "string", "description": "The raw tool input."}},
    "required": ["input"],
    "additionalProperties": False,
}
LARK = 'start: begin_patch hunk+ end_patch\nbegin_patch: "*** Begin Patch" LF\n'
APPLY_PATCH = {
    "type": "custom",
    "name": "apply_patch",
    "description": "Use the `apply_patch` tool to edit files. This is a FREEFORM tool.",
    "format": {"type": "grammar", "syntax": "lark", "definition": LARK},
}
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city.",
    "parameters": SCHEMA,
    "strict": True,
}
CHAT_WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city.",
        "parameters": SCHEMA,
        "strict": True,
    },
}

DEEPSEEK_BLOB = SEALER.seal(ProviderData("deepseek", {"reasoning_content": "Let me think."}))
STEP1 = SEALER.seal(ProviderData("deepseek", {"reasoning_content": "step 1"}))
STEP2 = SEALER.seal(ProviderData("deepseek", {"reasoning_content": "step 2"}))
FOREIGN_KEY_BLOB = Sealer(b"\x01" * 32).seal(
    ProviderData("deepseek", {"reasoning_content": "Let me think."})
)


def _tamper(blob: str) -> str:
    i = len(blob) // 2
    return blob[:i] + ("A" if blob[i] != "A" else "B") + blob[i + 1 :]


def reasoning_then_answer(blob: str) -> list[dict[str, Any]]:
    """A prior turn: user, reasoning (with ``blob``), assistant text, then the next question."""
    return [
        {"role": "user", "content": "Hi"},
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": blob},
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Hello!", "annotations": []}],
        },
        {"role": "user", "content": "Again"},
    ]


def answer(reasoning: str | None) -> list[dict[str, Any]]:
    assistant: dict[str, Any] = {"role": "assistant", "content": "Hello!"}
    if reasoning is not None:
        assistant["reasoning_content"] = reasoning
    return [
        {"role": "user", "content": "Hi"},
        assistant,
        {"role": "user", "content": "Again"},
    ]


def call(call_id: str, name: str, arguments: str = "{}", **extra: Any) -> dict[str, Any]:
    return {
        "type": "function_call",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        **extra,
    }


def chat_call(call_id: str, name: str, arguments: str = "{}") -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


@dataclass
class Case:
    body: dict[str, Any]
    expect: dict[str, Any | Callable[[Any], bool]] = field(default_factory=dict)
    profile: str = "generic"
    absent: tuple[str, ...] = ()
    dropped: list[str] | None = None


def msgs(*messages: dict[str, Any]) -> dict[str, Any]:
    return {"messages": list(messages)}


U = {"role": "user", "content": "x"}

CASES = [
    # -- input ---------------------------------------------------------------------------------
    pytest.param(
        Case({"input": "hello"}, msgs({"role": "user", "content": "hello"})),
        id="string_input_is_one_user_message",
    ),
    pytest.param(
        Case(
            {
                "input": [
                    {"type": "message", "role": "user", "content": "a"},
                    {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": "b"}],
                    },
                ]
            },
            msgs({"role": "user", "content": "a"}, {"role": "user", "content": "b"}),
        ),
        id="item_array_one_message_per_item",
    ),
    pytest.param(
        Case(
            {"input": [{"role": "user", "content": "hi"}]}, msgs({"role": "user", "content": "hi"})
        ),
        id="easy_input_message_without_type",
    ),
    pytest.param(
        Case({"input": [{"role": "user", "content": "u"}]}, msgs({"role": "user", "content": "u"})),
        id="role_user",
    ),
    pytest.param(
        Case(
            {"input": [U, {"role": "assistant", "content": "a"}]},
            msgs(U, {"role": "assistant", "content": "a"}),
        ),
        id="role_assistant",
    ),
    pytest.param(
        Case(
            {"input": [{"role": "system", "content": "s"}, U]},
            msgs({"role": "system", "content": "s"}, U),
        ),
        id="role_system",
    ),
    pytest.param(
        Case(
            {"input": [{"role": "developer", "content": "d"}, U]},
            msgs({"role": "system", "content": "d"}, U),
        ),
        id="role_developer_becomes_system",
    ),
    pytest.param(
        Case(
            {
                "instructions": "I",
                "input": [
                    {"role": "developer", "content": "d1"},
                    {"role": "user", "content": "u"},
                    {"role": "system", "content": [{"type": "input_text", "text": "s2"}]},
                    {"role": "developer", "content": "d3"},
                ],
            },
            msgs(
                {"role": "system", "content": "I\n\nd1\n\ns2\n\nd3"},
                {"role": "user", "content": "u"},
            ),
        ),
        id="instructions_system_developer_merged_in_order_into_one_leading_system",
    ),
    pytest.param(
        Case(
            {
                "input": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "input_text", "text": "a"},
                            {"type": "input_text", "text": "b"},
                        ],
                    }
                ]
            },
            msgs({"role": "user", "content": "a\nb"}),
        ),
        id="text_only_parts_joined_into_a_string",
    ),
    pytest.param(
        Case(
            {
                "input": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "input_text", "text": "what is this?"},
                            {"type": "input_image", "image_url": PNG, "detail": "high"},
                        ],
                    }
                ]
            },
            msgs(
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "what is this?"},
                        {"type": "image_url", "image_url": {"url": PNG, "detail": "high"}},
                    ],
                }
            ),
        ),
        id="input_image_data_url_detail_kept",
    ),
    pytest.param(
        Case(
            {
                "input": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "input_image",
                                "image_url": "https://example.com/cat.png",
                                "detail": "low",
                            },
                        ],
                    }
                ]
            },
            msgs(
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "image_url",
                            "image_url": {"url": "https://example.com/cat.png", "detail": "low"},
                        },
                    ],
                }
            ),
        ),
        id="input_image_https_url",
    ),
    pytest.param(
        Case(
            {
                "input": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "input_file", "filename": "a.pdf", "file_data": PDF},
                            {"type": "input_text", "text": "summarise"},
                        ],
                    }
                ]
            },
            msgs(
                {
                    "role": "user",
                    "content": [
                        {"type": "file", "file": {"file_data": PDF, "filename": "a.pdf"}},
                        {"type": "text", "text": "summarise"},
                    ],
                }
            ),
        ),
        id="input_file_becomes_chat_file_part",
    ),
    pytest.param(
        Case(
            {
                "input": [
                    U,
                    {
                        "type": "message",
                        "role": "assistant",
                        "content": [
                            {"type": "output_text", "text": "I can't ", "annotations": []},
                            {"type": "refusal", "refusal": "do that."},
                        ],
                    },
                ]
            },
            msgs(U, {"role": "assistant", "content": "I can't do that."}),
        ),
        id="assistant_output_text_and_refusal_parts",
    ),
    pytest.param(
        Case(
            {
                "input": [
                    U,
                    {
                        "type": "message",
                        "role": "assistant",
                        "phase": "final_answer",
                        "content": [{"type": "output_text", "text": "ok"}],
                    },
                ]
            },
            msgs(U, {"role": "assistant", "content": "ok"}),
        ),
        id="assistant_phase_accepted_and_ignored",
    ),
    pytest.param(
        Case(
            {"input": [U, call("call_1", "get_weather", '{"city":"Paris"}', id="fc_1")]},
            msgs(
                U,
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [chat_call("call_1", "get_weather", '{"city":"Paris"}')],
                },
            ),
        ),
        id="function_call_becomes_assistant_tool_call_id_is_call_id",
    ),
    pytest.param(
        Case(
            {
                "input": [
                    U,
                    {
                        "type": "message",
                        "role": "assistant",
                        "content": [{"type": "output_text", "text": "Checking both."}],
                    },
                    call("call_1", "get_weather", '{"city":"Paris"}'),
                    call("call_2", "get_weather", '{"city":"Rome"}'),
                    {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
                    {"type": "function_call_output", "call_id": "call_2", "output": "rain"},
                ]
            },
            msgs(
                U,
                {
                    "role": "assistant",
                    "content": "Checking both.",
                    "tool_calls": [
                        chat_call("call_1", "get_weather", '{"city":"Paris"}'),
                        chat_call("call_2", "get_weather", '{"city":"Rome"}'),
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
                {"role": "tool", "tool_call_id": "call_2", "content": "rain"},
            ),
        ),
        id="assistant_text_and_several_calls_are_one_assistant_message",
    ),
    pytest.param(
        Case(
            {
                "input": [
                    U,
                    call("c1", "f"),
                    {"type": "function_call_output", "call_id": "c1", "output": "result"},
                ]
            },
            msgs(
                U,
                {"role": "assistant", "content": "", "tool_calls": [chat_call("c1", "f")]},
                {"role": "tool", "tool_call_id": "c1", "content": "result"},
            ),
        ),
        id="function_call_output_string_is_tool_message",
    ),
    pytest.param(
        Case(
            {
                "input": [
                    U,
                    call("c1", "screenshot"),
                    {
                        "type": "function_call_output",
                        "call_id": "c1",
                        "output": [
                            {"type": "input_text", "text": "Here it is"},
                            {"type": "input_image", "image_url": PNG},
                        ],
                    },
                ]
            },
            msgs(
                U,
                {"role": "assistant", "content": "", "tool_calls": [chat_call("c1", "screenshot")]},
                {"role": "tool", "tool_call_id": "c1", "content": "Here it is"},
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": PNG}}]},
            ),
        ),
        id="function_call_output_array_text_in_tool_image_in_following_user_message",
    ),
    pytest.param(
        Case(
            {
                "tools": [APPLY_PATCH],
                "input": [
                    U,
                    {
                        "type": "custom_tool_call",
                        "id": "ctc_1",
                        "call_id": "c1",
                        "name": "apply_patch",
                        "input": '*** Begin Patch\n+"quoted"\n*** End Patch\n',
                    },
                ],
            },
            {
                "messages": lambda m: (
                    m[1]["tool_calls"]
                    == [
                        chat_call(
                            "c1",
                            "apply_patch",
                            orjson.dumps(
                                {"input": '*** Begin Patch\n+"quoted"\n*** End Patch\n'}
                            ).decode(),
                        )
                    ]
                    and orjson.loads(m[1]["tool_calls"][0]["function"]["arguments"])
                    == {"input": '*** Begin Patch\n+"quoted"\n*** End Patch\n'}
                )
            },
        ),
        id="custom_tool_call_arguments_are_input_wrapped_raw",
    ),
    pytest.param(
        Case(
            {
                "tools": [APPLY_PATCH],
                "input": [
                    U,
                    {
                        "type": "custom_tool_call",
                        "call_id": "c1",
                        "name": "apply_patch",
                        "input": "p",
                    },
                    {
                        "type": "custom_tool_call_output",
                        "id": "ctco_1",
                        "call_id": "c1",
                        "output": "Done",
                    },
                ],
            },
            {
                "messages": lambda m: (
                    m[2] == {"role": "tool", "tool_call_id": "c1", "content": "Done"}
                )
            },
        ),
        id="custom_tool_call_output_is_tool_message",
    ),
    pytest.param(
        Case(
            {"input": reasoning_then_answer(DEEPSEEK_BLOB)},
            {"messages": answer("Let me think.")},
            profile="deepseek",
        ),
        id="reasoning_sealed_for_deepseek_replayed_as_reasoning_content",
    ),
    pytest.param(
        Case(
            {
                "input": [
                    U,
                    {"type": "reasoning", "summary": [], "encrypted_content": STEP1},
                    call("c1", "f"),
                    {"type": "function_call_output", "call_id": "c1", "output": "o1"},
                    {"type": "reasoning", "summary": [], "encrypted_content": STEP2},
                    call("c2", "f"),
                    {"type": "function_call_output", "call_id": "c2", "output": "o2"},
                ]
            },
            msgs(
                U,
                {
                    "role": "assistant",
                    "content": "",
                    "reasoning_content": "step 1",
                    "tool_calls": [chat_call("c1", "f")],
                },
                {"role": "tool", "tool_call_id": "c1", "content": "o1"},
                {
                    "role": "assistant",
                    "content": "",
                    "reasoning_content": "step 2",
                    "tool_calls": [chat_call("c2", "f")],
                },
                {"role": "tool", "tool_call_id": "c2", "content": "o2"},
            ),
            profile="deepseek",
        ),
        id="reasoning_replayed_on_each_step_of_a_tool_loop",
    ),
    pytest.param(
        Case(
            {"input": reasoning_then_answer(DEEPSEEK_BLOB)},
            {"messages": answer(None)},
            profile="openrouter",
        ),
        id="reasoning_sealed_for_deepseek_not_forwarded_to_other_family",
    ),
    pytest.param(
        Case(
            {"input": reasoning_then_answer("gAAAAABpZ0ZoYWtlLW9wZW5haS1ibG9i")},
            {"messages": answer(None)},
            profile="deepseek",
        ),
        id="reasoning_blob_not_sealed_by_us_never_forwarded",
    ),
    pytest.param(
        Case(
            {"input": reasoning_then_answer(_tamper(DEEPSEEK_BLOB))},
            {"messages": answer(None)},
            profile="deepseek",
        ),
        id="reasoning_tampered_blob_never_forwarded",
    ),
    pytest.param(
        Case(
            {"input": reasoning_then_answer(FOREIGN_KEY_BLOB)},
            {"messages": answer(None)},
            profile="deepseek",
        ),
        id="reasoning_blob_sealed_with_another_key_never_forwarded",
    ),
    pytest.param(
        Case(
            {
                "input": [
                    {
                        "type": "message",
                        "id": "msg_01a2018e-7b89-74b1-8241-fc75eb9bd1c6",
                        "role": "user",
                        "content": "u",
                    },
                    call("c1", "f", id="whatever-42"),
                    {
                        "type": "function_call_output",
                        "id": "ctco_01a2018e",
                        "call_id": "c1",
                        "output": "o",
                    },
                    {
                        "type": "message",
                        "id": "item-without-known-prefix",
                        "role": "assistant",
                        "content": "a",
                    },
                ]
            },
            msgs(
                {"role": "user", "content": "u"},
                {"role": "assistant", "content": "", "tool_calls": [chat_call("c1", "f")]},
                {"role": "tool", "tool_call_id": "c1", "content": "o"},
                {"role": "assistant", "content": "a"},
            ),
        ),
        id="item_ids_of_any_prefix_accepted",
    ),
    # -- tools ---------------------------------------------------------------------------------
    pytest.param(
        Case({"input": "x", "tools": [WEATHER]}, {"tools": [CHAT_WEATHER]}),
        id="function_tool_flat_to_nested",
    ),
    pytest.param(
        Case(
            {"input": "x", "tools": [APPLY_PATCH]},
            {
                "tools": lambda t: (
                    len(t) == 1
                    and t[0]["type"] == "function"
                    and t[0]["function"]["name"] == "apply_patch"
                    and t[0]["function"]["parameters"] == SHIM_PARAMS
                    and APPLY_PATCH["description"] in t[0]["function"]["description"]
                    and LARK.strip() in t[0]["function"]["description"]
                    and "lark" in t[0]["function"]["description"]
                )
            },
        ),
        id="custom_freeform_tool_becomes_function_shim_with_grammar_in_description",
    ),
    pytest.param(
        Case(
            {
                "input": "x",
                "tools": [
                    {
                        "type": "namespace",
                        "name": "mcp",
                        "description": "MCP",
                        "tools": [WEATHER, {"type": "custom", "name": "raw"}],
                    }
                ],
            },
            {
                "tools": lambda t: (
                    [x["function"]["name"] for x in t] == ["mcp__get_weather", "mcp__raw"]
                    and t[0]["function"]["parameters"] == SCHEMA
                    and t[1]["function"]["parameters"] == SHIM_PARAMS
                )
            },
        ),
        id="namespace_tools_flattened_to_ns__name",
    ),
    pytest.param(
        Case(
            {
                "input": [
                    {
                        "type": "additional_tools",
                        "role": "developer",
                        "tools": [
                            WEATHER,
                            {
                                "type": "namespace",
                                "name": "ns",
                                "tools": [{"type": "function", "name": "late"}],
                            },
                        ],
                    },
                    {"role": "user", "content": "x"},
                ]
            },
            {
                "tools": lambda t: (
                    [x["function"]["name"] for x in t] == ["get_weather", "ns__late"]
                ),
                "messages": [{"role": "user", "content": "x"}],
            },
        ),
        id="additional_tools_items_flattened_into_tools_not_messages",
    ),
    pytest.param(
        Case(
            {"input": "x", "tools": [{"type": "web_search"}, WEATHER]},
            {"tools": [CHAT_WEATHER]},
            dropped=["web_search"],
        ),
        id="web_search_dropped_and_reported",
    ),
    pytest.param(
        Case(
            {"input": "x", "tools": [{"type": "web_search"}], "tool_choice": "auto"},
            {},
            absent=("tools", "tool_choice"),
            dropped=["web_search"],
        ),
        id="only_dropped_tools_sends_no_tools",
    ),
    pytest.param(
        Case({"input": "x", "tools": [WEATHER]}, {}, absent=("tool_choice",)),
        id="tool_choice_not_given_is_not_sent",
    ),
    pytest.param(
        Case({"input": "x", "tools": [WEATHER], "tool_choice": "none"}, {"tool_choice": "none"}),
        id="tool_choice_none",
    ),
    pytest.param(
        Case(
            {"input": "x", "tools": [WEATHER], "tool_choice": "required"},
            {"tool_choice": "required"},
        ),
        id="tool_choice_required",
    ),
    pytest.param(
        Case(
            {
                "input": "x",
                "tools": [WEATHER],
                "tool_choice": {"type": "function", "name": "get_weather"},
            },
            {"tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
        ),
        id="tool_choice_named_function",
    ),
    pytest.param(
        Case(
            {
                "input": "x",
                "tools": [APPLY_PATCH],
                "tool_choice": {"type": "custom", "name": "apply_patch"},
            },
            {"tool_choice": {"type": "function", "function": {"name": "apply_patch"}}},
        ),
        id="tool_choice_named_custom_tool_names_its_shim",
    ),
    pytest.param(
        Case(
            {
                "input": "x",
                "tools": [WEATHER],
                "tool_choice": {
                    "type": "allowed_tools",
                    "mode": "required",
                    "tools": [{"type": "function", "name": "get_weather"}],
                },
            },
            {"tool_choice": "required"},
        ),
        id="tool_choice_allowed_tools_required",
    ),
    pytest.param(
        Case(
            {"input": "x", "tools": [WEATHER], "parallel_tool_calls": False},
            {"parallel_tool_calls": False},
        ),
        id="parallel_tool_calls_forwarded",
    ),
    pytest.param(
        Case({"input": "x", "parallel_tool_calls": True}, {}, absent=("parallel_tool_calls",)),
        id="parallel_tool_calls_not_sent_without_tools",
    ),
    # -- sampling and limits -------------------------------------------------------------------
    pytest.param(
        Case(
            {"input": "x", "max_output_tokens": 64},
            {"max_tokens": 64},
            absent=("max_completion_tokens",),
        ),
        id="max_output_tokens_to_max_tokens_generic",
    ),
    pytest.param(
        Case(
            {"input": "x", "max_output_tokens": 64},
            {"max_tokens": 64},
            profile="deepseek",
            absent=("max_completion_tokens",),
        ),
        id="max_output_tokens_to_max_tokens_deepseek",
    ),
    pytest.param(
        Case(
            {"input": "x", "max_output_tokens": 64},
            {"max_completion_tokens": 64},
            profile="openai",
            absent=("max_tokens",),
        ),
        id="max_output_tokens_to_max_completion_tokens_openai",
    ),
    pytest.param(Case({"input": "x", "temperature": 0.2}, {"temperature": 0.2}), id="temperature"),
    pytest.param(Case({"input": "x", "top_p": 0.9}, {"top_p": 0.9}), id="top_p"),
    pytest.param(
        Case({"input": "x", "stop": ["END", "STOP"]}, {"stop": ["END", "STOP"]}), id="stop"
    ),
    pytest.param(Case({"input": "x", "seed": 7}, {"seed": 7}), id="seed"),
    pytest.param(
        Case({"input": "x", "top_logprobs": 3}, {"logprobs": True, "top_logprobs": 3}),
        id="top_logprobs_to_logprobs_and_top_logprobs",
    ),
    pytest.param(Case({"input": "x", "user": "u-1"}, {"user": "u-1"}), id="user_forwarded"),
    pytest.param(
        Case(
            {"input": "x", "safety_identifier": "sid"},
            {"user": "sid"},
            profile="deepseek",
            absent=("safety_identifier",),
        ),
        id="safety_identifier_as_user_where_not_accepted",
    ),
    pytest.param(
        Case(
            {"input": "x", "safety_identifier": "sid"},
            {"safety_identifier": "sid"},
            profile="openai",
        ),
        id="safety_identifier_forwarded_where_accepted",
    ),
    pytest.param(
        Case({"input": "x", "metadata": {"k": "v"}}, {"metadata": {"k": "v"}}, profile="openai"),
        id="metadata_forwarded_where_accepted",
    ),
    pytest.param(
        Case({"input": "x", "metadata": {"k": "v"}}, {}, absent=("metadata",)),
        id="metadata_not_forwarded_generic",
    ),
    pytest.param(
        Case({"input": "x", "metadata": {"k": "v"}}, {}, profile="deepseek", absent=("metadata",)),
        id="metadata_not_forwarded_deepseek",
    ),
    pytest.param(
        Case(
            {
                "input": "x",
                "text": {
                    "format": {
                        "type": "json_schema",
                        "name": "city",
                        "schema": SCHEMA,
                        "strict": True,
                    }
                },
            },
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "city", "schema": SCHEMA, "strict": True},
                }
            },
        ),
        id="text_format_json_schema_to_response_format",
    ),
    pytest.param(
        Case(
            {"input": "x", "text": {"format": {"type": "json_object"}}},
            {"response_format": {"type": "json_object"}},
        ),
        id="text_format_json_object_to_response_format",
    ),
    pytest.param(
        Case({"input": "x", "text": {"format": {"type": "text"}}}, {}, absent=("response_format",)),
        id="text_format_text_sends_nothing",
    ),
    # -- reasoning -----------------------------------------------------------------------------
    pytest.param(
        Case(
            {"input": "x", "reasoning": {"effort": "high"}},
            {"reasoning_effort": "high"},
            absent=("thinking", "reasoning"),
        ),
        id="reasoning_effort_generic",
    ),
    pytest.param(
        Case(
            {"input": "x", "reasoning": {"effort": "low", "summary": "auto"}},
            {"reasoning_effort": "low"},
            profile="openai",
            absent=("thinking", "reasoning"),
        ),
        id="reasoning_effort_openai",
    ),
    pytest.param(
        Case(
            {"input": "x", "reasoning": {"effort": "medium"}},
            {"thinking": {"type": "enabled"}},
            profile="deepseek",
            absent=("reasoning_effort", "reasoning"),
        ),
        id="reasoning_effort_deepseek_thinking_enabled",
    ),
    pytest.param(
        Case(
            {"input": "x", "reasoning": {"effort": "none"}},
            {"thinking": {"type": "disabled"}},
            profile="deepseek",
        ),
        id="reasoning_effort_none_deepseek_thinking_disabled",
    ),
    pytest.param(
        Case(
            {"input": "x", "reasoning": {"effort": "high"}},
            {"reasoning": {"effort": "high"}},
            profile="openrouter",
            absent=("reasoning_effort", "thinking"),
        ),
        id="reasoning_effort_openrouter_reasoning_object",
    ),
    # -- stream and client-only fields ---------------------------------------------------------
    pytest.param(
        Case(
            {"input": "x", "stream": True},
            {"stream": True, "stream_options": {"include_usage": True}},
        ),
        id="streaming_adds_stream_options_include_usage",
    ),
    pytest.param(
        Case({"input": "x", "stream": False}, {}, absent=("stream", "stream_options")),
        id="non_streaming_sends_no_stream_fields",
    ),
    pytest.param(
        Case(
            {
                "input": "x",
                "client_metadata": {"x-codex-installation-id": "i"},
                "prompt_cache_key": "k",
                "include": ["reasoning.encrypted_content"],
                "store": False,
                "text": {"verbosity": "low"},
            },
            {"messages": [{"role": "user", "content": "x"}]},
            profile="deepseek",
            absent=(
                "client_metadata",
                "prompt_cache_key",
                "include",
                "store",
                "text",
                "verbosity",
                "response_format",
            ),
        ),
        id="codex_fields_never_forwarded",
    ),
    pytest.param(
        Case(
            {"input": "x", "prompt_cache_key": "k", "store": False},
            {},
            absent=("prompt_cache_key", "store"),
        ),
        id="prompt_cache_key_not_forwarded_generic",
    ),
    pytest.param(
        Case(
            {"input": "x", "prompt_cache_key": "k", "store": False},
            {"prompt_cache_key": "k"},
            profile="openai",
            absent=("store",),
        ),
        id="prompt_cache_key_forwarded_openai_only",
    ),
]


@pytest.mark.parametrize("case", CASES)
def test_request_rule(case: Case) -> None:
    dropped: list[str] = []
    out = translate(case.body, case.profile, dropped=dropped)
    orjson.dumps(out)  # the body must be plain JSON (no hub objects leak)
    assert out["model"] == "up-model"
    for key, want in case.expect.items():
        assert key in out, f"{key!r} missing from {out}"
        if callable(want):
            assert want(out[key]), f"{key!r} = {out[key]!r}"
        else:
            assert out[key] == want
    for key in case.absent:
        assert key not in out, f"{key!r} must not be sent: {out}"
    for message in out["messages"]:
        assert not any(k.startswith("_") for k in message), message
    if case.dropped is not None:
        assert dropped == case.dropped


@dataclass
class Bad:
    body: dict[str, Any] | bytes
    error: type[Exception]
    param: str | None
    mentions: str = ""


ERRORS = [
    pytest.param(
        Bad({"input": "x", "temperature": "hot"}, InvalidRequest, "temperature", "temperature"),
        id="temperature_not_a_number",
    ),
    pytest.param(
        Bad({"input": "x", "stream": "yes"}, InvalidRequest, "stream", "stream"),
        id="stream_not_a_boolean",
    ),
    pytest.param(
        Bad(
            {"input": "x", "max_output_tokens": True},
            InvalidRequest,
            "max_output_tokens",
            "max_output_tokens",
        ),
        id="max_output_tokens_boolean_is_not_an_integer",
    ),
    pytest.param(
        Bad({"input": "x", "tools": {"type": "function"}}, InvalidRequest, "tools"),
        id="tools_not_an_array",
    ),
    pytest.param(Bad({"input": 3}, InvalidRequest, "input"), id="input_not_string_or_array"),
    pytest.param(
        Bad({"model": None, "input": "x"}, InvalidRequest, "model", "model"), id="model_missing"
    ),
    pytest.param(
        Bad({"input": [{"role": "tool", "content": "x"}]}, InvalidRequest, "input[0].role", "role"),
        id="unknown_role",
    ),
    pytest.param(
        Bad(b'{"model": "m", "input": ', MalformedJSON, None, "JSON"), id="malformed_json"
    ),
    pytest.param(Bad(b"[1, 2]", MalformedJSON, None, "object"), id="body_not_an_object"),
    pytest.param(
        Bad({"input": "x", "conversation": "conv_1"}, Untranslatable, "conversation", "OpenAI"),
        id="conversation_refused_not_dropped",
    ),
    pytest.param(
        Bad({"input": "x", "conversation": {"id": "conv_1"}}, Untranslatable, "conversation"),
        id="conversation_object_refused",
    ),
    pytest.param(
        Bad({"input": "x", "prompt": {"id": "pmpt_1"}}, Untranslatable, "prompt", "template"),
        id="prompt_template_refused_not_dropped",
    ),
    pytest.param(
        Bad(
            {"input": [U, {"type": "mcp_approval_request", "id": "x"}]},
            Untranslatable,
            "input[1]",
            "mcp_approval_request",
        ),
        id="unknown_item_type_untranslatable_naming_it",
    ),
    pytest.param(
        Bad(
            {"input": [{"type": "item_reference", "id": "msg_1"}]},
            Untranslatable,
            "input[0]",
            "item_reference",
        ),
        id="item_reference_refused",
    ),
    pytest.param(
        Bad(
            {
                "input": "x",
                "tools": [WEATHER, {"type": "file_search", "vector_store_ids": ["vs_1"]}],
            },
            Untranslatable,
            "tools[1].type",
            "file_search",
        ),
        id="file_search_tool_untranslatable_naming_it",
    ),
    pytest.param(
        Bad(
            {"input": "x", "text": {"format": {"type": "yaml"}}},
            Untranslatable,
            "text.format",
            "yaml",
        ),
        id="unknown_text_format_untranslatable",
    ),
]


@pytest.mark.parametrize("bad", ERRORS)
def test_request_refused(bad: Bad) -> None:
    with pytest.raises(bad.error) as info:
        body = parse_json_object(bad.body) if isinstance(bad.body, bytes) else bad.body
        translate(body, "deepseek")
    err = info.value
    assert isinstance(err, InvalidRequest)
    assert err.http_status == 400
    assert err.param == bad.param
    assert bad.mentions in err.message
