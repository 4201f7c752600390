"""ResponseBuilder: the final Response carries every field the schema lists, schema-valid.

Each row is a request (decoded as the gateway decodes it) and what its Response must echo; the
Response of a short completed answer must validate against the Open Responses ``ResponseResource``
(``tests/support/validate.py``), in the ``response.created`` snapshot as in the final object.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.validate import validate_response
from tests.upstreams.chat.pipeline import assert_valid_stream, chunk, request, stream

SCHEMA = {"type": "object", "properties": {"q": {"type": "string"}}}

ROWS = [
    pytest.param(
        {},
        {
            "truncation": "disabled",
            "text": {"format": {"type": "text"}},
            "temperature": 1.0,
            "top_p": 1.0,
            "tool_choice": "auto",
            "tools": [],
            "parallel_tool_calls": True,
            "metadata": {},
            "service_tier": "default",
            "top_logprobs": 0,
            "presence_penalty": 0.0,
            "frequency_penalty": 0.0,
            "store": True,
            "background": False,
            "error": None,
            "incomplete_details": None,
        },
        id="defaults_are_schema_valid_values",
    ),
    pytest.param(
        {
            "instructions": "Be brief.",
            "max_output_tokens": 50,
            "temperature": 0.3,
            "top_p": 0.5,
            "user": "u",
            "metadata": {"k": "v"},
            "store": False,
        },
        {
            "instructions": "Be brief.",
            "max_output_tokens": 50,
            "temperature": 0.3,
            "top_p": 0.5,
            "user": "u",
            "metadata": {"k": "v"},
            "store": False,
        },
        id="request_fields_echoed",
    ),
    pytest.param(
        {"tools": [{"type": "function", "name": "f"}]},
        {
            "tools": [
                {
                    "type": "function",
                    "name": "f",
                    "description": None,
                    "parameters": None,
                    "strict": False,
                }
            ]
        },
        id="minimal_function_tool_echoed_with_every_schema_field",
    ),
    pytest.param(
        {"tools": [{"type": "web_search"}, {"type": "custom", "name": "apply_patch"}]},
        {},
        id="non_function_tools_echoed",
    ),
    pytest.param(
        {"text": {"format": {"type": "json_schema", "name": "n", "schema": SCHEMA}}},
        {},
        id="json_schema_format_echoed",
    ),
    pytest.param(
        {"text": {"verbosity": "low"}},
        {"text": {"format": {"type": "text"}, "verbosity": "low"}},
        id="text_verbosity_only_gets_text_format",
    ),
    pytest.param(
        {"reasoning": {"effort": "high", "summary": "auto"}},
        {"reasoning": {"effort": "high", "summary": "auto"}},
        id="reasoning_with_effort_and_summary_echoed",
    ),
    pytest.param(
        {"reasoning": {"effort": "medium"}},
        {"reasoning": {"effort": "medium"}},
        id="reasoning_effort_only_echo_is_schema_valid",
    ),
    pytest.param(
        {"reasoning": {"summary": "auto"}},
        {"reasoning": {"summary": "auto"}},
        id="reasoning_summary_only_echo_is_schema_valid",
    ),
    pytest.param(
        {
            "tool_choice": {"type": "function", "name": "f"},
            "tools": [{"type": "function", "name": "f", "parameters": SCHEMA}],
        },
        {"tool_choice": {"type": "function", "name": "f"}},
        id="named_tool_choice_echoed",
    ),
]


def _subset(want: Any, got: Any) -> bool:
    if isinstance(want, dict):
        return isinstance(got, dict) and all(
            k in got and _subset(v, got[k]) for k, v in want.items()
        )
    return bool(want == got)


@pytest.mark.parametrize(("body", "echo"), ROWS)
def test_response_echo(body: dict[str, Any], echo: dict[str, Any]) -> None:
    run = stream([chunk({"role": "assistant", "content": "ok"}), chunk({}, "stop")], request(body))
    resp = run.response
    for key, want in echo.items():
        assert _subset(want, resp[key]), f"{key}: want {want!r}, got {resp[key]!r}"
    assert resp["status"] == "completed" and isinstance(resp["completed_at"], int)
    assert run.events[0]["response"]["completed_at"] is None
    validate_response(run.events[0]["response"], "response.created")
    validate_response(resp)
    assert_valid_stream(run.events)
