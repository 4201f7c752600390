"""Input token counting: which tokenizer a model gets, the BPE counts, the framing per item, the
tool recipe (checked against numbers the OpenAI API returned), and that nothing needs the network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from wirebridge.engine.tokens import (
    AUDIO_TOKENS,
    ESTIMATE,
    FILE_TOKENS,
    IMAGE_LOW_TOKENS,
    IMAGE_TOKENS,
    MESSAGE_OVERHEAD,
    REPLY_PRIMING,
    Tokenizer,
    count_input_tokens,
    count_tools,
    encoding_for,
    estimate,
    tokenizer_for,
)
from wirebridge.hub.compaction import COMPACTION_FAMILY, SUMMARY_PREFIX
from wirebridge.hub.request import HubRequest
from wirebridge.hub.seal import ProviderData
from wirebridge.hub.tools import build_toolset

O200K = tokenizer_for("gpt-4o")
CL100K = tokenizer_for("gpt-4")


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-5.5", "o200k_base"),
        ("gpt-5", "o200k_base"),
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-mini-2024-07-18", "o200k_base"),
        ("gpt-4.1", "o200k_base"),
        ("gpt-4.5-preview", "o200k_base"),
        ("gpt-oss-120b", "o200k_base"),
        ("o1", "o200k_base"),
        ("o1-mini", "o200k_base"),
        ("o3", "o200k_base"),
        ("o4-mini", "o200k_base"),
        ("chatgpt-4o-latest", "o200k_base"),
        ("codex-mini-latest", "o200k_base"),
        ("GPT-4O", "o200k_base"),
        ("openai/gpt-4o", "o200k_base"),
        ("ft:gpt-4o-mini:acme::abc123", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4-turbo", "cl100k_base"),
        ("gpt-4-0613", "cl100k_base"),
        ("gpt-4-32k", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("gpt-35-turbo", "cl100k_base"),
        ("ft:gpt-3.5-turbo:acme::x", "cl100k_base"),
        ("deepseek-chat", None),
        ("claude-sonnet-4-5", None),
        ("llama-3.1-70b", None),
        ("upstream-model", None),
        ("omni-model", None),
    ],
)
def test_encoding_for(model: str, encoding: str | None) -> None:
    assert encoding_for(model) == encoding
    assert tokenizer_for(model).encoding == (encoding or "estimate")


@pytest.mark.parametrize(
    ("text", "o200k", "cl100k"),
    [
        ("", 0, 0),
        ("Hello, world!", 4, 4),
        ("tiktoken is great!", 6, 6),
        ("<|endoftext|>", 7, 7),  # special tokens in text are ordinary text
    ],
)
def test_bpe_counts(text: str, o200k: int, cl100k: int) -> None:
    assert O200K.exact and CL100K.exact
    assert O200K.count(text) == o200k
    assert CL100K.count(text) == cl100k


@pytest.mark.parametrize(("text", "tokens"), [("", 0), ("abc", 1), ("abcd", 1), ("abcde", 2)])
def test_estimate(text: str, tokens: int) -> None:
    assert estimate(text) == tokens
    assert not ESTIMATE.exact


# -- framing, item by item (with a tokenizer that counts characters) -------------------------

CHARS = Tokenizer("chars", len)
F = MESSAGE_OVERHEAD


def _compaction(summary: str) -> dict[str, Any]:
    return {
        "type": "compaction",
        "encrypted_content": "wb1.x",
        "_provider": ProviderData(COMPACTION_FAMILY, {"summary": summary}),
    }


def _reasoning(family: str, text: str) -> dict[str, Any]:
    pd = ProviderData(family, {"reasoning_content": text})
    return {"type": "reasoning", "summary": [], "_provider": pd}


ITEMS = [
    pytest.param({"type": "message", "role": "user", "content": "hello"}, F + 4 + 5, id="str"),
    pytest.param({"role": "user", "content": "hello"}, F + 4 + 5, id="no_type"),
    pytest.param(
        {
            "type": "message",
            "role": "assistant",
            "content": [
                {"type": "output_text", "text": "ab"},
                {"type": "refusal", "refusal": "cde"},
            ],
        },
        F + 9 + 5,
        id="parts",
    ),
    pytest.param(
        {"role": "user", "content": [{"type": "input_image", "image_url": "x", "detail": "low"}]},
        F + 4 + IMAGE_LOW_TOKENS,
        id="image_low",
    ),
    pytest.param(
        {"role": "user", "content": [{"type": "input_image", "image_url": "x"}]},
        F + 4 + IMAGE_TOKENS,
        id="image",
    ),
    pytest.param(
        {"role": "user", "content": [{"type": "input_file", "file_data": "x" * 10_000}]},
        F + 4 + FILE_TOKENS,
        id="file",
    ),
    pytest.param(
        {"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]},
        F + 4 + AUDIO_TOKENS,
        id="audio",
    ),
    pytest.param(
        {"type": "function_call", "call_id": "c", "name": "get", "arguments": '{"a":1}'},
        F + 3 + 7,
        id="function_call",
    ),
    pytest.param(
        {"type": "function_call_output", "call_id": "c", "output": "sunny"},
        F + 5,
        id="function_output",
    ),
    pytest.param(
        {
            "type": "function_call_output",
            "call_id": "c",
            "output": [{"type": "input_text", "text": "ab"}],
        },
        F + 2,
        id="function_output_parts",
    ),
    pytest.param(
        {"type": "custom_tool_call", "call_id": "c", "name": "apply_patch", "input": "*** x"},
        F + 11 + 5,
        id="custom_call",
    ),
    pytest.param(
        {"type": "custom_tool_call_output", "call_id": "c", "output": "ok"},
        F + 2,
        id="custom_output",
    ),
    pytest.param(_compaction("S"), F + 4 + len(SUMMARY_PREFIX) + 1, id="compaction"),
    pytest.param(_reasoning("deepseek", "think"), 5, id="reasoning_replayed"),
    pytest.param(_reasoning("openai", "think"), 0, id="reasoning_other_family"),
    pytest.param({"type": "reasoning", "encrypted_content": "gAAA"}, 0, id="reasoning_opaque"),
]


@pytest.mark.parametrize(("item", "tokens"), ITEMS)
def test_item_tokens(item: dict[str, Any], tokens: int) -> None:
    req = HubRequest(model="m", input=[item])
    assert count_input_tokens(req, CHARS, "deepseek") == REPLY_PRIMING + tokens


def test_reasoning_counts_only_for_the_family_it_is_replayed_to() -> None:
    req = HubRequest(model="m", input=[_reasoning("deepseek", "think")])
    assert count_input_tokens(req, CHARS, None) == REPLY_PRIMING


def test_instructions_and_json_schema_format() -> None:
    schema = {"type": "object"}
    req = HubRequest(
        model="m",
        input=[],
        instructions="Be brief.",
        text={"format": {"type": "json_schema", "name": "out", "schema": schema}},
    )
    expected = REPLY_PRIMING + F + len("system") + 9 + len("out") + len('{"type":"object"}')
    assert count_input_tokens(req, CHARS) == expected


def test_history_counts_every_turn() -> None:
    one = {"role": "user", "content": "hello"}
    req = HubRequest(model="m", input=[one] * 10)
    assert count_input_tokens(req, CHARS) == REPLY_PRIMING + 10 * (F + 4 + 5)


# -- tools: the OpenAI cookbook's recipe reproduces the API's own counts ----------------------

WEATHER = {
    "type": "function",
    "name": "get_current_weather",
    "description": "Get the current weather in a given location",
    "parameters": {
        "type": "object",
        "properties": {
            "location": {
                "type": "string",
                "description": "The city and state, e.g. San Francisco, CA",
            },
            "unit": {
                "type": "string",
                "description": "The unit of temperature to return",
                "enum": ["celsius", "fahrenheit"],
            },
        },
        "required": ["location"],
    },
}
WEATHER_MESSAGES = [
    {
        "role": "system",
        "content": "You are a helpful assistant that can answer to questions about the weather.",
    },
    {"role": "user", "content": "What's the weather like in San Francisco?"},
]


@pytest.mark.parametrize(("model", "api_count"), [("gpt-4o", 101), ("gpt-4", 105)])
def test_tools_match_the_openai_api(model: str, api_count: int) -> None:
    # "How to count tokens with tiktoken" (OpenAI cookbook): chat.completions reported
    # prompt_tokens 101 (gpt-4o, gpt-4o-mini) and 105 (gpt-3.5-turbo, gpt-4) for this request.
    req = HubRequest(
        model=model,
        input=[dict(m, type="message") for m in WEATHER_MESSAGES],
        tools=build_toolset([WEATHER], (), []),
    )
    assert count_input_tokens(req, tokenizer_for(model)) == api_count


@pytest.mark.parametrize(
    ("tool", "tokens"),
    [
        pytest.param({"type": "function", "name": "f"}, 12 + 7 + 2, id="bare"),
        pytest.param(
            {"type": "function", "name": "f", "description": "Does it."},
            12 + 7 + len("f:Does it"),
            id="description_dot_dropped",
        ),
        pytest.param(
            {
                "type": "function",
                "name": "f",
                "parameters": {"properties": {"p": {"type": "array", "items": {"type": "string"}}}},
            },
            12 + 7 + 2 + 3 + 3 + len("p:array:") + len('{"items":{"type":"string"}}'),
            id="nested_schema",
        ),
        pytest.param(
            {
                "type": "custom",
                "name": "apply_patch",
                "description": "Patch",
                "format": {"type": "grammar", "syntax": "lark", "definition": "start: x"},
            },
            12 + 7 + len("apply_patch:Patch") + len("start: x"),
            id="custom_grammar",
        ),
    ],
)
def test_tool_recipe(tool: dict[str, Any], tokens: int) -> None:
    o200k_chars = Tokenizer("o200k_base", len)
    assert count_tools(build_toolset([tool], (), []).tools, o200k_chars) == tokens


def test_no_tools_no_tokens() -> None:
    assert count_tools([], O200K) == 0


# -- offline -------------------------------------------------------------------------------------

OFFLINE_SCRIPT = textwrap.dedent(
    """
    import socket, sys

    def refuse(*args, **kwargs):
        raise OSError("network used")

    socket.socket.connect = refuse
    socket.create_connection = refuse
    from wirebridge.engine.tokens import tokenizer_for

    for model in ("gpt-4o", "gpt-4"):
        tok = tokenizer_for(model)
        assert tok.exact, tok
        print(tok.encoding, tok.count("Hello, world!"))
    # the Rust extension alone: the package's __init__ (rank files decoded in Python) never runs
    assert "bpe_openai.compat" not in sys.modules, sorted(sys.modules)
    """
)


def _unshare_works() -> bool:
    exe = shutil.which("unshare")
    if exe is None:
        return False
    probe = subprocess.run([exe, "-n", "true"], capture_output=True, check=False)
    return probe.returncode == 0


def test_bpe_needs_no_network() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIKTOKEN")}
    env |= {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}
    cmd = [sys.executable, "-c", OFFLINE_SCRIPT]
    if _unshare_works():  # no network namespace at all: nothing could be fetched
        cmd = ["unshare", "-n", *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["o200k_base", "4", "cl100k_base", "4"]
