"""Golden recordings: upstream Chat Completions streams and the exact client events they produce.

Each ``tests/golden/<name>.json`` holds a scenario — the client's Responses request, the provider
profile, the upstream chunk list (as a real provider sends it: id/object/created/model on every
chunk, the role in the first delta, a usage chunk with ``choices: []`` last) — and ``events``,
the client event list, with generated ids, sealed blobs and timestamps normalised by
``pipeline.normalize`` (``<msg_1>``, ``<fc_2>``, ``<sealed_1>``, ``<ts>``, in order of first
appearance).

``replay`` renders the chunks as SSE bytes, parses them back with ``SSEParser`` fed in small
pieces, and runs them through the decoder, the accumulator and the encoder. The scenarios
themselves are defined here in ``SCENARIOS``; ``tests/golden/regenerate.py`` writes the files.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import orjson

from wirebridge.transport.sse import SSEParser

from .pipeline import Event, assert_valid_stream, decode, normalize, stream

GOLDEN_DIR = Path(__file__).resolve().parents[2] / "golden"

Chunk = dict[str, Any]


def _stream_of(model: str, cid: str, **extra: Any) -> Any:
    base = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": 1_790_000_000,
        "model": model,
        **extra,
    }

    def chunk(
        delta: dict[str, Any] | None = None, finish: str | None = None, **choice: Any
    ) -> Chunk:
        return {
            **base,
            "choices": [
                {
                    "index": 0,
                    "delta": delta or {},
                    "logprobs": None,
                    "finish_reason": finish,
                    **choice,
                }
            ],
        }

    def usage(u: dict[str, Any]) -> Chunk:
        return {**base, "choices": [], "usage": u}

    return chunk, usage


def _openai_usage(prompt: int, completion: int, cached: int = 0, reasoning: int = 0) -> Any:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": reasoning,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _plain_text() -> dict[str, Any]:
    chunk, usage = _stream_of(
        "gpt-4.1-mini-2025-04-14",
        "chatcmpl-CbVfVAqvYQ2S1",
        service_tier="default",
        system_fingerprint="fp_6f2eabb9a5",
    )
    return {
        "description": "Plain text answer from an OpenAI-style host, usage chunk last.",
        "profile": "openai",
        "request": {"model": "gpt-4.1-mini", "input": "Say hello.", "stream": True},
        "upstream": [
            chunk({"role": "assistant", "content": "", "refusal": None}),
            chunk({"content": "Hello"}),
            chunk({"content": "! How can"}),
            chunk({"content": " I help?"}),
            chunk({}, "stop"),
            usage(_openai_usage(9, 7)),
        ],
    }


def _deepseek_reasoning() -> dict[str, Any]:
    chunk, usage = _stream_of(
        "deepseek-reasoner",
        "5f6b2c1e-8a0d-4f1e-9a55-3c1d2e4f5a6b",
        system_fingerprint="fp_7e73fd9a08_prod0820_fp8_kvcache",
    )
    return {
        "description": "DeepSeek thinking: reasoning_content deltas, then content; cache usage.",
        "profile": "deepseek",
        "request": {
            "model": "deepseek-reasoner",
            "input": "What is 17 * 3?",
            "stream": True,
            "reasoning": {"effort": "high", "summary": "auto"},
            "include": ["reasoning.encrypted_content"],
            "store": False,
        },
        "upstream": [
            chunk({"role": "assistant", "content": None, "reasoning_content": ""}),
            chunk({"content": None, "reasoning_content": "17 * 3 = "}),
            chunk({"content": None, "reasoning_content": "51."}),
            chunk({"content": "17 \u00d7 3 = ", "reasoning_content": None}),
            chunk({"content": "**51**", "reasoning_content": None}),
            chunk({"content": "", "reasoning_content": None}, "stop"),
            usage(
                {
                    "prompt_tokens": 14,
                    "completion_tokens": 22,
                    "total_tokens": 36,
                    "prompt_tokens_details": {"cached_tokens": 0},
                    "completion_tokens_details": {"reasoning_tokens": 12},
                    "prompt_cache_hit_tokens": 0,
                    "prompt_cache_miss_tokens": 14,
                }
            ),
        ],
    }


WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}


def _parallel_tool_calls() -> dict[str, Any]:
    chunk, usage = _stream_of(
        "gpt-4.1-2025-04-14",
        "chatcmpl-CbVgT1x9PaR4l",
        service_tier="default",
        system_fingerprint="fp_b3f1157249",
    )

    def call(i: int, args: str, call_id: str | None = None) -> Chunk:
        tc: dict[str, Any] = {"index": i, "function": {"arguments": args}}
        if call_id:
            tc.update(id=call_id, type="function")
            tc["function"]["name"] = "get_weather"
        return chunk({"tool_calls": [tc]})

    first = call(0, "", "call_pQx1Rz8mVh2nY5tK3wLd")
    first["choices"][0]["delta"].update(role="assistant", content=None, refusal=None)
    return {
        "description": "Two parallel calls, each split across chunks, one after the other.",
        "profile": "openai",
        "request": {
            "model": "gpt-4.1",
            "input": "Weather in Paris and Rome?",
            "stream": True,
            "tools": [WEATHER],
            "parallel_tool_calls": True,
        },
        "upstream": [
            first,
            call(0, '{"ci'),
            call(0, 'ty": "P'),
            call(0, 'aris"}'),
            call(1, "", "call_Ak92LmQe0sXv7TbN1cHj"),
            call(1, '{"ci'),
            call(1, 'ty": "Rome"}'),
            chunk({}, "tool_calls"),
            usage(_openai_usage(61, 48, cached=0)),
        ],
    }


APPLY_PATCH = {
    "type": "custom",
    "name": "apply_patch",
    "description": "Use the `apply_patch` tool to edit files. This is a FREEFORM tool, so do "
    "not wrap the patch in JSON.",
    "format": {
        "type": "grammar",
        "syntax": "lark",
        "definition": 'start: begin_patch hunk+ end_patch\nbegin_patch: "*** Begin Patch"'
        ' LF\nend_patch: "*** End Patch" LF?\n',
    },
}
PATCH = '*** Begin Patch\n*** Add File: hello.txt\n+Grüße, "world" \\o/ 😀\n*** End Patch\n'


def _custom_apply_patch() -> dict[str, Any]:
    chunk, usage = _stream_of(
        "deepseek-chat",
        "9c1e0f2a-3b4d-4e5f-8a9b-0c1d2e3f4a5b",
        system_fingerprint="fp_8802369eaa_prod0623_fp8_kvcache",
    )
    args = json.dumps({"input": PATCH})  # ASCII-escaped: ü as \u00fc, 😀 as a surrogate pair
    inside = [args.index("\\u00fc") + 3, args.index("\\\\") + 1, args.index("\\ud83d") + 8]
    cuts = sorted({0, 3, 11, 40, *inside, len(args) - 6, len(args)})
    pieces = [args[a:b] for a, b in itertools.pairwise(cuts)]
    chunks = [
        chunk(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_00_X9kLmN2pQr4sT6uV8wYz0aB1",
                        "type": "function",
                        "function": {"name": "apply_patch", "arguments": ""},
                    }
                ],
            }
        )
    ]
    chunks += [
        chunk({"content": None, "tool_calls": [{"index": 0, "function": {"arguments": p}}]})
        for p in pieces
    ]
    chunks += [
        chunk({"content": None}, "tool_calls"),
        usage(
            {
                "prompt_tokens": 812,
                "completion_tokens": 45,
                "total_tokens": 857,
                "prompt_tokens_details": {"cached_tokens": 768},
                "prompt_cache_hit_tokens": 768,
                "prompt_cache_miss_tokens": 44,
            }
        ),
    ]
    return {
        "description": "Codex's freeform apply_patch through the function shim; the JSON "
        "arguments are split inside escapes and inside a surrogate pair.",
        "profile": "deepseek",
        "request": {
            "model": "deepseek-chat",
            "stream": True,
            "tools": [APPLY_PATCH],
            "input": [
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "create hello.txt"}],
                }
            ],
            "tool_choice": "auto",
            "parallel_tool_calls": False,
            "store": False,
        },
        "upstream": chunks,
    }


def _length_cut() -> dict[str, Any]:
    chunk, usage = _stream_of("llama-3.3-70b", "chatcmpl-7d1c0a5e2b", system_fingerprint=None)
    return {
        "description": "The answer is cut by max_output_tokens: incomplete, usage kept.",
        "profile": "generic",
        "request": {
            "model": "llama-3.3-70b",
            "input": "Write a long poem.",
            "stream": True,
            "max_output_tokens": 8,
        },
        "upstream": [
            chunk({"role": "assistant", "content": ""}),
            chunk({"content": "Roses are red,"}),
            chunk({"content": " violets are"}),
            chunk({}, "length"),
            usage({"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20}),
        ],
    }


SCENARIOS: dict[str, dict[str, Any]] = {
    "plain_text": _plain_text(),
    "deepseek_reasoning_text": _deepseek_reasoning(),
    "parallel_tool_calls": _parallel_tool_calls(),
    "custom_apply_patch": _custom_apply_patch(),
    "length_cut": _length_cut(),
}


def sse_bytes(chunks: list[Chunk]) -> bytes:
    return b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"


def parse_sse(data: bytes, piece: int = 7) -> list[Chunk]:
    parser, chunks = SSEParser(), []
    for i in range(0, len(data), piece):
        for _event, payload in parser.feed(data[i : i + piece]):
            if payload == b"[DONE]":
                return chunks
            chunks.append(orjson.loads(payload))
    raise AssertionError("no [DONE]")


def replay(scenario: dict[str, Any]) -> list[Event]:
    """The normalised client events for ``scenario`` (validated on the way)."""
    chunks = parse_sse(sse_bytes(scenario["upstream"]))
    assert chunks == scenario["upstream"]
    run = stream(chunks, decode(scenario["request"]), profile=scenario["profile"])
    assert_valid_stream(run.events)
    return normalize(run.events)  # type: ignore[no-any-return]


def path_of(name: str) -> Path:
    return GOLDEN_DIR / f"{name}.json"


def render(scenario: dict[str, Any], events: list[Event]) -> str:
    return json.dumps({**scenario, "events": events}, indent=2, ensure_ascii=False) + "\n"
