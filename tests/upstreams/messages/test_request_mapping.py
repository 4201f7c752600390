"""Hub request → Anthropic Messages request: one table row per mapping rule.

Each row is a client body (a Responses body unless ``via`` names the Chat Completions or the
Messages front door), what the encoded Anthropic body must hold (``expect``: key → exact value,
or a predicate) and must not hold (``absent``). Every body goes through the front door's
``decode_request`` and ``encode_request`` as the gateway does it, and then through the fake
upstream's ``check_request``: each one must be a request Anthropic accepts. ``ERRORS`` lists what
must be refused, with the error and its ``param``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from wirebridge.errors import InvalidRequest, Untranslatable
from wirebridge.hub.request import HubRequest
from wirebridge.hub.seal import ProviderData
from wirebridge.upstreams.messages import DEFAULT_SETTINGS, AnthropicSettings
from wirebridge.upstreams.messages.request import encode_request
from wirebridge.upstreams.messages.turns import NO_RESULT

from .pipeline import SEALER, chat_body, messages_body, translate

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city.",
    "parameters": SCHEMA,
}
LARK = 'start: begin_patch hunk+ end_patch\nbegin_patch: "*** Begin Patch" LF\n'
APPLY_PATCH = {
    "type": "custom",
    "name": "apply_patch",
    "description": "Edit files. FREEFORM.",
    "format": {"type": "grammar", "syntax": "lark", "definition": LARK},
}
SHIM = {
    "type": "object",
    "properties": {"input": {"type": "string", "description": "The raw tool input."}},
    "required": ["input"],
    "additionalProperties": False,
}
PNG_B64 = "iVBORw0KGgo="
PDF_B64 = "JVBERi0xLjQK"
EPHEMERAL = {"type": "ephemeral"}
SIG = "EqQBCkYIBxgCKkBvX0f1Zr5Jm3+signature=="
THOUGHT = SEALER.seal(ProviderData("anthropic", {"thinking": "Let me think.", "signature": SIG}))
REDACTED = SEALER.seal(ProviderData("anthropic", {"redacted": "EmwKAhgBEgy3va3p"}))
DEEPSEEK = SEALER.seal(ProviderData("deepseek", {"reasoning_content": "secret"}))
U = {"role": "user", "content": "x"}


def text(t: str, **extra: Any) -> dict[str, Any]:
    return {"type": "text", "text": t, **extra}


def user(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"role": "user", "content": list(blocks)}


def assistant(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"role": "assistant", "content": list(blocks)}


def call(call_id: str, name: str = "get_weather", arguments: str = '{"city":"Paris"}') -> Any:
    return {"type": "function_call", "call_id": call_id, "name": name, "arguments": arguments}


def output(call_id: str, out: Any = "sunny") -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": call_id, "output": out}


def tool_use(call_id: str, name: str = "get_weather", inp: Any = None) -> dict[str, Any]:
    return {
        "type": "tool_use",
        "id": call_id,
        "name": name,
        "input": {"city": "Paris"} if inp is None else inp,
    }


def result(call_id: str, content: Any = "sunny", **extra: Any) -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": call_id, "content": content, **extra}


def rs(blob: str) -> dict[str, Any]:
    return {"type": "reasoning", "summary": [], "encrypted_content": blob}


def say(t: str) -> dict[str, Any]:
    return {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": t}]}


def thinking(t: str = "Let me think.", sig: str = SIG) -> dict[str, Any]:
    return {"type": "thinking", "thinking": t, "signature": sig}


def msgs(*messages: dict[str, Any]) -> dict[str, Any]:
    return {"messages": list(messages)}


@dataclass
class Case:
    body: dict[str, Any]
    expect: dict[str, Any | Callable[[Any], bool]] = field(default_factory=dict)
    absent: tuple[str, ...] = ()
    via: str = "responses"  # responses | chat | messages
    settings: AnthropicSettings = DEFAULT_SETTINGS


def P(case: Case | Bad, id: str) -> Any:
    return pytest.param(case, id=id)


WITH_TOOLS = {"tools": [WEATHER]}

CASES = [
    # -- system and messages -------------------------------------------------------------------
    P(Case({"input": "hello"}, msgs(user(text("hello"))), ("system",)), "string_input_one_turn"),
    P(Case({"input": "x", "instructions": "Be terse."}, {"system": "Be terse."}), "instructions"),
    P(
        Case(
            {
                "instructions": "I",
                "input": [
                    {"role": "system", "content": "S"},
                    U,
                    {"role": "developer", "content": [{"type": "input_text", "text": "D"}]},
                ],
            },
            {"system": "I\n\nS\n\nD", **msgs(user(text("x")))},
        ),
        "system_and_developer_items_join_system",
    ),
    P(
        Case(
            {
                "system": "top",
                "messages": [
                    {"role": "system", "content": [text("cached", cache_control=EPHEMERAL)]},
                    {"role": "user", "content": "hi"},
                ],
            },
            {"system": [text("top"), text("cached", cache_control=EPHEMERAL)]},
            via="messages",
        ),
        "system_cache_control_keeps_blocks",
    ),
    P(
        Case(
            {"input": [U, {"role": "user", "content": [{"type": "input_text", "text": "y"}]}]},
            msgs(user(text("x"), text("y"))),
        ),
        "consecutive_user_items_share_one_turn",
    ),
    P(
        Case(
            {"input": [U, say("a"), say("b"), U]},
            msgs(user(text("x")), assistant(text("a"), text("b")), user(text("x"))),
        ),
        "consecutive_assistant_items_share_one_turn",
    ),
    P(
        Case(
            {"input": [{"role": "user", "content": [{"type": "input_text", "text": ""}]}, U]},
            msgs(user(text("x"))),
        ),
        "empty_text_parts_are_not_sent",
    ),
    P(
        Case(
            {
                "input": [
                    U,
                    {"role": "assistant", "content": [{"type": "refusal", "refusal": "No."}]},
                    U,
                ]
            },
            msgs(user(text("x")), assistant(text("No.")), user(text("x"))),
        ),
        "assistant_refusal_is_text",
    ),
    P(
        Case(
            msgs({"role": "user", "content": [text("hi", cache_control=EPHEMERAL)]}),
            msgs(user(text("hi", cache_control=EPHEMERAL))),
            via="messages",
        ),
        "user_cache_control_kept",
    ),
    # -- tools ---------------------------------------------------------------------------------
    P(
        Case(
            {"input": "x", **WITH_TOOLS},
            {
                "tools": [
                    {
                        "name": "get_weather",
                        "description": "Weather for a city.",
                        "input_schema": SCHEMA,
                    }
                ]
            },
            ("tool_choice",),
        ),
        "function_tool",
    ),
    P(
        Case(
            {"input": "x", "tools": [{"type": "function", "name": "now"}]},
            {"tools": [{"name": "now", "input_schema": {"type": "object", "properties": {}}}]},
        ),
        "function_tool_without_parameters",
    ),
    P(
        Case(
            {"input": "x", "tools": [APPLY_PATCH]},
            {
                "tools": lambda t: (
                    t[0]["name"] == "apply_patch"
                    and t[0]["input_schema"] == SHIM
                    and LARK.strip() in t[0]["description"]
                )
            },
        ),
        "custom_tool_is_a_one_string_shim",
    ),
    P(
        Case(
            {"input": "x", "tools": [{"type": "namespace", "name": "mcp", "tools": [WEATHER]}]},
            {"tools": lambda t: t[0]["name"] == "mcp__get_weather"},
        ),
        "namespaced_tool_wire_name",
    ),
    P(
        Case({"input": "x", "tool_choice": "auto", **WITH_TOOLS}, absent=("tool_choice",)),
        "tool_choice_auto",
    ),
    P(
        Case(
            {"input": "x", "tool_choice": "required", **WITH_TOOLS},
            {"tool_choice": {"type": "any"}},
        ),
        "tool_choice_required_is_any",
    ),
    P(
        Case(
            {"input": "x", "tool_choice": "none", **WITH_TOOLS}, {"tool_choice": {"type": "none"}}
        ),
        "tool_choice_none",
    ),
    P(
        Case(
            {
                "input": "x",
                "tool_choice": {"type": "function", "name": "get_weather"},
                **WITH_TOOLS,
            },
            {"tool_choice": {"type": "tool", "name": "get_weather"}},
        ),
        "tool_choice_function_is_tool",
    ),
    P(
        Case(
            {"input": "x", "parallel_tool_calls": False, **WITH_TOOLS},
            {"tool_choice": {"type": "auto", "disable_parallel_tool_use": True}},
        ),
        "parallel_tool_calls_false",
    ),
    P(
        Case(
            {
                "input": "x",
                "tool_choice": {"type": "allowed_tools", "mode": "required", "tools": []},
                **WITH_TOOLS,
            },
            {"tool_choice": {"type": "any"}},
        ),
        "allowed_tools_required_is_any",
    ),
    P(
        Case({"input": "x", "tool_choice": "required"}, absent=("tools", "tool_choice")),
        "no_tools_no_tool_choice",
    ),
    # -- tool calls and results ----------------------------------------------------------------
    P(
        Case(
            {
                "input": [U, call("c1"), call("c2"), output("c1"), output("c2", "rainy")],
                **WITH_TOOLS,
            },
            msgs(
                user(text("x")),
                assistant(tool_use("c1"), tool_use("c2")),
                user(result("c1"), result("c2", "rainy")),
            ),
        ),
        "consecutive_calls_one_assistant_turn",
    ),
    P(
        Case(
            {
                "input": [U, call("c1"), {"role": "user", "content": "and?"}, output("c1")],
                **WITH_TOOLS,
            },
            msgs(user(text("x")), assistant(tool_use("c1")), user(result("c1"), text("and?"))),
        ),
        "results_first_in_the_next_user_turn",
    ),
    P(
        Case(
            {"input": [U, call("c1"), call("c2"), output("c2"), U], **WITH_TOOLS},
            msgs(
                user(text("x")),
                assistant(tool_use("c1"), tool_use("c2")),
                user(result("c2"), result("c1", NO_RESULT, is_error=True), text("x")),
            ),
        ),
        "unanswered_call_gets_a_placeholder_result",
    ),
    P(
        Case(
            {"input": [U, call("c1")], **WITH_TOOLS},
            msgs(
                user(text("x")),
                assistant(tool_use("c1")),
                user(result("c1", NO_RESULT, is_error=True)),
            ),
        ),
        "call_at_the_end_is_answered_too",
    ),
    P(
        Case(
            {"input": [U, say("ok"), output("gone", "old result")], **WITH_TOOLS},
            msgs(
                user(text("x")),
                assistant(text("ok")),
                user(text("Result of tool call gone: old result")),
            ),
        ),
        "result_without_its_call_becomes_text",
    ),
    P(
        Case(
            {
                "input": [
                    U,
                    {
                        "type": "custom_tool_call",
                        "call_id": "p1",
                        "name": "apply_patch",
                        "input": "*** Begin",
                    },
                    {"type": "custom_tool_call_output", "call_id": "p1", "output": "Done"},
                ],
                "tools": [APPLY_PATCH],
            },
            msgs(
                user(text("x")),
                assistant(tool_use("p1", "apply_patch", {"input": "*** Begin"})),
                user(result("p1", "Done")),
            ),
        ),
        "custom_call_input_is_wrapped",
    ),
    P(
        Case(
            msgs(
                {"role": "user", "content": "x"},
                assistant(tool_use("toolu_1")),
                user(result("toolu_1", "boom", is_error=True)),
            )
            | {"tools": [{"name": "get_weather", "input_schema": SCHEMA}]},
            msgs(
                user(text("x")),
                assistant(tool_use("toolu_1")),
                user(result("toolu_1", "boom", is_error=True)),
            ),
            via="messages",
        ),
        "error_result_keeps_is_error",
    ),
    P(
        Case(
            {
                "input": [
                    U,
                    call("c1"),
                    output(
                        "c1",
                        [
                            {"type": "input_text", "text": "see"},
                            {
                                "type": "input_image",
                                "image_url": f"data:image/png;base64,{PNG_B64}",
                            },
                        ],
                    ),
                ],
                **WITH_TOOLS,
            },
            {
                "messages": lambda m: (
                    m[2]["content"][0]["content"]
                    == [
                        text("see"),
                        {
                            "type": "image",
                            "source": {
                                "type": "base64",
                                "media_type": "image/png",
                                "data": PNG_B64,
                            },
                        },
                    ]
                )
            },
        ),
        "result_with_parts_keeps_blocks",
    ),
    P(
        Case(
            {"input": [U, call("c1"), output("c1"), {"role": "user", "content": "thanks"}]},
            {
                "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}],
                "tool_choice": {"type": "none"},
            },
        ),
        "history_tools_declared_when_the_client_sends_none",
    ),
    P(
        Case(
            {"input": [U, say("The answer is \n")]},
            msgs(user(text("x")), assistant(text("The answer is"))),
        ),
        "prefill_trailing_whitespace_trimmed",
    ),
    P(
        Case(
            {"input": [U, call("call.1:a"), output("call.1:a")], **WITH_TOOLS},
            msgs(user(text("x")), assistant(tool_use("call_1_a")), user(result("call_1_a"))),
        ),
        "call_ids_made_valid_consistently",
    ),
    P(
        Case(
            {"input": [U, call("c1", arguments=""), output("c1")], **WITH_TOOLS},
            {"messages": lambda m: m[1]["content"][0]["input"] == {}},
        ),
        "empty_arguments_are_an_empty_object",
    ),
    P(
        Case(
            {
                "input": [
                    U,
                    {**call("c1", "read_file"), "namespace": "mcp"},
                    output("c1"),
                ],
                "tools": [
                    {
                        "type": "namespace",
                        "name": "mcp",
                        "tools": [{**WEATHER, "name": "read_file"}],
                    }
                ],
            },
            {"messages": lambda m: m[1]["content"][0]["name"] == "mcp__read_file"},
        ),
        "namespaced_call_uses_the_wire_name",
    ),
    # -- reasoning -----------------------------------------------------------------------------
    P(
        Case(
            {"input": [U, say("hm"), rs(THOUGHT), call("c1"), output("c1")], **WITH_TOOLS},
            msgs(
                user(text("x")),
                assistant(thinking(), text("hm"), tool_use("c1")),
                user(result("c1")),
            ),
        ),
        "anthropic_thinking_replayed_first_with_its_signature",
    ),
    P(
        Case(
            {"input": [U, rs(DEEPSEEK), say("a"), U]},
            {
                "messages": lambda m: (
                    "secret" not in orjson.dumps(m).decode() and len(m[1]["content"]) == 1
                )
            },
        ),
        "other_family_reasoning_never_sent",
    ),
    P(
        Case(
            {"input": [U, rs("gAAAA-not-ours"), say("a"), U]},
            msgs(user(text("x")), assistant(text("a")), user(text("x"))),
        ),
        "foreign_blob_never_sent",
    ),
    P(
        Case(
            {"input": [U, rs(REDACTED), say("a"), U]},
            msgs(
                user(text("x")),
                assistant({"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3p"}, text("a")),
                user(text("x")),
            ),
        ),
        "redacted_thinking_replayed",
    ),
    P(
        Case(
            msgs(
                {"role": "user", "content": "x"},
                assistant(thinking(), tool_use("toolu_1")),
                user(result("toolu_1")),
            )
            | {
                "tools": [{"name": "get_weather", "input_schema": SCHEMA}],
                "thinking": {"type": "enabled", "budget_tokens": 2048},
                "max_tokens": 4096,
            },
            {
                "messages": lambda m: m[1]["content"][0] == thinking(),
                "thinking": {"type": "enabled", "budget_tokens": 2048},
            },
            via="messages",
        ),
        "messages_client_thinking_signature_round_trip",
    ),
    P(
        Case(
            msgs(
                {"role": "user", "content": "x"},
                assistant({"type": "redacted_thinking", "data": "EmwKAh"}, text("a")),
                {"role": "user", "content": "y"},
            ),
            msgs(
                user(text("x")),
                assistant({"type": "redacted_thinking", "data": "EmwKAh"}, text("a")),
                user(text("y")),
            ),
            via="messages",
        ),
        "messages_client_redacted_thinking_round_trip",
    ),
    P(
        Case(
            msgs(
                {"role": "user", "content": "x"},
                assistant(thinking(sig=""), text("a")),
                {"role": "user", "content": "y"},
            ),
            msgs(user(text("x")), assistant(text("a")), user(text("y"))),
            via="messages",
        ),
        "unsigned_thinking_not_sent",
    ),
    # -- images and files ----------------------------------------------------------------------
    P(
        Case(
            {
                "input": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "input_image", "image_url": f"data:image/png;base64,{PNG_B64}"}
                        ],
                    }
                ]
            },
            msgs(
                user(
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64},
                    }
                )
            ),
        ),
        "data_url_image_is_base64",
    ),
    P(
        Case(
            {
                "input": [
                    {
                        "role": "user",
                        "content": [{"type": "input_image", "image_url": "https://x.test/a.jpg"}],
                    }
                ]
            },
            msgs(user({"type": "image", "source": {"type": "url", "url": "https://x.test/a.jpg"}})),
        ),
        "https_image_is_a_url_source",
    ),
    P(
        Case(
            {
                "input": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "input_file",
                                "filename": "a.pdf",
                                "file_data": f"data:application/pdf;base64,{PDF_B64}",
                            }
                        ],
                    }
                ]
            },
            msgs(
                user(
                    {
                        "type": "document",
                        "source": {
                            "type": "base64",
                            "media_type": "application/pdf",
                            "data": PDF_B64,
                        },
                        "title": "a.pdf",
                    }
                )
            ),
        ),
        "pdf_file_is_a_base64_document",
    ),
    P(
        Case(
            {
                "input": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "input_file", "file_data": "data:text/plain;base64,aGVsbG8="}
                        ],
                    }
                ]
            },
            msgs(
                user(
                    {
                        "type": "document",
                        "source": {"type": "text", "media_type": "text/plain", "data": "hello"},
                    }
                )
            ),
        ),
        "text_file_is_a_text_document",
    ),
    P(
        Case(
            {
                "input": [
                    {
                        "role": "user",
                        "content": [{"type": "input_file", "file_url": "https://x.test/a.pdf"}],
                    }
                ]
            },
            msgs(
                user({"type": "document", "source": {"type": "url", "url": "https://x.test/a.pdf"}})
            ),
        ),
        "file_url_is_a_url_document",
    ),
    # -- parameters ----------------------------------------------------------------------------
    P(Case({"input": "x", "max_output_tokens": 300}, {"max_tokens": 300}), "max_output_tokens"),
    P(Case({"input": "x"}, {"max_tokens": 8192}), "max_tokens_required_default"),
    P(
        Case({"input": "x"}, {"max_tokens": 1000}, settings=AnthropicSettings(max_tokens=1000)),
        "max_tokens_default_setting",
    ),
    P(Case({"input": "x", "stop": "END"}, {"stop_sequences": ["END"]}), "stop_string"),
    P(Case({"input": "x", "stop": ["a", "b"]}, {"stop_sequences": ["a", "b"]}), "stop_list"),
    P(
        Case({"input": "x", "temperature": 0.3, "top_p": 0.9}, {"temperature": 0.3, "top_p": 0.9}),
        "temperature_top_p",
    ),
    P(Case({"input": "x", "temperature": 1.7}, {"temperature": 1.0}), "temperature_capped_at_one"),
    P(
        Case({"input": "x", "user": "u-1"}, {"metadata": {"user_id": "u-1"}}),
        "user_is_metadata_user_id",
    ),
    P(
        Case({"input": "x", "safety_identifier": "s-1"}, {"metadata": {"user_id": "s-1"}}),
        "safety_identifier_as_user_id",
    ),
    P(
        Case({"input": "x", "metadata": {"k": "v"}}, absent=("metadata",)),
        "response_metadata_not_sent",
    ),
    P(
        Case(
            {"input": "x", "reasoning": {"effort": "low"}},
            {"thinking": {"type": "enabled", "budget_tokens": 2048}, "max_tokens": 8192},
        ),
        "effort_low_budget",
    ),
    P(
        Case(
            {"input": "x", "reasoning": {"effort": "medium"}},
            {"thinking": {"type": "enabled", "budget_tokens": 8192}, "max_tokens": 8192 + 4096},
        ),
        "effort_medium_budget_raises_max_tokens",
    ),
    P(
        Case(
            {"input": "x", "reasoning": {"effort": "high"}, "max_output_tokens": 1000},
            {"thinking": {"type": "enabled", "budget_tokens": 24576}, "max_tokens": 25576},
        ),
        "effort_high_budget_above_max_output_tokens",
    ),
    P(
        Case({"input": "x", "reasoning": {"effort": "minimal"}}, absent=("thinking",)),
        "effort_minimal_no_thinking",
    ),
    P(
        Case({"input": "x", "reasoning": {"effort": "none"}}, absent=("thinking",)),
        "effort_none_no_thinking",
    ),
    P(
        Case(
            {"input": "x", "reasoning": {"effort": "low"}, "temperature": 0.2},
            {"thinking": lambda t: t["type"] == "enabled"},
            ("temperature",),
        ),
        "thinking_drops_temperature",
    ),
    P(
        Case(
            {"input": "x", "reasoning": {"effort": "low"}, "tool_choice": "required", **WITH_TOOLS},
            {"tool_choice": {"type": "any"}},
            ("thinking",),
        ),
        "forced_tool_choice_no_thinking",
    ),
    P(
        Case(
            {"input": [U, call("c1"), output("c1")], "reasoning": {"effort": "low"}, **WITH_TOOLS},
            absent=("thinking",),
        ),
        "tool_turn_without_thinking_no_thinking",
    ),
    P(
        Case(
            {
                "input": [U, rs(THOUGHT), call("c1"), output("c1")],
                "reasoning": {"effort": "low"},
                **WITH_TOOLS,
            },
            {"thinking": {"type": "enabled", "budget_tokens": 2048}},
        ),
        "tool_turn_opening_with_thinking_keeps_thinking",
    ),
    P(
        Case(
            {"input": "x", "reasoning": {"effort": "high"}},
            {
                "thinking": {"type": "adaptive"},
                "output_config": {"effort": "high"},
                "max_tokens": 8192,
            },
            settings=AnthropicSettings(thinking="adaptive"),
        ),
        "adaptive_thinking_setting",
    ),
    P(
        Case(
            {"input": [U, call("c1"), output("c1")], "reasoning": {"effort": "low"}, **WITH_TOOLS},
            {"thinking": {"type": "adaptive"}},
            settings=AnthropicSettings(thinking="adaptive"),
        ),
        "adaptive_thinking_on_a_tool_turn_without_thinking",
    ),
    P(
        Case(
            {"input": "x", "reasoning": {"effort": "high"}},
            absent=("thinking",),
            settings=AnthropicSettings(thinking="off"),
        ),
        "thinking_off_setting",
    ),
    P(
        Case(
            {
                "input": "x",
                "text": {
                    "format": {"type": "json_schema", "name": "o", "schema": SCHEMA, "strict": True}
                },
            },
            {"output_config": {"format": {"type": "json_schema", "schema": SCHEMA}}},
        ),
        "json_schema_is_output_config_format",
    ),
    P(Case({"input": "x", "service_tier": "auto"}, {"service_tier": "auto"}), "service_tier_auto"),
    P(
        Case({"input": "x", "service_tier": "default"}, {"service_tier": "standard_only"}),
        "service_tier_default",
    ),
    P(Case({"input": "x", "stream": True}, {"stream": True}), "stream"),
    P(Case({"input": "x"}, absent=("stream",)), "no_stream"),
    P(
        Case(
            {
                "input": "x",
                "seed": 7,
                "prompt_cache_key": "k",
                "truncation": "auto",
                "store": False,
            },
            absent=("seed", "prompt_cache_key", "truncation", "store"),
        ),
        "hints_without_an_anthropic_meaning_not_sent",
    ),
    # -- from other front doors ----------------------------------------------------------------
    P(
        Case(
            msgs({"role": "user", "content": "x"})
            | {"top_k": 5, "context_management": {"edits": []}, "service_tier": "standard_only"},
            {"top_k": 5, "context_management": {"edits": []}, "service_tier": "standard_only"},
            via="messages",
        ),
        "messages_client_fields_pass_through",
    ),
    P(
        Case(
            msgs({"role": "user", "content": "x"})
            | {"thinking": {"type": "adaptive"}, "temperature": 0.5, "top_k": 3},
            {"thinking": {"type": "adaptive"}},
            ("temperature", "top_k"),
            via="messages",
        ),
        "messages_client_thinking_as_sent",
    ),
    P(
        Case(
            msgs({"role": "user", "content": "x"})
            | {"metadata": {"user_id": "u"}, "stop_sequences": ["S"]},
            {"metadata": {"user_id": "u"}, "stop_sequences": ["S"]},
            via="messages",
        ),
        "messages_client_metadata_and_stops",
    ),
    P(
        Case(
            {
                "messages": [
                    {"role": "user", "content": "x"},
                    {
                        "role": "assistant",
                        "content": None,
                        "reasoning_content": "chat reasoning",
                        "tool_calls": [
                            {
                                "id": "c1",
                                "type": "function",
                                "function": {"name": "get_weather", "arguments": "{}"},
                            }
                        ],
                    },
                    {"role": "tool", "tool_call_id": "c1", "content": "ok"},
                ],
                "tools": [
                    {"type": "function", "function": {"name": "get_weather", "parameters": SCHEMA}}
                ],
            },
            msgs(user(text("x")), assistant(tool_use("c1", inp={})), user(result("c1", "ok"))),
            via="chat",
        ),
        "chat_client_tool_turn",
    ),
]


@pytest.mark.parametrize("case", CASES)
def test_request_rule(case: Case) -> None:
    if case.via == "chat":
        out = chat_body(case.body)
    elif case.via == "messages":
        out = messages_body(case.body)
    else:
        out = translate(case.body, settings=case.settings)
    orjson.dumps(out)  # plain JSON: no hub objects leak
    assert out["model"].startswith("claude")
    for key, want in case.expect.items():
        assert key in out, f"{key!r} missing from {out}"
        if callable(want):
            assert want(out[key]), f"{key!r} = {out[key]!r}"
        else:
            assert out[key] == want
    for key in case.absent:
        assert key not in out, f"{key!r} must not be sent: {out}"
    assert "_" not in "".join(k[:1] for m in out["messages"] for b in m["content"] for k in b)


def test_compaction_item_is_its_summary() -> None:
    from wirebridge.hub.compaction import COMPACTION_FAMILY

    item = {
        "type": "compaction",
        "_provider": ProviderData(COMPACTION_FAMILY, {"summary": "We fixed the bug."}),
    }
    req = HubRequest(model="m", input=[item, {"role": "user", "content": "next"}])
    out = encode_request(req, "claude-x", False)
    (turn,) = out["messages"]
    assert turn["role"] == "user"
    assert "We fixed the bug." in turn["content"][0]["text"]
    assert turn["content"][1] == text("next")


@dataclass
class Bad:
    body: dict[str, Any]
    error: type[Exception]
    param: str | None
    mentions: str = ""
    via: str = "responses"


ERRORS = [
    P(Bad({"input": "x", "stop": ["\n"]}, Untranslatable, "stop", "whitespace"), "whitespace_stop"),
    P(
        Bad({"input": "x", "top_logprobs": 3}, Untranslatable, "top_logprobs", "Log probabilities"),
        "logprobs",
    ),
    P(
        Bad(
            {"messages": [{"role": "user", "content": "x"}], "logprobs": True},
            Untranslatable,
            "top_logprobs",
            via="chat",
        ),
        "chat_logprobs_true",
    ),
    P(
        Bad({"input": "x", "presence_penalty": 0.5}, Untranslatable, "presence_penalty"),
        "presence_penalty",
    ),
    P(
        Bad({"input": "x", "frequency_penalty": 0.5}, Untranslatable, "frequency_penalty"),
        "frequency_penalty",
    ),
    P(
        Bad(
            {"input": "x", "text": {"format": {"type": "json_object"}}},
            Untranslatable,
            "text.format",
            "json_object",
        ),
        "json_object_format",
    ),
    P(
        Bad(
            {
                "input": [
                    {"role": "user", "content": [{"type": "input_image", "file_id": "file-1"}]}
                ]
            },
            Untranslatable,
            "input[0].content[0]",
            "file_id",
        ),
        "image_by_file_id",
    ),
    P(
        Bad(
            {
                "input": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "input_image", "image_url": "data:image/bmp;base64,Qk0="}
                        ],
                    }
                ]
            },
            Untranslatable,
            "input[0].content[0]",
            "image/bmp",
        ),
        "image_type_anthropic_refuses",
    ),
    P(
        Bad(
            {
                "input": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "input_file",
                                "file_data": "data:application/msword;base64,AAAA",
                            }
                        ],
                    }
                ]
            },
            Untranslatable,
            "input[0].content[0]",
            "application/msword",
        ),
        "file_type_anthropic_refuses",
    ),
    P(
        Bad(
            {"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "file-1"}]}]},
            Untranslatable,
            "input[0].content[0]",
            "file_id",
        ),
        "file_by_file_id",
    ),
    P(
        Bad(
            {"input": [U, call("c1", arguments="{oops"), output("c1")]},
            Untranslatable,
            "input[1].arguments",
            "JSON",
        ),
        "arguments_not_json",
    ),
    P(
        Bad(
            {"input": [U, call("c1", arguments="[1]"), output("c1")]},
            Untranslatable,
            "input[1].arguments",
            "object",
        ),
        "arguments_not_an_object",
    ),
    P(
        Bad(
            {
                "input": [
                    {
                        "role": "system",
                        "content": [{"type": "input_image", "image_url": "https://x.test/a.png"}],
                    },
                    U,
                ]
            },
            Untranslatable,
            "input[0].content[0]",
            "system",
        ),
        "image_in_a_system_message",
    ),
    P(
        Bad({"input": "x", "conversation": "conv_1"}, Untranslatable, "conversation", "OpenAI"),
        "conversation_refused_not_dropped",
    ),
    P(
        Bad({"input": "x", "prompt": {"id": "pmpt_1"}}, Untranslatable, "prompt", "template"),
        "prompt_template_refused_not_dropped",
    ),
]


@pytest.mark.parametrize("bad", ERRORS)
def test_request_refused(bad: Bad) -> None:
    with pytest.raises(bad.error) as info:
        if bad.via == "chat":
            chat_body(bad.body)
        else:
            translate(bad.body)
    err = info.value
    assert isinstance(err, InvalidRequest)
    assert err.http_status == 400
    assert err.param == bad.param
    assert bad.mentions in err.message


@pytest.mark.parametrize(
    ("item", "param"),
    [
        ({"type": "item_reference", "id": "x"}, "input[0]"),
        (
            {"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]},
            "input[0].content[0]",
        ),
    ],
    ids=["unknown_item_type", "audio_part"],
)
def test_untranslatable_hub_input(item: dict[str, Any], param: str) -> None:
    with pytest.raises(Untranslatable) as info:
        encode_request(HubRequest(model="m", input=[item]), "claude-x", False)
    assert info.value.param == param


def test_unknown_effort_is_untranslatable() -> None:
    req = HubRequest(model="m", input=[U], reasoning={"effort": "turbo"})
    with pytest.raises(Untranslatable) as info:
        encode_request(req, "claude-x", False)
    assert info.value.param == "reasoning.effort"


def test_gateway_keys_of_extra_never_sent() -> None:
    extra = {"_anthropic_beta": "context-management-2025-06-27", "top_k": 4}
    req = HubRequest(model="m", input=[U], source="messages", extra=extra)
    out = encode_request(req, "claude-x", False)
    assert out["top_k"] == 4 and "_anthropic_beta" not in out
