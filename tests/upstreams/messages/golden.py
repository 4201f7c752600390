"""Golden recordings: Anthropic Messages streams and the exact client events they produce.

Each ``tests/golden/anthropic/<name>.json`` holds a scenario — the client's Responses request,
the upstream's SSE events as Anthropic sends them (``message_start`` with the input usage, a
``ping`` after the first block starts, ``thinking_delta`` + ``signature_delta``,
``input_json_delta`` opening with ``""``, ``message_delta`` with the output usage,
``message_stop``) — and ``events``, the client event list with generated ids, sealed blobs and
timestamps normalised (``<msg_1>``, ``<sealed_1>``, ``<ts>``).

``replay`` frames the events as SSE bytes (``event:`` + ``data:``), parses them back with
``SSEParser`` fed in small pieces, and runs them through the decoder, the accumulator and the
encoder. The files live in their own folder so the chat recordings' checks (one file per chat
scenario) stay as they are. To rewrite them after an intended change::

    /work/venv/bin/python -m tests.upstreams.messages.golden
    git diff tests/golden/anthropic/
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import orjson

from wirebridge.transport.sse import SSEParser

from .pipeline import decode, normalize, stream

GOLDEN_DIR = Path(__file__).resolve().parents[2] / "golden" / "anthropic"
MODEL = "claude-sonnet-4-5-20250929"
MSG_ID = "msg_01Hk6nNfNQXDsYSM9NqPfCsY"
SIG = (
    "EqQBCkYIBxgCKkBvX0f1Zr5Jm3ZcQkJqnpS8tJbR3Y9p4wKfH2mGxV7sLdNcE1aUoTzB6yWrIeX5hQvA0gMjKuP8"
    "iOlY2nDFtZ3bCxS4qR7vWmE9kJhG1aT6oNsUyL0pVfB2cI8dXrK5jMwQzH3eA=="
)
Event = dict[str, Any]


def _start(input_tokens: int, cache_read: int = 0, cache_write: int = 0) -> Event:
    return {
        "type": "message_start",
        "message": {
            "id": MSG_ID,
            "type": "message",
            "role": "assistant",
            "model": MODEL,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": input_tokens,
                "cache_creation_input_tokens": cache_write,
                "cache_read_input_tokens": cache_read,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": cache_write,
                    "ephemeral_1h_input_tokens": 0,
                },
                "output_tokens": 1,
                "service_tier": "standard",
            },
        },
    }


def _block(index: int, block: dict[str, Any]) -> Event:
    return {"type": "content_block_start", "index": index, "content_block": block}


def _delta(index: int, delta: dict[str, Any]) -> Event:
    return {"type": "content_block_delta", "index": index, "delta": delta}


def _text(index: int, *pieces: str) -> list[Event]:
    return [
        _block(index, {"type": "text", "text": ""}),
        *(_delta(index, {"type": "text_delta", "text": p}) for p in pieces),
        {"type": "content_block_stop", "index": index},
    ]


def _thinking(index: int, *pieces: str) -> list[Event]:
    return [
        _block(index, {"type": "thinking", "thinking": "", "signature": ""}),
        *(_delta(index, {"type": "thinking_delta", "thinking": p}) for p in pieces),
        _delta(index, {"type": "signature_delta", "signature": SIG}),
        {"type": "content_block_stop", "index": index},
    ]


def _tool(index: int, call_id: str, name: str, *pieces: str) -> list[Event]:
    return [
        _block(index, {"type": "tool_use", "id": call_id, "name": name, "input": {}}),
        _delta(index, {"type": "input_json_delta", "partial_json": ""}),
        *(_delta(index, {"type": "input_json_delta", "partial_json": p}) for p in pieces),
        {"type": "content_block_stop", "index": index},
    ]


def _end(reason: str, output_tokens: int) -> list[Event]:
    return [
        {
            "type": "message_delta",
            "delta": {"stop_reason": reason, "stop_sequence": None},
            "usage": {"output_tokens": output_tokens},
        },
        {"type": "message_stop"},
    ]


def _ping(events: list[Event]) -> list[Event]:
    """Anthropic sends a ping right after the first block starts."""
    return [*events[:2], {"type": "ping"}, *events[2:]]


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
}
APPLY_PATCH = {
    "type": "custom",
    "name": "apply_patch",
    "description": "Use the `apply_patch` tool to edit files. This is a FREEFORM tool.",
    "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/s"},
}
PATCH = '*** Begin Patch\n*** Add File: hello.txt\n+Grüße, "world" \\o/ 😀\n*** End Patch\n'


def _plain_text() -> dict[str, Any]:
    return {
        "description": "Plain text with a ping after the first block starts; cache usage.",
        "request": {"model": "claude", "input": "Say hello.", "stream": True},
        "upstream": _ping(
            [
                _start(9, cache_read=2048, cache_write=100),
                *_text(0, "Hello", "! How can", " I help?"),
                *_end("end_turn", 12),
            ]
        ),
    }


def _thinking_tool_use() -> dict[str, Any]:
    return {
        "description": "Extended thinking with its signature, text, then a tool_use whose input "
        "streams as input_json_delta fragments; stop_reason tool_use.",
        "request": {
            "model": "claude",
            "input": "Weather in Paris?",
            "stream": True,
            "tools": [WEATHER],
            "reasoning": {"effort": "medium", "summary": "auto"},
            "include": ["reasoning.encrypted_content"],
            "store": False,
        },
        "upstream": _ping(
            [
                _start(412),
                *_thinking(0, "The user wants the weather", " in Paris. I'll call get_weather."),
                *_text(1, "Let me check the weather."),
                *_tool(
                    2, "toolu_01D7FLrfh4GYq7yT1ULFeyMV", "get_weather", '{"ci', 'ty": "P', 'aris"}'
                ),
                *_end("tool_use", 98),
            ]
        ),
    }


def _redacted_thinking() -> dict[str, Any]:
    return {
        "description": "A redacted_thinking block (data in its start event) before the answer.",
        "request": {
            "model": "claude",
            "input": "Hi",
            "stream": True,
            "reasoning": {"effort": "low"},
        },
        "upstream": _ping(
            [
                _start(30),
                _block(
                    0, {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2"}
                ),
                {"type": "content_block_stop", "index": 0},
                *_text(1, "Hello."),
                *_end("end_turn", 40),
            ]
        ),
    }


def _custom_apply_patch() -> dict[str, Any]:
    args = json.dumps({"input": PATCH})  # ASCII-escaped: ü as \u00fc, 😀 as a surrogate pair
    inside = [args.index("\\u00fc") + 3, args.index("\\\\") + 1, args.index("\\ud83d") + 8]
    cuts = sorted({0, 3, 11, 40, *inside, len(args) - 6, len(args)})
    pieces = [args[a:b] for a, b in itertools.pairwise(cuts)]
    return {
        "description": "Codex's freeform apply_patch through the one-string shim; the JSON input "
        "is split inside escapes and inside a surrogate pair.",
        "request": {
            "model": "claude",
            "stream": True,
            "tools": [APPLY_PATCH],
            "input": "create hello.txt",
            "parallel_tool_calls": False,
            "store": False,
        },
        "upstream": _ping(
            [
                _start(800, cache_read=768),
                *_tool(0, "toolu_01Pq9xVb2Nn4Tk7Ls1Mw3Rz", "apply_patch", *pieces),
                *_end("tool_use", 45),
            ]
        ),
    }


def _max_tokens() -> dict[str, Any]:
    return {
        "description": "The answer is cut by max_tokens: incomplete, usage kept.",
        "request": {
            "model": "claude",
            "input": "Write a long poem.",
            "stream": True,
            "max_output_tokens": 8,
        },
        "upstream": _ping(
            [_start(12), *_text(0, "Roses are red,", " violets are"), *_end("max_tokens", 8)]
        ),
    }


def _overloaded_mid_stream() -> dict[str, Any]:
    return {
        "description": "An error event mid-stream: what came before stays, the response fails.",
        "request": {"model": "claude", "input": "Tell me a story.", "stream": True},
        "upstream": [
            _start(15),
            _block(0, {"type": "text", "text": ""}),
            {"type": "ping"},
            _delta(0, {"type": "text_delta", "text": "Once upon a time"}),
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
        ],
    }


SCENARIOS: dict[str, dict[str, Any]] = {
    "anthropic_plain_text": _plain_text(),
    "anthropic_thinking_tool_use": _thinking_tool_use(),
    "anthropic_redacted_thinking": _redacted_thinking(),
    "anthropic_custom_apply_patch": _custom_apply_patch(),
    "anthropic_max_tokens": _max_tokens(),
    "anthropic_overloaded_mid_stream": _overloaded_mid_stream(),
}


def sse_bytes(events: list[Event]) -> bytes:
    return b"".join(
        b"event: " + e["type"].encode() + b"\ndata: " + orjson.dumps(e) + b"\n\n" for e in events
    )


def parse_sse(data: bytes, piece: int = 7) -> list[Event]:
    parser, events = SSEParser(), []
    for i in range(0, len(data), piece):
        for name, payload in parser.feed(data[i : i + piece]):
            event = orjson.loads(payload)
            assert name is not None and name.decode() == event["type"]
            events.append(event)
    return events


def replay(scenario: dict[str, Any]) -> list[Event]:
    """The normalised client events for ``scenario`` (validated on the way)."""
    events = parse_sse(sse_bytes(scenario["upstream"]))
    assert events == scenario["upstream"]
    run = stream(events, decode(scenario["request"]))
    return normalize(run.events)  # type: ignore[no-any-return]


def path_of(name: str) -> Path:
    return GOLDEN_DIR / f"{name}.json"


def render(scenario: dict[str, Any], events: list[Event]) -> str:
    return json.dumps({**scenario, "events": events}, indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    for stale in sorted(set(GOLDEN_DIR.glob("*.json")) - {path_of(n) for n in SCENARIOS}):
        stale.unlink()
        print(f"removed {stale}")
    for name, scenario in SCENARIOS.items():
        path = path_of(name)
        text = render(scenario, replay(scenario))
        old = path.read_text() if path.exists() else None
        if text != old:
            path.write_text(text)
        print(f"{'unchanged' if text == old else 'wrote'} {path}")


if __name__ == "__main__":
    main()
