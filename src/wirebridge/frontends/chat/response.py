"""The final Response → a ``chat.completion`` object (hub → wire), as OpenAI sends it.

The streamed answer (``stream.py``) uses the same finish reason and usage, read from the same
final Response, so JSON and SSE answers cannot disagree. Output text, refusals and reasoning of
several items are concatenated without separators, as their stream deltas are.
"""

from __future__ import annotations

from typing import Any

import orjson

from wirebridge.frontends.chat.request import ChatOptions
from wirebridge.upstreams.chat.stream import CONTENT_FILTER_REFUSAL

Item = dict[str, Any]
_CALLS = ("function_call", "custom_tool_call")


def completion_id(response_id: str) -> str:
    return "chatcmpl-" + response_id.removeprefix("resp_")


def encode_completion(resp: dict[str, Any], opts: ChatOptions) -> dict[str, Any]:
    output: list[Item] = resp["output"]
    choice = {
        "index": 0,
        "message": _message(output, opts),
        "finish_reason": finish_reason(resp, opts),
        "logprobs": _logprobs(output) if opts.logprobs else None,
    }
    return {
        "id": completion_id(resp["id"]),
        "object": "chat.completion",
        "created": resp["created_at"],
        "model": resp["model"],
        "choices": [choice],
        "usage": encode_usage(resp.get("usage")),
        "system_fingerprint": None,
        "service_tier": resp.get("service_tier"),
    }


def finish_reason(resp: dict[str, Any], opts: ChatOptions) -> str:
    output: list[Item] = resp["output"]
    if resp.get("status") == "incomplete":
        reason = (resp.get("incomplete_details") or {}).get("reason")
        return "content_filter" if reason == "content_filter" else "length"
    calls = [o for o in output if o.get("type") in _CALLS]
    if calls:
        return "function_call" if opts.legacy_functions and len(calls) == 1 else "tool_calls"
    if any(p.get("refusal") == CONTENT_FILTER_REFUSAL for p in _parts(output, "refusal")):
        return "content_filter"  # the gateway's stand-in for an upstream that filtered it all
    return "stop"


def encode_usage(u: dict[str, Any] | None) -> dict[str, Any] | None:
    if not u:
        return None
    return {
        "prompt_tokens": u.get("input_tokens", 0),
        "completion_tokens": u.get("output_tokens", 0),
        "total_tokens": u.get("total_tokens", 0),
        "prompt_tokens_details": {
            "cached_tokens": (u.get("input_tokens_details") or {}).get("cached_tokens", 0)
        },
        "completion_tokens_details": {
            "reasoning_tokens": (u.get("output_tokens_details") or {}).get("reasoning_tokens", 0)
        },
    }


def tool_call(item: Item) -> dict[str, Any]:
    """A function or custom tool call item as a chat ``tool_calls`` entry. A custom tool's raw
    input travels in the function shim ``{"input": ...}`` (chat clients declare functions)."""
    return {"id": item["call_id"], "type": "function", "function": function_call(item)}


def function_call(item: Item) -> dict[str, str]:
    if item.get("type") == "custom_tool_call":
        args = orjson.dumps({"input": item.get("input", "")}).decode()
    else:
        args = item.get("arguments") or "{}"
    return {"name": item["name"], "arguments": args}


def _message(output: list[Item], opts: ChatOptions) -> dict[str, Any]:
    texts = _parts(output, "output_text")
    refusals = [p["refusal"] for p in _parts(output, "refusal")]
    calls = [o for o in output if o.get("type") in _CALLS]
    content = "".join(p["text"] for p in texts) if texts else None
    if content is None and not calls and not refusals:
        content = ""
    msg: dict[str, Any] = {
        "role": "assistant",
        "content": content,
        "refusal": "".join(refusals) if refusals else None,
        "annotations": [a for p in texts for a in _annotations(p)],
    }
    reasoning = _reasoning(output)
    if reasoning:
        msg["reasoning_content"] = reasoning
    if opts.legacy_functions and calls:
        # Legacy clients read one function_call; further calls (rare: parallel calls are turned
        # off for them) are not dropped but follow as tool_calls, as the stream sends them.
        msg["function_call"] = function_call(calls.pop(0))
    if calls:
        msg["tool_calls"] = [tool_call(c) for c in calls]
    return msg


def _parts(output: list[Item], kind: str) -> list[dict[str, Any]]:
    return [
        p
        for o in output
        if o.get("type") == "message"
        for p in o.get("content") or ()
        if p.get("type") == kind
    ]


def _reasoning(output: list[Item]) -> str:
    texts = []
    for o in output:
        if o.get("type") == "reasoning":
            texts += [p.get("text", "") for p in o.get("summary") or ()]
            texts += [p.get("text", "") for p in o.get("content") or ()]
    return "".join(texts)


def _annotations(part: dict[str, Any]) -> list[dict[str, Any]]:
    keep = ("url", "title", "start_index", "end_index")
    return [
        {"type": "url_citation", "url_citation": {k: a.get(k) for k in keep}}
        for a in part.get("annotations") or ()
        if a.get("type") == "url_citation"
    ]


def _logprobs(output: list[Item]) -> dict[str, Any]:
    content = [lp for p in _parts(output, "output_text") for lp in p.get("logprobs") or ()]
    return {"content": content, "refusal": None}
