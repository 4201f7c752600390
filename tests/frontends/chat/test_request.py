"""Chat Completions request → HubRequest: one table row per mapping rule.

``DECODE`` rows are a chat body (``model`` defaulted) and what the HubRequest must hold:
``items`` (the input items, compared whole), ``fields`` (attribute → value) and ``options``
(ChatOptions fields). ``UPSTREAM`` rows follow the body on to the chat upstream body (the
round trip chat → hub → chat), ``ERRORS`` are the requests that must be refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.upstreams.chat.pipeline import translate
from wirebridge.errors import GatewayError, InvalidRequest, Untranslatable
from wirebridge.frontends.chat.request import bind_route
from wirebridge.hub.seal import ProviderData

from .support import decode, upstream

PNG = "data:image/png;base64,iVBORw0KGgo="
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city.",
        "parameters": SCHEMA,
        "strict": True,
    },
}
FLAT_WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city.",
    "parameters": SCHEMA,
    "strict": True,
}
USER = {"role": "user", "content": "hi"}


def user(content: Any) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": content}


def out_text(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": []}


def assistant(*parts: dict[str, Any]) -> dict[str, Any]:
    return {"type": "message", "role": "assistant", "content": list(parts)}


def fcall(call_id: str, name: str, arguments: str = "{}") -> dict[str, Any]:
    return {"type": "function_call", "call_id": call_id, "name": name, "arguments": arguments}


def chat_call(call_id: str, name: str, arguments: str = "{}") -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


@dataclass
class Case:
    body: dict[str, Any]
    items: list[dict[str, Any]] | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


def msgs(*messages: dict[str, Any], **rest: Any) -> dict[str, Any]:
    return {"messages": list(messages), **rest}


DECODE: dict[str, Case] = {
    # -- system / developer ------------------------------------------------------------------
    "system_string_is_a_system_item": Case(
        msgs({"role": "system", "content": "Be terse."}, USER),
        items=[{"type": "message", "role": "system", "content": "Be terse."}, user("hi")],
        fields={"instructions": None},
    ),
    "developer_parts_are_input_text": Case(
        msgs({"role": "developer", "content": [{"type": "text", "text": "Rule."}]}, USER),
        items=[
            {
                "type": "message",
                "role": "developer",
                "content": [{"type": "input_text", "text": "Rule."}],
            },
            user("hi"),
        ],
    ),
    "system_messages_keep_their_order": Case(
        msgs(
            {"role": "system", "content": "A"},
            USER,
            {"role": "developer", "content": "B"},
            {"role": "user", "content": "again"},
        ),
        items=[
            {"type": "message", "role": "system", "content": "A"},
            user("hi"),
            {"type": "message", "role": "developer", "content": "B"},
            user("again"),
        ],
    ),
    # -- user ----------------------------------------------------------------------------------
    "user_string": Case(msgs(USER), items=[user("hi")]),
    "user_text_part": Case(
        msgs({"role": "user", "content": [{"type": "text", "text": "hello"}]}),
        items=[user([{"type": "input_text", "text": "hello"}])],
    ),
    "user_image_data_url_with_detail": Case(
        msgs(
            {
                "role": "user",
                "content": [{"type": "image_url", "image_url": {"url": PNG, "detail": "low"}}],
            }
        ),
        items=[user([{"type": "input_image", "image_url": PNG, "detail": "low"}])],
    ),
    "user_image_https_url": Case(
        msgs(
            {
                "role": "user",
                "content": [{"type": "image_url", "image_url": {"url": "https://x.test/a.png"}}],
            }
        ),
        items=[user([{"type": "input_image", "image_url": "https://x.test/a.png"}])],
    ),
    "user_input_audio_is_kept_as_a_part": Case(
        msgs(
            {
                "role": "user",
                "content": [
                    {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}
                ],
            }
        ),
        items=[
            user([{"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}])
        ],
    ),
    "user_file_is_input_file": Case(
        msgs(
            {
                "role": "user",
                "content": [
                    {"type": "file", "file": {"file_data": "data:x", "filename": "a.pdf"}},
                    {"type": "file", "file": {"file_id": "file-1"}},
                ],
            }
        ),
        items=[
            user(
                [
                    {"type": "input_file", "file_data": "data:x", "filename": "a.pdf"},
                    {"type": "input_file", "file_id": "file-1"},
                ]
            )
        ],
    ),
    # -- assistant -----------------------------------------------------------------------------
    "assistant_string_is_output_text": Case(
        msgs(USER, {"role": "assistant", "content": "Hello!"}),
        items=[user("hi"), assistant(out_text("Hello!"))],
    ),
    "assistant_text_and_refusal_parts": Case(
        msgs(
            USER,
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Part."},
                    {"type": "refusal", "refusal": "No."},
                ],
            },
        ),
        items=[user("hi"), assistant(out_text("Part."), {"type": "refusal", "refusal": "No."})],
    ),
    "assistant_refusal_field_is_a_refusal_part": Case(
        msgs(USER, {"role": "assistant", "content": None, "refusal": "I can't."}),
        items=[user("hi"), assistant({"type": "refusal", "refusal": "I can't."})],
    ),
    "assistant_tool_calls_are_function_calls_without_a_message": Case(
        msgs(
            USER,
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [chat_call("c1", "a", '{"x":1}'), chat_call("c2", "b")],
            },
        ),
        items=[user("hi"), fcall("c1", "a", '{"x":1}'), fcall("c2", "b")],
    ),
    "assistant_text_and_tool_calls": Case(
        msgs(
            USER,
            {"role": "assistant", "content": "Let me look.", "tool_calls": [chat_call("c1", "a")]},
        ),
        items=[user("hi"), assistant(out_text("Let me look.")), fcall("c1", "a")],
    ),
    "assistant_custom_tool_call_is_a_custom_tool_call": Case(
        msgs(
            USER,
            {
                "role": "assistant",
                "tool_calls": [
                    {"id": "c1", "type": "custom", "custom": {"name": "p", "input": "x"}}
                ],
            },
        ),
        items=[
            user("hi"),
            {"type": "custom_tool_call", "call_id": "c1", "name": "p", "input": "x"},
        ],
    ),
    "assistant_empty_message_is_kept": Case(
        msgs(USER, {"role": "assistant", "content": ""}), items=[user("hi"), assistant()]
    ),
    "assistant_reasoning_content_is_a_reasoning_item_before_the_message": Case(
        msgs(USER, {"role": "assistant", "content": "4", "reasoning_content": "2+2"}),
        items=[
            user("hi"),
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "2+2"}]},
            assistant(out_text("4")),
        ],
    ),
    # -- tool results --------------------------------------------------------------------------
    "tool_message_is_function_call_output": Case(
        msgs(
            USER,
            {"role": "assistant", "tool_calls": [chat_call("c1", "a")]},
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        ),
        items=[
            user("hi"),
            fcall("c1", "a"),
            {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
        ],
    ),
    "tool_message_text_parts": Case(
        msgs(
            USER,
            {"role": "assistant", "tool_calls": [chat_call("c1", "a")]},
            {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "ok"}]},
        ),
        items=[
            user("hi"),
            fcall("c1", "a"),
            {
                "type": "function_call_output",
                "call_id": "c1",
                "output": [{"type": "input_text", "text": "ok"}],
            },
        ],
    ),
    # -- tools ---------------------------------------------------------------------------------
    "nested_function_tools_become_flat": Case(
        msgs(USER, tools=[WEATHER]),
        fields={"tool_names": ["get_weather"], "declared": [FLAT_WEATHER]},
        options={"legacy_functions": False},
    ),
    "legacy_functions_are_function_tools_answered_with_function_call": Case(
        msgs(USER, functions=[{"name": "f", "parameters": SCHEMA}]),
        fields={"tool_names": ["f"], "parallel_tool_calls": False},
        options={"legacy_functions": True},
    ),
    "tool_choice_string": Case(
        msgs(USER, tools=[WEATHER], tool_choice="required"), fields={"tool_choice": "required"}
    ),
    "tool_choice_default_is_auto": Case(
        msgs(USER, tools=[WEATHER]), fields={"tool_choice": "auto"}
    ),
    "tool_choice_named_function_is_flat": Case(
        msgs(
            USER,
            tools=[WEATHER],
            tool_choice={"type": "function", "function": {"name": "get_weather"}},
        ),
        fields={"tool_choice": {"type": "function", "name": "get_weather"}},
    ),
    "tool_choice_allowed_tools": Case(
        msgs(
            USER,
            tools=[WEATHER],
            tool_choice={
                "type": "allowed_tools",
                "allowed_tools": {
                    "mode": "required",
                    "tools": [{"type": "function", "function": {"name": "get_weather"}}],
                },
            },
        ),
        fields={
            "tool_choice": {
                "type": "allowed_tools",
                "mode": "required",
                "tools": [{"type": "function", "name": "get_weather"}],
            }
        },
    ),
    "legacy_function_call_name_is_tool_choice": Case(
        msgs(USER, functions=[{"name": "f"}], function_call={"name": "f"}),
        fields={"tool_choice": {"type": "function", "name": "f"}},
    ),
    "legacy_function_call_none": Case(
        msgs(USER, functions=[{"name": "f"}], function_call="none"),
        fields={"tool_choice": "none"},
    ),
    "parallel_tool_calls": Case(
        msgs(USER, tools=[WEATHER], parallel_tool_calls=False),
        fields={"parallel_tool_calls": False},
    ),
    # -- output format and limits --------------------------------------------------------------
    "response_format_json_schema_is_text_format": Case(
        msgs(
            USER,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "city", "schema": SCHEMA, "strict": True},
            },
        ),
        fields={
            "text": {
                "format": {"type": "json_schema", "name": "city", "schema": SCHEMA, "strict": True}
            }
        },
    ),
    "response_format_json_object": Case(
        msgs(USER, response_format={"type": "json_object"}),
        fields={"text": {"format": {"type": "json_object"}}},
    ),
    "response_format_text": Case(
        msgs(USER, response_format={"type": "text"}), fields={"text": {"format": {"type": "text"}}}
    ),
    "reasoning_effort": Case(
        msgs(USER, reasoning_effort="high"), fields={"reasoning": {"effort": "high"}}
    ),
    "max_tokens": Case(msgs(USER, max_tokens=50), fields={"max_output_tokens": 50}),
    "max_completion_tokens_wins_over_max_tokens": Case(
        msgs(USER, max_tokens=50, max_completion_tokens=70), fields={"max_output_tokens": 70}
    ),
    "sampling_and_identity_fields": Case(
        msgs(
            USER,
            stop=["END"],
            seed=7,
            temperature=0.2,
            top_p=0.9,
            presence_penalty=0.5,
            frequency_penalty=-0.5,
            user="u-1",
            metadata={"k": "v"},
            service_tier="flex",
            prompt_cache_key="pk",
            safety_identifier="sid",
        ),
        fields={
            "stop": ["END"],
            "seed": 7,
            "temperature": 0.2,
            "top_p": 0.9,
            "presence_penalty": 0.5,
            "frequency_penalty": -0.5,
            "user": "u-1",
            "metadata": {"k": "v"},
            "service_tier": "flex",
            "prompt_cache_key": "pk",
            "safety_identifier": "sid",
            "extra": {},
        },
    ),
    "logprobs_with_top_logprobs": Case(
        msgs(USER, logprobs=True, top_logprobs=3),
        fields={"top_logprobs": 3},
        options={"logprobs": True},
    ),
    "logprobs_alone_is_top_logprobs_zero": Case(
        msgs(USER, logprobs=True), fields={"top_logprobs": 0}, options={"logprobs": True}
    ),
    "no_logprobs": Case(msgs(USER), fields={"top_logprobs": None}, options={"logprobs": False}),
    "n_one_is_fine": Case(msgs(USER, n=1), fields={"extra": {}}),
    # -- streaming -----------------------------------------------------------------------------
    "stream_with_include_usage": Case(
        msgs(USER, stream=True, stream_options={"include_usage": True}),
        fields={"stream": True, "extra": {}},
        options={"include_usage": True},
    ),
    "stream_without_usage": Case(
        msgs(USER, stream=True), fields={"stream": True}, options={"include_usage": False}
    ),
    # -- the rest ------------------------------------------------------------------------------
    "unknown_fields_are_kept_in_extra": Case(
        msgs(USER, logit_bias={"50256": -100}, store=True, verbosity="low", x_custom={"a": [1]}),
        fields={
            "extra": {
                "logit_bias": {"50256": -100},
                "store": True,
                "verbosity": "low",
                "x_custom": {"a": [1]},
            },
            "store": False,
        },
    ),
    "source_is_chat": Case(msgs(USER), fields={"source": "chat", "store": False, "model": "m"}),
}


@pytest.mark.parametrize("case", DECODE.values(), ids=DECODE.keys())
def test_decode(case: Case) -> None:
    req, opts = decode(case.body)
    if case.items is not None:
        assert req.input == case.items
    for name, want in case.fields.items():
        if name == "tool_names":
            got: Any = [t.name for t in req.tools.tools]
        elif name == "declared":
            got = req.tools.declared
        else:
            got = getattr(req, name)
        assert got == want, name
    for name, want in case.options.items():
        assert getattr(opts, name) == want, name


def test_legacy_function_result_is_paired_with_its_call() -> None:
    req, _ = decode(
        msgs(
            USER,
            {
                "role": "assistant",
                "content": None,
                "function_call": {"name": "f", "arguments": "{}"},
            },
            {"role": "function", "name": "f", "content": "42"},
        )
    )
    _, call, result = req.input
    assert call["type"] == "function_call" and call["name"] == "f"
    assert call["call_id"].startswith("call_")
    assert result == {"type": "function_call_output", "call_id": call["call_id"], "output": "42"}


@pytest.mark.parametrize(
    ("api", "family"),
    [("chat", "deepseek"), ("chat", "openrouter")],
    ids=["deepseek", "openrouter"],
)
def test_bind_route_gives_replayed_reasoning_the_routes_family(api: str, family: str) -> None:
    req, _ = decode(msgs(USER, {"role": "assistant", "content": "4", "reasoning_content": "think"}))
    bind_route(req, api, family)
    assert req.input[1]["_provider"] == ProviderData(family, {"reasoning_content": "think"})


# -- chat → hub → chat upstream ----------------------------------------------------------------


@dataclass
class Up:
    body: dict[str, Any]
    expect: dict[str, Any]
    profile: str = "deepseek"
    absent: tuple[str, ...] = ()


UPSTREAM: dict[str, Up] = {
    "unknown_fields_reach_the_chat_upstream_unchanged": Up(
        msgs(USER, logit_bias={"1": 2}, x_vendor={"deep": [1, {"a": None}]}, store=True),
        {"logit_bias": {"1": 2}, "x_vendor": {"deep": [1, {"a": None}]}, "store": True},
    ),
    "extra_does_not_override_what_the_encoder_set": Up(
        msgs(USER, reasoning_effort="none", thinking={"type": "enabled"}),
        {"thinking": {"type": "disabled"}},
    ),
    "reasoning_content_is_replayed_to_the_same_family": Up(
        msgs(USER, {"role": "assistant", "content": "4", "reasoning_content": "2+2"}, USER),
        {
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "4", "reasoning_content": "2+2"},
                {"role": "user", "content": "hi"},
            ]
        },
    ),
    "reasoning_content_is_replayed_with_its_tool_calls": Up(
        msgs(
            USER,
            {
                "role": "assistant",
                "content": None,
                "reasoning_content": "Need weather.",
                "tool_calls": [chat_call("c1", "get_weather")],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
            tools=[WEATHER],
        ),
        {
            "messages": [
                {"role": "user", "content": "hi"},
                {
                    "role": "assistant",
                    "content": "",
                    "reasoning_content": "Need weather.",
                    "tool_calls": [chat_call("c1", "get_weather")],
                },
                {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
            ]
        },
    ),
    "reasoning_content_is_not_sent_to_a_host_that_does_not_take_it": Up(
        msgs(USER, {"role": "assistant", "content": "4", "reasoning_content": "2+2"}, USER),
        {
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "4"},
                {"role": "user", "content": "hi"},
            ]
        },
        profile="openai",
    ),
    "system_then_tool_round_trip": Up(
        msgs(
            {"role": "system", "content": "S"},
            USER,
            {"role": "assistant", "content": None, "tool_calls": [chat_call("c1", "get_weather")]},
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
            tools=[WEATHER],
        ),
        {
            "messages": [
                {"role": "system", "content": "S"},
                {"role": "user", "content": "hi"},
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [chat_call("c1", "get_weather")],
                },
                {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
            ],
            "tools": [WEATHER],
            "tool_choice": "auto",
        },
    ),
    "input_audio_passes_through_as_a_part": Up(
        msgs(
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this?"},
                    {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
                ],
            }
        ),
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "what is this?"},
                        {
                            "type": "input_audio",
                            "input_audio": {"data": "UklGRg==", "format": "wav"},
                        },
                    ],
                }
            ]
        },
    ),
    "json_schema_round_trips": Up(
        msgs(
            USER,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "city", "schema": SCHEMA, "strict": True},
            },
        ),
        {
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "city", "schema": SCHEMA, "strict": True},
            }
        },
    ),
    "max_completion_tokens_for_openai": Up(
        msgs(USER, max_tokens=9), {"max_completion_tokens": 9}, profile="openai"
    ),
    "stream_asks_for_usage": Up(
        msgs(USER, stream=True),
        {"stream": True, "stream_options": {"include_usage": True}},
    ),
}


@pytest.mark.parametrize("case", UPSTREAM.values(), ids=UPSTREAM.keys())
def test_upstream(case: Up) -> None:
    body = upstream(case.body, case.profile)
    for key, want in case.expect.items():
        assert body.get(key) == want, key
    for key in case.absent:
        assert key not in body


def test_extra_of_a_responses_request_is_not_sent_to_a_chat_upstream() -> None:
    body = translate({"input": "hi", "x_vendor": 1})
    assert "x_vendor" not in body


# -- refused -----------------------------------------------------------------------------------


@dataclass
class Err:
    body: dict[str, Any]
    error: type[GatewayError]
    param: str | None
    says: str = ""
    api: str = "chat"


ERRORS: dict[str, Err] = {
    "n_above_one": Err(msgs(USER, n=2), Untranslatable, "n", "one choice"),
    "n_zero": Err(msgs(USER, n=0), Untranslatable, "n"),
    "missing_model": Err({"model": None, **msgs(USER)}, InvalidRequest, "model"),
    "missing_messages": Err({}, InvalidRequest, "messages"),
    "empty_messages": Err(msgs(), InvalidRequest, "messages"),
    "messages_not_array": Err({"messages": "hi"}, InvalidRequest, "messages", "array"),
    "message_not_object": Err({"messages": ["hi"]}, InvalidRequest, "messages[0]"),
    "unknown_role": Err(
        msgs({"role": "robot", "content": "x"}), InvalidRequest, "messages[0].role"
    ),
    "temperature_string": Err(msgs(USER, temperature="hot"), InvalidRequest, "temperature"),
    "max_tokens_boolean": Err(msgs(USER, max_tokens=True), InvalidRequest, "max_tokens"),
    "stream_string": Err(msgs(USER, stream="yes"), InvalidRequest, "stream"),
    "tools_object": Err(msgs(USER, tools={"type": "function"}), InvalidRequest, "tools"),
    "custom_tool": Err(
        msgs(USER, tools=[{"type": "custom", "custom": {"name": "p"}}]),
        Untranslatable,
        "tools[0].type",
        "custom",
    ),
    "function_tool_without_name": Err(
        msgs(USER, tools=[{"type": "function", "function": {}}]),
        InvalidRequest,
        "tools[0].function",
    ),
    "tool_message_without_id": Err(
        msgs(USER, {"role": "tool", "content": "x"}), InvalidRequest, "messages[1].tool_call_id"
    ),
    "unknown_user_part": Err(
        msgs({"role": "user", "content": [{"type": "video", "video": {}}]}),
        Untranslatable,
        "messages[0].content[0]",
        "video",
    ),
    "image_without_url": Err(
        msgs({"role": "user", "content": [{"type": "image_url", "image_url": {}}]}),
        InvalidRequest,
        "messages[0].content[0].image_url",
    ),
    "image_in_system_message": Err(
        msgs({"role": "system", "content": [{"type": "image_url", "image_url": {"url": PNG}}]}),
        Untranslatable,
        "messages[0].content[0]",
    ),
    "response_format_unknown": Err(
        msgs(USER, response_format={"type": "xml"}), Untranslatable, "response_format.type"
    ),
    "json_schema_without_name": Err(
        msgs(USER, response_format={"type": "json_schema", "json_schema": {"schema": {}}}),
        InvalidRequest,
        "response_format.json_schema",
    ),
    "tool_choice_unknown_string": Err(
        msgs(USER, tool_choice="sometimes"), InvalidRequest, "tool_choice"
    ),
    "input_audio_to_a_non_chat_upstream": Err(
        msgs(
            {
                "role": "user",
                "content": [{"type": "input_audio", "input_audio": {"data": "x", "format": "wav"}}],
            }
        ),
        Untranslatable,
        "messages[0].content",
        "input_audio",
        api="messages",
    ),
}


@pytest.mark.parametrize("case", ERRORS.values(), ids=ERRORS.keys())
def test_refused(case: Err) -> None:
    with pytest.raises(GatewayError) as info:
        req, _ = decode(case.body)
        bind_route(req, case.api, "deepseek")
    err = info.value
    assert type(err) is case.error, repr(err)
    assert err.http_status == 400
    assert err.param == case.param
    assert case.says in err.message
