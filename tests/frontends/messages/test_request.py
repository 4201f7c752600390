"""Messages request → hub request → Chat Completions body: one table row per decoding rule.

Each row is a Messages body (``model``, ``max_tokens`` and a user message defaulted), what the
``HubRequest`` must hold (``hub``: attribute → value or predicate) and what the Chat Completions
body for the row's profile must hold (``chat``: key → value or predicate). ``ERRORS`` lists the
requests that must be refused, with the error class and a fragment of the message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.upstreams.chat.pipeline import SEALER
from wirebridge.errors import InvalidRequest, Untranslatable
from wirebridge.hub.seal import ProviderData

from .support import decode, to_chat

PNG_B64 = "iVBORw0KGgo="
PDF_B64 = "JVBERi0xLjQK"
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
WEATHER = {"name": "get_weather", "description": "Weather for a city.", "input_schema": SCHEMA}
CHAT_WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "description": "Weather for a city.", "parameters": SCHEMA},
}
DEEPSEEK_SIG = SEALER.seal(ProviderData("deepseek", {"reasoning_content": "Let me think."}))
OPENAI_SIG = SEALER.seal(ProviderData("openai", {"reasoning_content": "Other family."}))
USER = {"role": "user", "content": "weather?"}


def tool_turn(*assistant: dict[str, Any], result: Any = "sunny") -> list[dict[str, Any]]:
    """user → assistant(blocks) → user(tool_result for toolu_1)."""
    return [
        USER,
        {"role": "assistant", "content": list(assistant)},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", **result}]}
        if isinstance(result, dict)
        else {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": result}],
        },
    ]


TOOL_USE = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}
CHAT_CALL = {
    "id": "toolu_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
}


def thinking(signature: Any, text: str = "Let me think.") -> dict[str, Any]:
    return {"type": "thinking", "thinking": text, "signature": signature}


def assistant_of(chat: dict[str, Any]) -> dict[str, Any]:
    (found,) = [m for m in chat["messages"] if m["role"] == "assistant"]
    return found


@dataclass
class Case:
    body: dict[str, Any]
    hub: dict[str, Any | Callable[[Any], bool]] = field(default_factory=dict)
    chat: dict[str, Any | Callable[[Any], bool]] = field(default_factory=dict)
    profile: str = "deepseek"
    dropped: list[str] | None = None


def msgs(*messages: dict[str, Any]) -> dict[str, Any]:
    return {"messages": list(messages)}


CASES = [
    # -- system ----------------------------------------------------------------------------------
    pytest.param(
        Case(
            {"system": "Be brief."},
            hub={"instructions": "Be brief."},
            chat=msgs(
                {"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}
            ),
        ),
        id="system_string_is_instructions",
    ),
    pytest.param(
        Case(
            {
                "system": [
                    {"type": "text", "text": "A"},
                    {"type": "text", "text": "B", "cache_control": {"type": "ephemeral"}},
                ]
            },
            hub={"instructions": "A\n\nB"},
            chat={"messages": lambda m: m[0] == {"role": "system", "content": "A\n\nB"}},
        ),
        id="system_blocks_joined_cache_control_dropped",
    ),
    pytest.param(
        Case(
            {
                "system": "S",
                "messages": [
                    {"role": "user", "content": "u"},
                    {"role": "system", "content": "mid"},
                ],
            },
            hub={
                "input": [
                    {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": "u"}],
                    },
                    {
                        "type": "message",
                        "role": "system",
                        "content": [{"type": "input_text", "text": "mid"}],
                    },
                ]
            },
            chat=msgs({"role": "system", "content": "S\n\nmid"}, {"role": "user", "content": "u"}),
        ),
        id="system_role_inside_messages_kept_in_place_merged_by_chat",
    ),
    # -- user content ----------------------------------------------------------------------------
    pytest.param(
        Case(
            {"messages": [{"role": "user", "content": "hello"}]},
            hub={
                "input": [
                    {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": "hello"}],
                    }
                ]
            },
            chat=msgs({"role": "user", "content": "hello"}),
        ),
        id="string_content_is_one_text_part",
    ),
    pytest.param(
        Case(
            msgs(
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "a"},
                        {"type": "text", "text": "b", "cache_control": {"type": "ephemeral"}},
                    ],
                }
            ),
            hub={
                "input": lambda items: (
                    items[0]["content"][1]
                    == {"type": "input_text", "text": "b", "_cache_control": {"type": "ephemeral"}}
                )
            },
            chat=msgs({"role": "user", "content": "a\nb"}),
        ),
        id="text_blocks_keep_cache_control_as_private_key_not_sent_to_chat",
    ),
    pytest.param(
        Case(
            msgs(
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "image",
                            "source": {
                                "type": "base64",
                                "media_type": "image/png",
                                "data": PNG_B64,
                            },
                        },
                        {"type": "text", "text": "what is it?"},
                    ],
                }
            ),
            hub={
                "input": lambda items: (
                    items[0]["content"][0]
                    == {
                        "type": "input_image",
                        "image_url": f"data:image/png;base64,{PNG_B64}",
                        "detail": "auto",
                    }
                )
            },
            chat=msgs(
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "image_url",
                            "image_url": {
                                "url": f"data:image/png;base64,{PNG_B64}",
                                "detail": "auto",
                            },
                        },
                        {"type": "text", "text": "what is it?"},
                    ],
                }
            ),
        ),
        id="image_base64_becomes_data_url",
    ),
    pytest.param(
        Case(
            msgs(
                {
                    "role": "user",
                    "content": [
                        {"type": "image", "source": {"type": "url", "url": "https://x/a.png"}}
                    ],
                }
            ),
            hub={"input": lambda items: items[0]["content"][0]["image_url"] == "https://x/a.png"},
        ),
        id="image_url_source",
    ),
    pytest.param(
        Case(
            msgs(
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "document",
                            "title": "spec.pdf",
                            "source": {
                                "type": "base64",
                                "media_type": "application/pdf",
                                "data": PDF_B64,
                            },
                        }
                    ],
                }
            ),
            hub={
                "input": lambda items: (
                    items[0]["content"][0]
                    == {
                        "type": "input_file",
                        "file_data": f"data:application/pdf;base64,{PDF_B64}",
                        "filename": "spec.pdf",
                    }
                )
            },
            chat=msgs(
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "file",
                            "file": {
                                "file_data": f"data:application/pdf;base64,{PDF_B64}",
                                "filename": "spec.pdf",
                            },
                        }
                    ],
                }
            ),
        ),
        id="document_base64_pdf_becomes_input_file",
    ),
    pytest.param(
        Case(
            msgs(
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "document",
                            "source": {
                                "type": "base64",
                                "media_type": "application/pdf",
                                "data": PDF_B64,
                            },
                        }
                    ],
                }
            ),
            hub={"input": lambda items: items[0]["content"][0]["filename"] == "document.pdf"},
        ),
        id="document_without_title_gets_a_filename",
    ),
    pytest.param(
        Case(
            msgs(
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "document",
                            "title": "Notes",
                            "source": {"type": "text", "media_type": "text/plain", "data": "n1"},
                        }
                    ],
                }
            ),
            chat=msgs({"role": "user", "content": "Notes\n\nn1"}),
        ),
        id="document_text_source_becomes_text",
    ),
    # -- tool use and results --------------------------------------------------------------------
    pytest.param(
        Case(
            {"messages": tool_turn(TOOL_USE), "tools": [WEATHER]},
            hub={
                "input": lambda items: (
                    items[1]
                    == {
                        "type": "function_call",
                        "call_id": "toolu_1",
                        "name": "get_weather",
                        "arguments": '{"city":"Paris"}',
                    }
                    and items[2]
                    == {"type": "function_call_output", "call_id": "toolu_1", "output": "sunny"}
                )
            },
            chat=msgs(
                {"role": "user", "content": "weather?"},
                {"role": "assistant", "content": "", "tool_calls": [CHAT_CALL]},
                {"role": "tool", "tool_call_id": "toolu_1", "content": "sunny"},
            ),
        ),
        id="tool_use_and_tool_result_become_call_and_output",
    ),
    pytest.param(
        Case(
            {"messages": tool_turn({"type": "text", "text": "Checking."}, TOOL_USE)},
            chat={
                "messages": lambda m: (
                    m[1] == {"role": "assistant", "content": "Checking.", "tool_calls": [CHAT_CALL]}
                )
            },
        ),
        id="assistant_text_and_tool_use_share_one_chat_message",
    ),
    pytest.param(
        Case(
            {
                "messages": tool_turn(
                    TOOL_USE,
                    result={
                        "content": [
                            {"type": "text", "text": "map:"},
                            {
                                "type": "image",
                                "source": {
                                    "type": "base64",
                                    "media_type": "image/png",
                                    "data": PNG_B64,
                                },
                            },
                        ]
                    },
                )
            },
            chat={
                "messages": lambda m: (
                    m[2] == {"role": "tool", "tool_call_id": "toolu_1", "content": "map:"}
                    and m[3]["role"] == "user"
                    and m[3]["content"][0]["type"] == "image_url"
                )
            },
        ),
        id="tool_result_images_follow_as_a_user_message",
    ),
    pytest.param(
        Case(
            {"messages": tool_turn(TOOL_USE, result={"content": "boom", "is_error": True})},
            hub={
                "input": lambda items: items[2]["output"] == "Error: boom" and items[2]["_is_error"]
            },
            chat={"messages": lambda m: m[2]["content"] == "Error: boom"},
        ),
        id="tool_result_is_error_flagged_in_the_text",
    ),
    pytest.param(
        Case(
            {
                "messages": tool_turn(
                    TOOL_USE,
                    result={
                        "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]
                    },
                )
            },
            hub={"input": lambda items: items[2]["output"] == "a\nb"},
        ),
        id="tool_result_text_blocks_joined",
    ),
    pytest.param(
        Case(
            {"messages": tool_turn(TOOL_USE, result={})},
            hub={"input": lambda items: items[2]["output"] == ""},
        ),
        id="tool_result_without_content_is_empty",
    ),
    pytest.param(
        Case(
            {
                "messages": [
                    USER,
                    {"role": "assistant", "content": [TOOL_USE]},
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "also this"},
                            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
                        ],
                    },
                ]
            },
            chat={
                "messages": lambda m: (
                    [x["role"] for x in m] == ["user", "assistant", "tool", "user"]
                    and m[3]["content"] == "also this"
                )
            },
        ),
        id="tool_results_go_before_the_rest_of_their_message",
    ),
    pytest.param(
        Case(
            {
                "messages": tool_turn(
                    TOOL_USE,
                    result={"content": [{"type": "tool_reference", "tool_name": "Grep"}]},
                )
            },
            hub={"input": lambda items: items[2]["output"] == "Tool loaded: Grep"},
        ),
        id="tool_reference_in_tool_result_becomes_text",
    ),
    # -- thinking --------------------------------------------------------------------------------
    pytest.param(
        Case(
            {"messages": tool_turn(thinking(DEEPSEEK_SIG), TOOL_USE)},
            hub={
                "input": lambda items: (
                    items[1]["encrypted_content"] == DEEPSEEK_SIG
                    and items[1]["_provider"]
                    == ProviderData("deepseek", {"reasoning_content": "Let me think."})
                )
            },
            chat={"messages": lambda m: m[1]["reasoning_content"] == "Let me think."},
        ),
        id="sealed_signature_replays_reasoning_content_to_its_family",
    ),
    pytest.param(
        Case(
            {"messages": tool_turn(thinking(DEEPSEEK_SIG, text=""), TOOL_USE)},
            chat={"messages": lambda m: m[1]["reasoning_content"] == "Let me think."},
        ),
        id="sealed_signature_with_omitted_thinking_text_still_replays",
    ),
    pytest.param(
        Case(
            {"messages": tool_turn(thinking("EqQBCkYIBxgCKkBSig=="), TOOL_USE)},
            hub={
                "input": lambda items: (
                    "encrypted_content" not in items[1]
                    and items[1]["_provider"].family == "anthropic"
                    and items[1]["_provider"].data["signature"] == "EqQBCkYIBxgCKkBSig=="
                )
            },
            chat={"messages": lambda m: "reasoning_content" not in m[1]},
        ),
        id="anthropic_signature_kept_for_anthropic_only_never_sent_to_chat",
    ),
    pytest.param(
        Case(
            {"messages": tool_turn(thinking(OPENAI_SIG), TOOL_USE)},
            chat={"messages": lambda m: "reasoning_content" not in m[1]},
        ),
        id="sealed_signature_of_another_family_not_replayed",
    ),
    pytest.param(
        Case(
            {"messages": tool_turn({"type": "redacted_thinking", "data": "opaque"}, TOOL_USE)},
            hub={
                "input": lambda items: (
                    items[1]["_provider"]
                    == ProviderData("anthropic", {"redacted_thinking": "opaque"})
                )
            },
            chat={"messages": lambda m: "reasoning_content" not in m[1]},
        ),
        id="redacted_thinking_anthropic_only",
    ),
    pytest.param(
        Case(
            msgs(
                USER,
                {
                    "role": "assistant",
                    "content": [{"type": "text", "text": "Hel"}, {"type": "text", "text": "lo"}],
                },
                {"role": "user", "content": "again"},
            ),
            hub={
                "input": lambda items: (
                    len(items[1]["content"]) == 2 and items[1]["role"] == "assistant"
                )
            },
            chat={"messages": lambda m: m[1] == {"role": "assistant", "content": "Hello"}},
        ),
        id="adjacent_assistant_text_blocks_one_message",
    ),
    # -- parameters ------------------------------------------------------------------------------
    pytest.param(
        Case({"max_tokens": 321}, hub={"max_output_tokens": 321}, chat={"max_tokens": 321}),
        id="max_tokens_is_max_output_tokens",
    ),
    pytest.param(
        Case({"stop_sequences": ["END"]}, hub={"stop": ["END"]}, chat={"stop": ["END"]}),
        id="stop_sequences_is_stop",
    ),
    pytest.param(
        Case(
            {"temperature": 0.2, "top_p": 0.9, "top_k": 40},
            hub={"temperature": 0.2, "top_p": 0.9, "extra": lambda e: e["top_k"] == 40},
            chat={"temperature": 0.2, "top_p": 0.9, "top_k": None},
        ),
        id="sampling_temperature_top_p_top_k_in_extra",
    ),
    pytest.param(
        Case({"metadata": {"user_id": "u-1"}}, hub={"user": "u-1"}, chat={"user": "u-1"}),
        id="metadata_user_id_is_user",
    ),
    pytest.param(
        Case({"stream": True}, hub={"stream": True}, chat={"stream": True}),
        id="stream",
    ),
    pytest.param(
        Case(
            {"context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]}},
            hub={"extra": lambda e: "context_management" in e},
            chat={"context_management": None},
        ),
        id="context_management_accepted_in_extra",
    ),
    pytest.param(
        Case({"thinking": {"type": "enabled", "budget_tokens": 1024}}, hub={"effort": "low"}),
        id="thinking_budget_under_4k_low",
    ),
    pytest.param(
        Case({"thinking": {"type": "enabled", "budget_tokens": 8000}}, hub={"effort": "medium"}),
        id="thinking_budget_under_16k_medium",
    ),
    pytest.param(
        Case(
            {"thinking": {"type": "enabled", "budget_tokens": 31999}},
            hub={"effort": "high"},
            chat={"thinking": {"type": "enabled"}},
        ),
        id="thinking_budget_16k_or_more_high",
    ),
    pytest.param(
        Case({"thinking": {"type": "adaptive"}}, hub={"effort": "medium"}),
        id="thinking_adaptive_medium",
    ),
    pytest.param(
        Case(
            {"thinking": {"type": "adaptive"}, "output_config": {"effort": "high"}},
            hub={"effort": "high", "extra": lambda e: e["output_config"] == {"effort": "high"}},
        ),
        id="output_config_effort_wins_over_adaptive",
    ),
    pytest.param(
        Case({"output_config": {"effort": "max"}}, hub={"effort": "high"}),
        id="output_config_effort_max_is_high",
    ),
    pytest.param(
        Case(
            {"thinking": {"type": "disabled"}, "output_config": {"effort": "high"}},
            hub={"effort": "none"},
            chat={"thinking": {"type": "disabled"}},
        ),
        id="thinking_disabled_is_no_reasoning",
    ),
    pytest.param(
        Case({}, hub={"reasoning": None}, chat={"thinking": None}),
        id="no_thinking_leaves_reasoning_to_the_upstream",
    ),
    pytest.param(
        Case(
            {"output_config": {"format": {"type": "json_schema", "schema": SCHEMA}}},
            chat={
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "output", "schema": SCHEMA, "strict": True},
                }
            },
        ),
        id="output_config_format_json_schema",
    ),
    # -- tools -----------------------------------------------------------------------------------
    pytest.param(
        Case({"tools": [WEATHER]}, chat={"tools": [CHAT_WEATHER], "tool_choice": "auto"}),
        id="custom_tools_become_functions",
    ),
    pytest.param(
        Case(
            {"tools": [{**WEATHER, "type": "custom", "strict": True}]},
            chat={
                "tools": [
                    {"type": "function", "function": {**CHAT_WEATHER["function"], "strict": True}}
                ]
            },
        ),
        id="tool_type_custom_and_strict",
    ),
    pytest.param(
        Case(
            {
                "tools": [
                    WEATHER,
                    {"type": "web_search_20250305", "name": "web_search", "max_uses": 5},
                ]
            },
            chat={"tools": [CHAT_WEATHER]},
            dropped=["web_search_20250305"],
        ),
        id="server_web_search_dropped_by_drop_tool_types",
    ),
    pytest.param(
        Case(
            {
                "tools": [
                    {**WEATHER, "strict": True},
                    {"name": "ls tree", "input_schema": SCHEMA, "strict": "yes"},
                    {"name": "ls tree", "input_schema": {}},  # the first of a name wins
                ]
            },
            hub={
                "tools": lambda ts: (
                    [(t.name, t.wire_name, t.description, t.strict) for t in ts.tools]
                    == [
                        ("get_weather", "get_weather", "Weather for a city.", True),
                        ("ls tree", "ls_tree", None, None),
                    ]
                    and ts.tools[1].parameters == SCHEMA
                    and ts.find("ls tree") is ts.tools[1]
                    and ts.declared
                    == [
                        {
                            "type": "function",
                            "name": "get_weather",
                            "parameters": SCHEMA,
                            "description": "Weather for a city.",
                            "strict": True,
                        },
                        {
                            "type": "function",
                            "name": "ls tree",
                            "parameters": SCHEMA,
                            "description": None,
                            "strict": False,
                        },
                        {
                            "type": "function",
                            "name": "ls tree",
                            "parameters": {},
                            "description": None,
                            "strict": False,
                        },
                    ]
                )
            },
        ),
        id="tools_as_hub_tools_and_as_a_response_echoes_them",
    ),
    pytest.param(
        Case(
            {"tools": [{**WEATHER, "defer_loading": True}]},
            chat={"tools": [CHAT_WEATHER]},
        ),
        id="deferred_tools_declared_like_any_other",
    ),
    pytest.param(
        Case({"tools": [WEATHER], "tool_choice": {"type": "auto"}}, chat={"tool_choice": "auto"}),
        id="tool_choice_auto",
    ),
    pytest.param(
        Case(
            {"tools": [WEATHER], "tool_choice": {"type": "any"}}, chat={"tool_choice": "required"}
        ),
        id="tool_choice_any_is_required",
    ),
    pytest.param(
        Case(
            {"tools": [WEATHER], "tool_choice": {"type": "tool", "name": "get_weather"}},
            chat={"tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
        ),
        id="tool_choice_tool_is_that_function",
    ),
    pytest.param(
        Case({"tools": [WEATHER], "tool_choice": {"type": "none"}}, chat={"tool_choice": "none"}),
        id="tool_choice_none",
    ),
    pytest.param(
        Case(
            {
                "tools": [WEATHER],
                "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
            },
            hub={"parallel_tool_calls": False},
            chat={"parallel_tool_calls": False},
            profile="openai",
        ),
        id="disable_parallel_tool_use",
    ),
]


def _matches(expected: Any, actual: Any) -> bool:
    return expected(actual) if callable(expected) else expected == actual


@pytest.mark.parametrize("case", CASES)
def test_decoding_rule(case: Case) -> None:
    dropped: list[str] = []
    req = decode(case.body, dropped=dropped)
    assert req.source == "messages"
    for name, expected in case.hub.items():
        actual = getattr(req, name)
        assert _matches(expected, actual), f"hub {name}: {actual!r}"
    chat = to_chat(case.body, case.profile)
    for key, expected in case.chat.items():
        actual = chat.get(key)
        assert _matches(expected, actual), f"chat {key}: {actual!r}"
    if case.dropped is not None:
        assert dropped == case.dropped


ERRORS = [
    pytest.param({"model": None}, InvalidRequest, "model: Field required", id="missing_model"),
    pytest.param({"model": 5}, InvalidRequest, "model: Input should be", id="model_not_string"),
    pytest.param({"messages": None}, InvalidRequest, "messages: Field required", id="no_messages"),
    pytest.param(
        {"max_tokens": None}, InvalidRequest, "max_tokens: Field required", id="no_max_tokens"
    ),
    pytest.param({"max_tokens": 0}, InvalidRequest, "at least 1", id="max_tokens_zero"),
    pytest.param({"max_tokens": "9"}, InvalidRequest, "valid integer", id="max_tokens_string"),
    pytest.param({"max_tokens": True}, InvalidRequest, "valid integer", id="max_tokens_bool"),
    pytest.param({"system": 5}, InvalidRequest, "system", id="system_wrong_type"),
    pytest.param(
        {"system": [{"type": "image"}]}, InvalidRequest, "system[0]", id="system_non_text_block"
    ),
    pytest.param(
        msgs({"role": "tool", "content": "x"}), InvalidRequest, "messages[0].role", id="bad_role"
    ),
    pytest.param(
        msgs({"role": "user", "content": 5}),
        InvalidRequest,
        "messages[0].content",
        id="content_type",
    ),
    pytest.param(
        msgs({"role": "user", "content": [{"type": "video"}]}),
        Untranslatable,
        "messages[0].content[0].type",
        id="unknown_block",
    ),
    pytest.param(
        msgs({"role": "user", "content": [{"text": "no type"}]}),
        InvalidRequest,
        "'type'",
        id="block_without_type",
    ),
    pytest.param(
        msgs(
            {
                "role": "user",
                "content": [{"type": "image", "source": {"type": "file", "file_id": "f"}}],
            }
        ),
        Untranslatable,
        "image source 'file'",
        id="image_file_source",
    ),
    pytest.param(
        msgs(
            {
                "role": "assistant",
                "content": [{"type": "server_tool_use", "id": "s", "name": "web_search"}],
            }
        ),
        Untranslatable,
        "server_tool_use",
        id="server_tool_use_history",
    ),
    pytest.param(
        msgs({"role": "assistant", "content": [{**TOOL_USE, "input": "x"}]}),
        InvalidRequest,
        "input: Input should be an object",
        id="tool_use_input_not_object",
    ),
    pytest.param(
        msgs({"role": "user", "content": [{"type": "tool_result", "content": "x"}]}),
        InvalidRequest,
        "tool_use_id",
        id="tool_result_without_id",
    ),
    pytest.param(
        {"tools": [{"name": "x"}]}, InvalidRequest, "tools[0].input_schema", id="tool_no_schema"
    ),
    pytest.param(
        {"tools": [WEATHER, {"name": 7, "input_schema": SCHEMA}]},
        InvalidRequest,
        "tools[1].name: Field required (a string)",
        id="tool_name_not_a_string",
    ),
    pytest.param(
        {"tools": [{"type": "bash_20250124", "name": "bash"}]},
        Untranslatable,
        "drop_tool_types",
        id="server_tool_not_droppable",
    ),
    pytest.param(
        {"tool_choice": {"type": "function"}}, InvalidRequest, "tool_choice.type", id="tool_choice"
    ),
    pytest.param(
        {"tool_choice": {"type": "tool"}}, InvalidRequest, "tool_choice.name", id="tool_choice_name"
    ),
    pytest.param({"thinking": {"type": "on"}}, InvalidRequest, "thinking.type", id="thinking_type"),
    pytest.param(
        {"thinking": {"type": "enabled"}}, InvalidRequest, "budget_tokens", id="thinking_no_budget"
    ),
    pytest.param(
        {"output_config": {"effort": "huge"}}, InvalidRequest, "output_config.effort", id="effort"
    ),
    pytest.param(
        {"output_config": {"format": {"type": "regex"}}},
        Untranslatable,
        "output_config.format",
        id="output_format_type",
    ),
    pytest.param(
        {"mcp_servers": [{"type": "url", "url": "https://mcp", "name": "m"}]},
        Untranslatable,
        "mcp_servers",
        id="mcp_servers",
    ),
    pytest.param(
        {"stop_sequences": ["a", 1]}, InvalidRequest, "stop_sequences", id="stop_not_strings"
    ),
    pytest.param(
        {"metadata": {"user_id": 7}}, InvalidRequest, "metadata.user_id", id="user_id_not_string"
    ),
]


@pytest.mark.parametrize(("body", "error", "fragment"), ERRORS)
def test_refused(body: dict[str, Any], error: type[Exception], fragment: str) -> None:
    with pytest.raises(error) as caught:
        decode(body)
    assert fragment in str(caught.value), caught.value


def test_count_tokens_decoding_needs_no_max_tokens() -> None:
    from wirebridge.config.model import DEFAULT_DROP_TOOL_TYPES
    from wirebridge.frontends.messages.request import decode_request

    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    req = decode_request(body, SEALER, DEFAULT_DROP_TOOL_TYPES, [], require_max_tokens=False)
    assert req.max_output_tokens is None


def test_decoding_leaves_the_body_untouched() -> None:
    body = {"messages": tool_turn(thinking(DEEPSEEK_SIG), TOOL_USE), "tools": [WEATHER]}
    before = repr(body)
    decode(body)
    assert repr(body) == before
