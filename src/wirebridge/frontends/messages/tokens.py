"""``POST /v1/messages/count_tokens``: a deterministic estimate, without calling an upstream.

The upstreams behind the gateway have no token-counting endpoint (and their tokenizers are not
Anthropic's), so the count is an estimate that is the same for the same request:

* text is counted at 4 characters a token (rounded up per text), which is close for English
  prose and code under the tokenizers of current models: the ``system`` prompt, every text,
  thinking and tool-result text, tool inputs (as compact JSON), and each tool's name,
  description and ``input_schema`` (as compact JSON);
* each image counts 1,600 tokens (Anthropic's cost of an image of about 1.15 megapixels, the
  size it scales larger images down to), each PDF or URL document 2,000 tokens;
* signatures and redacted thinking are opaque and count nothing;
* framing: 3 tokens per message and per block, 10 per tool, and 4 for the request.

The request is validated as ``/v1/messages`` validates it (``max_tokens`` is not required).
"""

from __future__ import annotations

from typing import Any

import orjson

CHARS_PER_TOKEN = 4
IMAGE_TOKENS = 1_600
DOCUMENT_TOKENS = 2_000
MESSAGE_OVERHEAD = 3
BLOCK_OVERHEAD = 3
TOOL_OVERHEAD = 10
REQUEST_OVERHEAD = 4


def count_tokens(body: dict[str, Any]) -> int:
    total = REQUEST_OVERHEAD + _content(body.get("system"))
    for msg in body.get("messages") or ():
        total += MESSAGE_OVERHEAD + _content(msg.get("content"))
    for tool in body.get("tools") or ():
        total += TOOL_OVERHEAD + _text(tool.get("name")) + _text(tool.get("description"))
        if tool.get("input_schema") is not None:
            total += _json(tool["input_schema"])
    return total


def _text(value: Any) -> int:
    if not isinstance(value, str) or not value:
        return 0
    return -(-len(value) // CHARS_PER_TOKEN)


def _json(value: Any) -> int:
    return _text(orjson.dumps(value).decode())


def _content(content: Any) -> int:
    if isinstance(content, str):
        return _text(content)
    if not isinstance(content, list):
        return 0
    return sum(BLOCK_OVERHEAD + _block(b) for b in content if isinstance(b, dict))


def _block(block: dict[str, Any]) -> int:
    kind = block.get("type")
    if kind == "text":
        return _text(block.get("text"))
    if kind == "thinking":
        return _text(block.get("thinking"))
    if kind == "tool_use":
        return _text(block.get("name")) + _json(block.get("input", {}))
    if kind == "tool_result":
        return _content(block.get("content"))
    if kind == "image":
        return IMAGE_TOKENS
    if kind == "document":
        source = block.get("source") or {}
        if source.get("type") == "text":
            return _text(source.get("data")) + _text(block.get("title"))
        if source.get("type") == "content":
            return _content(source.get("content")) + _text(block.get("title"))
        return DOCUMENT_TOKENS
    if kind == "search_result":
        return _content(block.get("content")) + _text(block.get("title"))
    return 0  # redacted_thinking, tool_reference, …: opaque or free
