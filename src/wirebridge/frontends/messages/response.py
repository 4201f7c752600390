"""The final hub Response → an Anthropic ``message`` object (hub → wire).

Output items become content blocks in order: a reasoning item → ``thinking`` (its text, and its
gateway-sealed ``encrypted_content`` as the ``signature``), message parts → ``text``, a
function call → ``tool_use`` (``id`` = call_id, ``input`` = the parsed arguments). The stream
encoder (``stream.py``) uses the same ``stop_reason`` and ``usage`` functions, so a streamed
and a JSON answer agree.

Usage follows Anthropic's accounting: ``input_tokens`` excludes the cached part, which is
``cache_read_input_tokens``. A chat upstream does not say whether a stop sequence ended the
text, so ``stop_sequence`` is always null and such a stop is ``end_turn``.
"""

from __future__ import annotations

from typing import Any

import orjson

Block = dict[str, Any]


def message_id(response_id: str) -> str:
    return "msg_" + response_id.removeprefix("resp_")


def encode_response(resp: dict[str, Any], model: str, show_thinking: bool = True) -> dict[str, Any]:
    content: list[Block] = []
    for item in resp.get("output") or ():
        content.extend(item_blocks(item, show_thinking))
    return {
        "id": message_id(resp["id"]),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(resp),
        "stop_sequence": None,
        "usage": usage(resp.get("usage")),
    }


def item_blocks(item: dict[str, Any], show_thinking: bool = True) -> list[Block]:
    kind = item.get("type")
    if kind == "reasoning":
        text = reasoning_text(item) if show_thinking else ""
        signature = item.get("encrypted_content") or ""
        if not text and not signature:
            return []
        return [{"type": "thinking", "thinking": text, "signature": signature}]
    if kind == "message":
        return [_text_block(part) for part in item.get("content") or ()]
    if kind in ("function_call", "custom_tool_call"):
        return [
            {
                "type": "tool_use",
                "id": item.get("call_id"),
                "name": item.get("name"),
                "input": tool_input(item),
            }
        ]
    return []


def _text_block(part: dict[str, Any]) -> Block:
    if part.get("type") == "refusal":
        return {"type": "text", "text": part.get("refusal") or ""}
    return {"type": "text", "text": part.get("text") or ""}


def reasoning_text(item: dict[str, Any]) -> str:
    parts = item.get("content") or item.get("summary") or ()
    return "".join(p.get("text") or "" for p in parts)


def tool_input(item: dict[str, Any]) -> dict[str, Any]:
    """A call's arguments as an object; a custom tool's raw input as ``{"input": ...}``."""
    if item.get("type") == "custom_tool_call":
        return {"input": item.get("input") or ""}
    try:
        value = orjson.loads(item.get("arguments") or "{}")
    except orjson.JSONDecodeError:
        return {}  # cut short (max_tokens): nothing a client could run
    return value if isinstance(value, dict) else {}


def stop_reason(resp: dict[str, Any]) -> str:
    details = resp.get("incomplete_details") or {}
    if resp.get("status") == "incomplete":
        if details.get("reason") == "content_filter":
            return "refusal"
        return "max_tokens"
    output = resp.get("output") or ()
    if any(p.get("type") == "refusal" for i in output for p in i.get("content") or ()):
        return "refusal"
    if any(i.get("type") in ("function_call", "custom_tool_call") for i in output):
        return "tool_use"
    return "end_turn"


def usage(u: dict[str, Any] | None) -> dict[str, int]:
    u = u or {}
    total_in = u.get("input_tokens") or 0
    cached = (u.get("input_tokens_details") or {}).get("cached_tokens") or 0
    return {
        "input_tokens": max(total_in - cached, 0),
        "output_tokens": u.get("output_tokens") or 0,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": cached,
    }
