"""count_tokens: the estimate's rules, one row each (see ``frontends/messages/tokens.py``)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from wirebridge.frontends.messages.tokens import (
    BLOCK_OVERHEAD,
    DOCUMENT_TOKENS,
    IMAGE_TOKENS,
    MESSAGE_OVERHEAD,
    REQUEST_OVERHEAD,
    TOOL_OVERHEAD,
    count_tokens,
)

HI = {"role": "user", "content": "hi"}
BASE = REQUEST_OVERHEAD + MESSAGE_OVERHEAD + 1  # "hi" is one token
SCHEMA = {"type": "object", "properties": {"q": {"type": "string"}}}
PNG = {"type": "base64", "media_type": "image/png", "data": "A" * 10_000}


def user(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"role": "user", "content": list(blocks)}


ROWS = [
    pytest.param({"messages": [HI]}, BASE, id="one_short_message"),
    pytest.param(
        {"messages": [{"role": "user", "content": "x" * 41}]},
        BASE + 10,
        id="4_chars_a_token_rounded_up",
    ),
    pytest.param({"system": "s" * 40, "messages": [HI]}, BASE + 10, id="system_string_counts"),
    pytest.param(
        {"system": [{"type": "text", "text": "s" * 40}], "messages": [HI]},
        BASE + BLOCK_OVERHEAD + 10,
        id="system_blocks_count",
    ),
    pytest.param(
        {
            "messages": [HI],
            "tools": [{"name": "search", "description": "d" * 8, "input_schema": SCHEMA}],
        },
        BASE + TOOL_OVERHEAD + 2 + 2 + -(-len(orjson.dumps(SCHEMA)) // 4),
        id="tools_count_name_description_schema",
    ),
    pytest.param(
        {"messages": [user({"type": "image", "source": PNG})]},
        REQUEST_OVERHEAD + MESSAGE_OVERHEAD + BLOCK_OVERHEAD + IMAGE_TOKENS,
        id="image_flat_cost_not_its_base64",
    ),
    pytest.param(
        {
            "messages": [
                user({"type": "document", "source": {**PNG, "media_type": "application/pdf"}})
            ]
        },
        REQUEST_OVERHEAD + MESSAGE_OVERHEAD + BLOCK_OVERHEAD + DOCUMENT_TOKENS,
        id="pdf_document_flat_cost",
    ),
    pytest.param(
        {
            "messages": [
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "t" * 8, "signature": "S" * 4000},
                        {"type": "redacted_thinking", "data": "R" * 4000},
                    ],
                }
            ]
        },
        REQUEST_OVERHEAD + MESSAGE_OVERHEAD + 2 * BLOCK_OVERHEAD + 2,
        id="thinking_text_counts_signatures_do_not",
    ),
    pytest.param(
        {
            "messages": [
                {
                    "role": "assistant",
                    "content": [
                        {"type": "tool_use", "id": "t", "name": "Bash", "input": {"c": "ls"}}
                    ],
                },
                user({"type": "tool_result", "tool_use_id": "t", "content": "r" * 12}),
            ]
        },
        REQUEST_OVERHEAD + 2 * MESSAGE_OVERHEAD + 2 * BLOCK_OVERHEAD + 1 + 3 + 3,
        id="tool_use_input_and_tool_result_count",
    ),
]


@pytest.mark.parametrize(("body", "expected"), ROWS)
def test_estimate(body: dict[str, Any], expected: int) -> None:
    assert count_tokens(body) == expected


def test_deterministic_and_growing_with_content() -> None:
    body = {"system": "sys", "messages": [HI, {"role": "assistant", "content": "hello"}]}
    assert count_tokens(body) == count_tokens(body)
    longer = {**body, "messages": [*body["messages"], {"role": "user", "content": "more " * 50}]}
    assert count_tokens(longer) > count_tokens(body)
