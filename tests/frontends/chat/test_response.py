"""Final Response → ``chat.completion``: one table row per mapping rule.

Each row is an upstream answer (chat chunks, fed through ``ChatStreamDecoder`` and the
accumulator as the gateway does) and what the JSON answer's message, finish_reason, usage and
logprobs must be. Every row also checks the stream a client would get for the same answer folds
to the same message, finish reason and usage (JSON and SSE cannot disagree).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.upstreams.chat.pipeline import chunk, tool_delta, usage, usage_chunk
from tests.upstreams.chat.pipeline import request as responses_request
from wirebridge.frontends.chat.request import ChatOptions
from wirebridge.frontends.chat.response import encode_completion
from wirebridge.upstreams.chat.stream import CONTENT_FILTER_REFUSAL

from .support import fold, run

USER = {"role": "user", "content": "hi"}
STREAM = {"messages": [USER], "stream": True, "stream_options": {"include_usage": True}}
TOOLS = {
    **STREAM,
    "tools": [
        {"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
        for n in ("a", "b", "c")
    ],
}


def msg(content: str | None = None, **more: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": content, "refusal": None, "annotations": [], **more}


def call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def chat_usage(prompt: int, completion: int, cached: int = 0, reasoning: int = 0) -> Any:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }


@dataclass
class Case:
    chunks: list[dict[str, Any]]
    message: dict[str, Any]
    finish: str
    body: dict[str, Any] = field(default_factory=lambda: dict(STREAM))
    usage: Any = None
    logprobs: Any = None


LP = [{"token": "Hi", "logprob": -0.1, "bytes": [72, 105], "top_logprobs": []}]


def lp_chunk(text: str, logprobs: list[dict[str, Any]]) -> dict[str, Any]:
    c = chunk({"content": text})
    c["choices"][0]["logprobs"] = {"content": logprobs, "refusal": None}
    return c


CASES: dict[str, Case] = {
    "text_is_content_and_stop": Case(
        [
            chunk({"role": "assistant", "content": ""}),
            chunk({"content": "Hel"}),
            chunk({"content": "lo"}),
            chunk({}, "stop"),
        ],
        msg("Hello"),
        "stop",
    ),
    "reasoning_is_reasoning_content": Case(
        [
            chunk({"reasoning_content": "Two plus "}),
            chunk({"reasoning_content": "two."}),
            chunk({"content": "4"}),
            chunk({}, "stop"),
        ],
        msg("4", reasoning_content="Two plus two."),
        "stop",
    ),
    "tool_calls_in_order_and_content_null": Case(
        [
            chunk({"tool_calls": [tool_delta(0, "", call_id="c1", name="a")]}),
            chunk({"tool_calls": [tool_delta(0, '{"x":1}')]}),
            chunk({"tool_calls": [tool_delta(1, '{"y"', call_id="c2", name="b")]}),
            chunk({"tool_calls": [tool_delta(1, ":2}")]}),
            chunk({}, "tool_calls"),
        ],
        msg(None, tool_calls=[call("c1", "a", '{"x":1}'), call("c2", "b", '{"y":2}')]),
        "tool_calls",
        body=TOOLS,
    ),
    "text_then_tool_call": Case(
        [
            chunk({"content": "Checking."}),
            chunk({"tool_calls": [tool_delta(0, "{}", call_id="c1", name="a")]}),
            chunk({}, "tool_calls"),
        ],
        msg("Checking.", tool_calls=[call("c1", "a", "{}")]),
        "tool_calls",
        body=TOOLS,
    ),
    "length_cut_is_length": Case(
        [chunk({"content": "Once upon a"}), chunk({}, "length"), usage_chunk(usage(10, 16))],
        msg("Once upon a"),
        "length",
        usage=chat_usage(10, 16),
    ),
    "length_cut_in_a_tool_call_is_length": Case(
        [
            chunk({"tool_calls": [tool_delta(0, '{"x":', call_id="c1", name="a")]}),
            chunk({}, "length"),
        ],
        msg(None, tool_calls=[call("c1", "a", '{"x":')]),
        "length",
        body=TOOLS,
    ),
    "content_filter_after_text": Case(
        [chunk({"content": "Some"}), chunk({}, "content_filter")],
        msg("Some"),
        "content_filter",
    ),
    "content_filter_without_text_is_a_refusal": Case(
        [chunk({"role": "assistant", "content": ""}), chunk({}, "content_filter")],
        msg(None, refusal=CONTENT_FILTER_REFUSAL),
        "content_filter",
    ),
    "upstream_refusal_is_refusal_and_stop": Case(
        [chunk({"refusal": "I can't "}), chunk({"refusal": "help."}), chunk({}, "stop")],
        msg(None, refusal="I can't help."),
        "stop",
    ),
    "empty_answer_is_empty_content": Case([chunk({}, "stop")], msg(""), "stop"),
    "usage_with_cached_and_reasoning_tokens": Case(
        [
            chunk({"content": "ok"}),
            chunk({}, "stop"),
            usage_chunk(
                usage(
                    100,
                    40,
                    prompt_tokens_details={"cached_tokens": 64},
                    completion_tokens_details={"reasoning_tokens": 25},
                )
            ),
        ],
        msg("ok"),
        "stop",
        usage=chat_usage(100, 40, cached=64, reasoning=25),
    ),
    "logprobs_when_asked": Case(
        [lp_chunk("Hi", LP), chunk({}, "stop")],
        msg("Hi"),
        "stop",
        body={**STREAM, "logprobs": True},
        logprobs={"content": LP, "refusal": None},
    ),
    "legacy_functions_answer_with_function_call": Case(
        [
            chunk({"tool_calls": [tool_delta(0, '{"q":', call_id="c1", name="f")]}),
            chunk({"tool_calls": [tool_delta(0, '"x"}')]}),
            chunk({}, "tool_calls"),
        ],
        msg(None, function_call={"name": "f", "arguments": '{"q":"x"}'}),
        "function_call",
        body={**STREAM, "functions": [{"name": "f", "parameters": {"type": "object"}}]},
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_completion(case: Case) -> None:
    r = run(case.chunks, case.body)
    c = r.completion
    assert c["object"] == "chat.completion"
    assert c["id"] == "chatcmpl-0123abcd"
    assert c["model"] == "m"
    assert isinstance(c["created"], int)
    assert c["system_fingerprint"] is None
    assert c["service_tier"] == "default"
    (choice,) = c["choices"]
    assert choice["index"] == 0
    assert choice["message"] == case.message
    assert choice["finish_reason"] == case.finish
    assert choice["logprobs"] == case.logprobs
    if case.usage is not None:
        assert c["usage"] == case.usage

    # the stream of the same answer says the same
    folded = fold(r.chunks)
    streamed = folded["message"]
    assert streamed.pop("role") == "assistant"
    want = {k: v for k, v in case.message.items() if k not in ("role", "annotations")}
    if want["content"] is None:
        want["content"] = ""  # the first chunk's content "" is all a client sees
    assert streamed == want
    assert folded["finish_reason"] == case.finish
    assert folded["usage"] == c["usage"]
    assert folded["logprobs"] == ((case.logprobs or {}).get("content") or [])


# -- rules a Response can hold that a chat upstream cannot produce -----------------------------


def _response(*output: dict[str, Any], status: str = "completed", **more: Any) -> dict[str, Any]:
    return {
        "id": "resp_9",
        "created_at": 1,
        "model": "m",
        "status": status,
        "output": list(output),
        "usage": None,
        "service_tier": "default",
        **more,
    }


def test_custom_tool_call_is_a_function_call_with_an_input_argument() -> None:
    item = {"type": "custom_tool_call", "call_id": "c9", "name": "apply_patch", "input": 'a "b"\n'}
    c = encode_completion(_response(item), ChatOptions())
    (tc,) = c["choices"][0]["message"]["tool_calls"]
    assert tc["id"] == "c9" and tc["type"] == "function"
    assert tc["function"]["name"] == "apply_patch"
    assert json.loads(tc["function"]["arguments"]) == {"input": 'a "b"\n'}
    assert c["choices"][0]["finish_reason"] == "tool_calls"


def test_url_citations_are_chat_annotations() -> None:
    ann = {
        "type": "url_citation",
        "url": "https://x.test",
        "title": "X",
        "start_index": 0,
        "end_index": 2,
    }
    item = {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "Hi", "annotations": [ann]}],
    }
    message = encode_completion(_response(item), ChatOptions())["choices"][0]["message"]
    assert message["annotations"] == [
        {
            "type": "url_citation",
            "url_citation": {
                "url": "https://x.test",
                "title": "X",
                "start_index": 0,
                "end_index": 2,
            },
        }
    ]


def test_incomplete_for_another_reason_is_length() -> None:
    resp = _response(status="incomplete", incomplete_details={"reason": "max_tool_calls"})
    assert encode_completion(resp, ChatOptions())["choices"][0]["finish_reason"] == "length"


def test_reasoning_text_items_are_reasoning_content() -> None:
    item = {
        "type": "reasoning",
        "summary": [],
        "content": [{"type": "reasoning_text", "text": "raw"}],
    }
    message = encode_completion(_response(item), ChatOptions())["choices"][0]["message"]
    assert message["reasoning_content"] == "raw"


def test_custom_tool_call_streams_as_shim_arguments() -> None:
    patch = '*** Begin Patch\n+héllo "wörld" \\ 😀\n*** End Patch\n'
    tools = [{"type": "custom", "name": "apply_patch", "description": "patch"}]
    req = responses_request({"tools": tools})
    args = json.dumps({"input": patch})
    chunks = [chunk({"tool_calls": [tool_delta(0, "", call_id="c1", name="apply_patch")]})]
    chunks += [
        chunk({"tool_calls": [tool_delta(0, args[i : i + 5])]}) for i in range(0, len(args), 5)
    ]
    r = run([*chunks, chunk({}, "tool_calls")], req=req, opts=ChatOptions())
    (tc,) = fold(r.chunks)["message"]["tool_calls"]
    assert json.loads(tc["function"]["arguments"]) == {"input": patch}
    (json_tc,) = r.completion["choices"][0]["message"]["tool_calls"]
    assert json.loads(json_tc["function"]["arguments"]) == {"input": patch}
