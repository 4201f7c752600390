"""Chat Completions answer → Responses output: one table row per mapping rule.

Each row feeds upstream ``chat.completion.chunk`` objects through ``ChatStreamDecoder``, folds the
events with ``ResponseBuilder`` and numbers them with ``ResponsesStreamEncoder`` (as the gateway
does), validates every event against the Open Responses schema (OpenAI-only events by their
required fields), checks the stream grammar (one item open at a time, output_index increasing,
``.done`` texts equal to their deltas) and compares the final Response's output, status,
incomplete_details, usage and error with the row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.validate import validate_response
from wirebridge.providers.profiles import PROFILES
from wirebridge.upstreams.chat.stream import CONTENT_FILTER_REFUSAL, map_usage

from .pipeline import (
    SEALER,
    as_json,
    assert_valid_stream,
    chunk,
    completion,
    normalize,
    request,
    stream,
    tool_delta,
    translate,
    usage,
    usage_chunk,
    without_ids,
)

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def fn_tool(name: str) -> dict[str, Any]:
    return {
        "type": "function",
        "name": name,
        "description": f"The {name} tool.",
        "parameters": SCHEMA,
        "strict": False,
    }


APPLY_PATCH = {
    "type": "custom",
    "name": "apply_patch",
    "description": "Edit files. FREEFORM: do not wrap the patch in JSON.",
    "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/s"},
}
TOOLS = [
    fn_tool("get_weather"),
    fn_tool("get_time"),
    fn_tool("my.tool"),
    APPLY_PATCH,
    {
        "type": "namespace",
        "name": "mcp",
        "description": "An MCP server.",
        "tools": [fn_tool("read_file")],
    },
]
PATCH = '*** Begin Patch\n*** Add File: hello.txt\n+héllo "wörld" \\ 😀\tend\n*** End Patch\n'


def text(t: str) -> dict[str, Any]:
    return {"type": "output_text", "text": t, "annotations": [], "logprobs": []}


def message(*parts: dict[str, Any], status: str = "completed") -> dict[str, Any]:
    return {"type": "message", "status": status, "role": "assistant", "content": list(parts)}


def fcall(call_id: str, name: str, arguments: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "function_call",
        "status": "completed",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        **extra,
    }


def reasoning(summary: str) -> dict[str, Any]:
    return {
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": summary}],
        "encrypted_content": "<sealed>",
    }


def c(**delta: Any) -> dict[str, Any]:
    return chunk(delta)


def done(reason: str) -> dict[str, Any]:
    return chunk({}, reason)


def first(**delta: Any) -> dict[str, Any]:
    return chunk({"role": "assistant", **delta})


def calls(*tcs: dict[str, Any]) -> dict[str, Any]:
    return chunk({"tool_calls": list(tcs)})


def _logprob(token: str, logprob: float) -> dict[str, Any]:
    return {
        "token": token,
        "logprob": logprob,
        "bytes": list(token.encode()),
        "top_logprobs": [{"token": token, "logprob": logprob, "bytes": list(token.encode())}],
    }


LOGPROB_HI = _logprob("Hi", -0.01)
LOGPROB_BANG = _logprob("!", -0.5)


def lp_chunk(content: str, logprob: dict[str, Any]) -> dict[str, Any]:
    out = chunk({"content": content})
    out["choices"][0]["logprobs"] = {"content": [logprob], "refusal": None}
    return out


USAGE = usage(20, 5)
USAGE_OUT = map_usage(USAGE)


@dataclass
class Row:
    chunks: list[dict[str, Any]]
    output: list[dict[str, Any]]
    status: str = "completed"
    incomplete: str | None = None
    usage: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    profile: str = "deepseek"
    fail: tuple[str, str] | None = None


ROWS = [
    pytest.param(
        Row(
            [
                first(content=""),
                c(content="Hel"),
                c(content="lo"),
                done("stop"),
                usage_chunk(USAGE),
            ],
            [message(text("Hello"))],
            usage=USAGE_OUT,
        ),
        id="content_to_message_with_output_text_part",
    ),
    pytest.param(
        Row(
            [
                first(
                    content=None,
                    tool_calls=[tool_delta(0, "", call_id="call_a", name="get_weather")],
                ),
                calls(tool_delta(0, '{"ci')),
                calls(tool_delta(0, 'ty":"Paris"}')),
                done("tool_calls"),
            ],
            [fcall("call_a", "get_weather", '{"city":"Paris"}')],
        ),
        id="tool_call_to_function_call_item",
    ),
    pytest.param(
        Row(
            [
                first(tool_calls=[tool_delta(0, '{"city":', call_id="call_a", name="get_weather")]),
                calls(tool_delta(0, '"Paris"}')),
                calls(tool_delta(1, '{"city":', call_id="call_b", name="get_time")),
                calls(tool_delta(1, '"Rome"}')),
                done("tool_calls"),
            ],
            [
                fcall("call_a", "get_weather", '{"city":"Paris"}'),
                fcall("call_b", "get_time", '{"city":"Rome"}'),
            ],
        ),
        id="parallel_calls_split_across_chunks_stay_separate_in_order",
    ),
    pytest.param(
        Row(
            [
                first(tool_calls=[tool_delta(0, '{"ci', call_id="call_a", name="get_weather")]),
                calls(tool_delta(1, '{"ci', call_id="call_b", name="get_time")),
                calls(tool_delta(1, 'ty":"Rome"}')),
                calls(tool_delta(0, 'ty":"Paris"}')),
                calls(tool_delta(2, '{"city":"Oslo"}', call_id="call_c", name="get_weather")),
                done("tool_calls"),
            ],
            [
                fcall("call_a", "get_weather", '{"city":"Paris"}'),
                fcall("call_b", "get_time", '{"city":"Rome"}'),
                fcall("call_c", "get_weather", '{"city":"Oslo"}'),
            ],
        ),
        id="parallel_calls_interleaved_across_chunks_stay_separate_in_order",
    ),
    pytest.param(
        Row(
            [
                first(
                    tool_calls=[
                        tool_delta(0, '{"city":"Paris"}', call_id="call_a", name="get_weather")
                    ]
                ),
                calls(tool_delta(0, '{"city":"Rome"}', call_id="call_b", name="get_time")),
                done("tool_calls"),
            ],
            [
                fcall("call_a", "get_weather", '{"city":"Paris"}'),
                fcall("call_b", "get_time", '{"city":"Rome"}'),
            ],
        ),
        id="parallel_calls_reusing_index_0_with_new_ids_stay_separate",
    ),
    pytest.param(
        Row(
            [
                first(content="Let me check."),
                calls(tool_delta(0, '{"city":"Paris"}', call_id="call_a", name="get_weather")),
                done("tool_calls"),
            ],
            [message(text("Let me check.")), fcall("call_a", "get_weather", '{"city":"Paris"}')],
        ),
        id="text_then_tool_call_two_items_in_order",
    ),
    pytest.param(
        Row(
            [
                first(content=None, reasoning_content=""),
                c(content=None, reasoning_content="Think"),
                c(content=None, reasoning_content="ing."),
                c(content="Answer", reasoning_content=None),
                done("stop"),
            ],
            [reasoning("Thinking."), message(text("Answer"))],
        ),
        id="deepseek_reasoning_content_to_reasoning_item_before_message",
    ),
    pytest.param(
        Row(
            [first(content="", reasoning="Hmm."), c(content="Answer"), done("stop")],
            [reasoning("Hmm."), message(text("Answer"))],
            profile="openrouter",
        ),
        id="openrouter_reasoning_to_reasoning_item_before_message",
    ),
    pytest.param(
        Row(
            [first(content="Once upon"), c(content=" a time"), done("length"), usage_chunk(USAGE)],
            [message(text("Once upon a time"), status="incomplete")],
            status="incomplete",
            incomplete="max_output_tokens",
            usage=USAGE_OUT,
        ),
        id="finish_length_is_incomplete_max_output_tokens_usage_kept",
    ),
    pytest.param(
        Row(
            [first(content=""), done("content_filter")],
            [message({"type": "refusal", "refusal": CONTENT_FILTER_REFUSAL})],
        ),
        id="content_filter_without_content_is_refusal_part",
    ),
    pytest.param(
        Row(
            [first(content="Some text"), done("content_filter")],
            [message(text("Some text"))],
            status="incomplete",
            incomplete="content_filter",
        ),
        id="content_filter_after_text_is_incomplete_content_filter",
    ),
    pytest.param(
        Row(
            [lp_chunk("Hi", LOGPROB_HI), lp_chunk("!", LOGPROB_BANG), done("stop")],
            [message({**text("Hi!"), "logprobs": [LOGPROB_HI, LOGPROB_BANG]})],
        ),
        id="chat_logprobs_to_output_text_logprobs",
    ),
    pytest.param(
        Row(
            [first(content=None, refusal="I can't help"), c(refusal=" with that."), done("stop")],
            [message({"type": "refusal", "refusal": "I can't help with that."})],
        ),
        id="refusal_delta_to_refusal_part",
    ),
    pytest.param(
        Row(
            [
                first(content="x"),
                done("stop"),
                usage_chunk(
                    usage(
                        100,
                        40,
                        prompt_tokens_details={"cached_tokens": 64},
                        completion_tokens_details={"reasoning_tokens": 30},
                    )
                ),
            ],
            [message(text("x"))],
            usage={
                "input_tokens": 100,
                "input_tokens_details": {"cached_tokens": 64},
                "output_tokens": 40,
                "output_tokens_details": {"reasoning_tokens": 30},
                "total_tokens": 140,
            },
        ),
        id="usage_openai_details_mapped",
    ),
    pytest.param(
        Row(
            [
                first(content="x"),
                done("stop"),
                usage_chunk(
                    usage(
                        100,
                        40,
                        prompt_cache_hit_tokens=80,
                        prompt_cache_miss_tokens=20,
                        completion_tokens_details={"reasoning_tokens": 12},
                    )
                ),
            ],
            [message(text("x"))],
            usage={
                "input_tokens": 100,
                "input_tokens_details": {"cached_tokens": 80},
                "output_tokens": 40,
                "output_tokens_details": {"reasoning_tokens": 12},
                "total_tokens": 140,
            },
        ),
        id="usage_deepseek_prompt_cache_hit_tokens_are_cached_tokens",
    ),
    pytest.param(
        Row(
            [
                first(tool_calls=[tool_delta(0, "", call_id="call_p", name="apply_patch")]),
                calls(tool_delta(0, json.dumps({"input": PATCH})[:30])),
                calls(tool_delta(0, json.dumps({"input": PATCH})[30:])),
                done("tool_calls"),
            ],
            [
                {
                    "type": "custom_tool_call",
                    "status": "completed",
                    "call_id": "call_p",
                    "name": "apply_patch",
                    "input": PATCH,
                }
            ],
        ),
        id="custom_tool_call_via_shim_returns_raw_input",
    ),
    pytest.param(
        Row(
            [
                first(
                    tool_calls=[
                        tool_delta(0, '{"city":"x"}', call_id="call_n", name="mcp__read_file")
                    ]
                ),
                done("tool_calls"),
            ],
            [fcall("call_n", "read_file", '{"city":"x"}', namespace="mcp")],
        ),
        id="namespaced_call_is_function_call_with_name_and_namespace",
    ),
    pytest.param(
        Row(
            [
                first(tool_calls=[tool_delta(0, "{}", call_id="call_s", name="my_tool")]),
                done("tool_calls"),
            ],
            [fcall("call_s", "my.tool", "{}")],
        ),
        id="sanitized_wire_name_maps_back_to_declared_name",
    ),
    pytest.param(
        Row(
            [
                first(content="partial"),
                {
                    "error": {
                        "message": "Upstream overloaded",
                        "type": "server_error",
                        "code": "overloaded",
                    }
                },
            ],
            [message(text("partial"), status="incomplete")],
            status="failed",
            error={"code": "overloaded", "message": "Upstream overloaded"},
        ),
        id="in_stream_error_chunk_is_response_failed_open_item_incomplete",
    ),
    pytest.param(
        Row(
            [
                first(content="partial"),
                {
                    **chunk({"content": ""}, "error"),
                    "provider": "OpenAI",
                    "error": {
                        "code": "server_error",
                        "message": "Provider disconnected unexpectedly",
                    },
                },
            ],
            [message(text("partial"), status="incomplete")],
            status="failed",
            error={"code": "server_error", "message": "Provider disconnected unexpectedly"},
            profile="openrouter",
        ),
        id="openrouter_error_chunk_with_finish_reason_error_is_response_failed",
    ),
    pytest.param(
        Row(
            [first(content="partial")],
            [message(text("partial"), status="incomplete")],
            status="failed",
            error={"code": "upstream_error", "message": "The upstream stream broke."},
            fail=("upstream_error", "The upstream stream broke."),
        ),
        id="fail_is_response_failed_open_item_incomplete",
    ),
]


@pytest.mark.parametrize("row", ROWS)
def test_response_rule(row: Row) -> None:
    run = stream(row.chunks, request({"tools": TOOLS}), profile=row.profile, fail=row.fail)
    final = assert_valid_stream(run.events)
    assert final == run.response
    resp = run.response
    assert without_ids(resp["output"]) == row.output
    assert resp["status"] == row.status
    want_details = {"reason": row.incomplete} if row.incomplete else None
    assert resp["incomplete_details"] == want_details
    assert resp["usage"] == row.usage
    assert resp["error"] == row.error
    if row.status == "failed":
        errors = run.of("error")
        assert len(errors) == 1 and run.types[-2:] == ["error", "response.failed"]
        assert errors[0]["code"] == row.error["code"]  # type: ignore[index]
        assert errors[0]["error"]["message"] == row.error["message"]  # type: ignore[index]
    else:
        assert not run.of("error")


def test_items_get_their_own_ids() -> None:
    run = stream(
        [
            first(reasoning_content="r"),
            c(content="t"),
            calls(
                tool_delta(0, '{"city":"a"}', call_id="call_a", name="get_weather"),
                tool_delta(1, '{"input":"p"}', call_id="call_b", name="apply_patch"),
            ),
            done("tool_calls"),
        ],
        request({"tools": TOOLS}),
    )
    assert_valid_stream(run.events)
    ids = [item["id"] for item in run.response["output"]]
    assert [i.split("_")[0] for i in ids] == ["rs", "msg", "fc", "ctc"]
    assert len(set(ids)) == len(ids)
    assert [o.get("call_id") for o in run.response["output"][2:]] == ["call_a", "call_b"]


@pytest.mark.parametrize(
    ("profile", "field"),
    [("deepseek", "reasoning_content"), ("openrouter", "reasoning"), ("vllm", "reasoning")],
)
def test_reasoning_sealed_for_the_profile_family(profile: str, field: str) -> None:
    run = stream([first(**{field: "Because."}), c(content="A"), done("stop")], profile=profile)
    item = run.response["output"][0]
    assert item["type"] == "reasoning"
    assert item["encrypted_content"].startswith("wb1.")
    assert "Because" not in item["encrypted_content"]
    pd = SEALER.open(item["encrypted_content"])
    assert pd is not None
    assert pd.family == PROFILES[profile].family
    assert pd.data == {"reasoning_content": "Because."}


def test_reasoning_as_raw_text() -> None:
    run = stream(
        [first(reasoning_content="Step 1."), c(content="A"), done("stop")], reasoning_as="text"
    )
    assert_valid_stream(run.events)
    item = run.response["output"][0]
    assert item["content"] == [{"type": "reasoning_text", "text": "Step 1."}]
    assert "response.reasoning_text.delta" in run.types
    assert "response.reasoning_summary_text.delta" not in run.types


# -- custom tool input streamed from the shim's JSON arguments -----------------------------------

RAW_INPUTS = [
    pytest.param(PATCH, id="patch_with_quotes_backslash_tab_non_ascii_emoji"),
    pytest.param('say "hi"\\n is not a newline\n', id="escaped_quotes_and_backslash_n"),
    pytest.param("é😀\u2028x", id="bmp_astral_and_line_separator"),
    pytest.param("", id="empty"),
]


def _encodings(raw: str) -> list[str]:
    return [
        json.dumps({"input": raw}),  # \uXXXX escapes, surrogate pairs for astral characters
        json.dumps({"input": raw}, ensure_ascii=False),  # raw UTF-8 text
        '{ "input" :  ' + json.dumps(raw) + " }",  # whitespace around the key
    ]


def _custom_run(fragments: list[str]) -> Any:
    chunks = [first(tool_calls=[tool_delta(0, "", call_id="call_p", name="apply_patch")])]
    chunks += [calls(tool_delta(0, f)) for f in fragments if f]
    chunks.append(done("tool_calls"))
    return stream(chunks, request({"tools": [APPLY_PATCH]}))


def _assert_custom(run: Any, raw: str) -> None:
    deltas = "".join(e["delta"] for e in run.of("response.custom_tool_call_input.delta"))
    assert deltas == raw
    assert [e["input"] for e in run.of("response.custom_tool_call_input.done")] == [raw]
    assert [o["input"] for o in run.response["output"]] == [raw]
    assert not run.of("response.function_call_arguments.delta")


@pytest.mark.parametrize("raw", RAW_INPUTS)
def test_custom_input_split_at_every_position(raw: str) -> None:
    for args in _encodings(raw):
        for cut in range(len(args) + 1):
            _assert_custom(_custom_run([args[:cut], args[cut:]]), raw)
        run = _custom_run(list(args))  # one character per chunk
        _assert_custom(run, raw)
        assert_valid_stream(run.events)
        if raw:
            assert len(run.of("response.custom_tool_call_input.delta")) > 1, "not streamed"


def test_custom_input_not_wrapped_by_the_model_is_sent_whole() -> None:
    run = _custom_run(["*** Begin Patch\n", "*** End Patch\n"])
    assert_valid_stream(run.events)
    _assert_custom(run, "*** Begin Patch\n*** End Patch\n")


# -- JSON and SSE answers agree ------------------------------------------------------------------

AGREE = [
    pytest.param({"content": "Hello there."}, "stop", id="text"),
    pytest.param({"content": "42", "reasoning_content": "Compute."}, "stop", id="reasoning_text"),
    pytest.param(
        {
            "content": None,
            "tool_calls": [
                {
                    "id": "call_a",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                },
                {
                    "id": "call_b",
                    "type": "function",
                    "function": {"name": "mcp__read_file", "arguments": '{"city":"b"}'},
                },
            ],
        },
        "tool_calls",
        id="parallel_calls",
    ),
    pytest.param(
        {
            "content": None,
            "tool_calls": [
                {
                    "id": "call_p",
                    "type": "function",
                    "function": {"name": "apply_patch", "arguments": json.dumps({"input": PATCH})},
                }
            ],
        },
        "tool_calls",
        id="custom_call",
    ),
    pytest.param({"content": "Once upon"}, "length", id="length"),
    pytest.param({"content": None}, "content_filter", id="content_filter_refusal"),
    pytest.param({"content": None, "refusal": "No."}, "stop", id="refusal"),
]


def _as_chunks(message: dict[str, Any], finish: str) -> list[dict[str, Any]]:
    chunks = [first(content="")]
    if message.get("reasoning_content"):
        r = message["reasoning_content"]
        chunks += [c(reasoning_content=r[:3]), c(reasoning_content=r[3:])]
    if message.get("content"):
        t = message["content"]
        chunks += [c(content=t[:4]), c(content=t[4:])]
    if message.get("refusal"):
        chunks.append(c(refusal=message["refusal"]))
    for i, tc in enumerate(message.get("tool_calls") or ()):
        args = tc["function"]["arguments"]
        chunks.append(calls(tool_delta(i, args[:5], call_id=tc["id"], name=tc["function"]["name"])))
        chunks.append(calls(tool_delta(i, args[5:])))
    chunks += [done(finish), usage_chunk(USAGE)]
    return chunks


@pytest.mark.parametrize(("message", "finish"), AGREE)
def test_json_and_stream_give_the_same_response(message: dict[str, Any], finish: str) -> None:
    req = request({"tools": TOOLS})
    streamed = stream(_as_chunks(message, finish), req)
    assert_valid_stream(streamed.events)
    whole = as_json(completion(message, finish, USAGE), req)
    validate_response(whole)
    assert normalize(whole) == normalize(streamed.response)
    assert whole["usage"] == USAGE_OUT


# -- the next turn: what the client got back is replayed to the same family ---------------------


def test_output_replayed_next_turn_carries_reasoning_content() -> None:
    run = stream(
        [
            first(reasoning_content="Need weather."),
            c(content="Checking."),
            calls(tool_delta(0, '{"city":"Paris"}', call_id="call_a", name="get_weather")),
            done("tool_calls"),
        ],
        request({"tools": TOOLS}),
    )
    history = [
        {"role": "user", "content": "Weather?"},
        *run.response["output"],
        {"type": "function_call_output", "call_id": "call_a", "output": "sunny"},
    ]
    body = {"input": history, "tools": TOOLS}
    out = translate(body, "deepseek")
    assert out["messages"][1] == {
        "role": "assistant",
        "content": "Checking.",
        "reasoning_content": "Need weather.",
        "tool_calls": [
            {
                "id": "call_a",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
            }
        ],
    }
    assert "reasoning_content" not in translate(body, "openrouter")["messages"][1]


# -- an answer cut by max_output_tokens ----------------------------------------------------------


def test_custom_call_cut_by_length_done_input_equals_streamed_deltas() -> None:
    """The shim's JSON is cut mid-string: ``.done`` must carry what the deltas streamed (the
    decoded prefix), never the raw JSON text of the arguments."""
    args = '{"input": "*** Begin Patch\\n*** Add'
    run = stream(
        [
            first(tool_calls=[tool_delta(0, args, call_id="call_p", name="apply_patch")]),
            done("length"),
        ],
        request({"tools": [APPLY_PATCH]}),
    )
    deltas = "".join(e["delta"] for e in run.of("response.custom_tool_call_input.delta"))
    assert deltas == "*** Begin Patch\n*** Add"
    assert run.of("response.custom_tool_call_input.done")[0]["input"] == deltas
    assert run.response["output"][0]["input"] == deltas
    assert_valid_stream(run.events)


CUT = [
    pytest.param(
        [first(tool_calls=[tool_delta(0, '{"city": "Par', call_id="call_a", name="get_weather")])],
        "function_call",
        id="function_call",
    ),
    pytest.param(
        [
            first(
                tool_calls=[
                    tool_delta(0, '{"input": "*** Begin', call_id="call_p", name="apply_patch")
                ]
            )
        ],
        "custom_tool_call",
        id="custom_tool_call",
    ),
]


@pytest.mark.parametrize(("chunks", "kind"), CUT)
def test_call_cut_by_length_is_incomplete(chunks: list[dict[str, Any]], kind: str) -> None:
    """As for a failure (and as OpenAI does), the item the limit cut is ``incomplete``, so a
    client such as Codex does not run a call whose arguments were cut (for a message, see the
    ``finish_length`` row above)."""
    run = stream([*chunks, done("length")], request({"tools": TOOLS}))
    assert run.response["status"] == "incomplete"
    item = run.response["output"][-1]
    assert item["type"] == kind
    assert item["status"] == "incomplete"
