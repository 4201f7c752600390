"""ResponsesStreamEncoder: numbering, the error event before a failure, the two dialects, SSE."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.support.validate import validate_event
from tests.upstreams.chat.pipeline import chunk, stream
from wirebridge.frontends.responses.stream import SSE_DONE, ResponsesStreamEncoder, error_event
from wirebridge.transport.sse import SSEParser


def _failed(error: dict[str, Any] | None) -> dict[str, Any]:
    return {"type": "response.failed", "response": {"status": "failed", "error": error}}


def test_sequence_number_on_every_event_from_zero_across_batches() -> None:
    enc = ResponsesStreamEncoder()
    seqs: list[int] = []
    for batch in (
        [{"type": "response.created"}],
        [],
        [{"type": "a"}, {"type": "b"}],
        [_failed({"code": "x", "message": "y"})],
    ):
        for ev in batch:
            seqs += [e["sequence_number"] for e in enc.events(ev)]
    assert seqs == list(range(5))  # the failure adds an error event


@pytest.mark.parametrize(
    ("error", "code", "message"),
    [
        pytest.param(
            {"code": "overloaded", "message": "Busy."},
            "overloaded",
            "Busy.",
            id="code_and_message_from_the_response_error",
        ),
        pytest.param(None, "server_error", "The response failed.", id="defaults_without_error"),
    ],
)
def test_error_event_before_response_failed(
    error: dict[str, Any] | None, code: str, message: str
) -> None:
    out = ResponsesStreamEncoder().events(_failed(error))
    assert [e["type"] for e in out] == ["error", "response.failed"]
    err = out[0]
    # flat, as the OpenAI SDK reads it ...
    assert (err["code"], err["message"], err["param"]) == (code, message, None)
    # ... and nested, as Open Responses has it
    assert err["error"] == {"type": "server_error", "code": code, "message": message, "param": None}
    assert [e["sequence_number"] for e in out] == [0, 1]


def test_error_event_is_valid_in_both_shapes() -> None:
    ev = error_event("rate_limit_exceeded", "Slow down.", "rate_limit_error")
    ev["sequence_number"] = 0
    validate_event(ev)


@pytest.mark.parametrize(
    ("dialect", "delta", "done"),
    [
        pytest.param(
            "openai",
            "response.reasoning_text.delta",
            "response.reasoning_text.done",
            id="openai_names_reasoning_text",
        ),
        pytest.param(
            "openresponses",
            "response.reasoning.delta",
            "response.reasoning.done",
            id="openresponses_renames_to_reasoning",
        ),
    ],
)
def test_reasoning_event_names_per_dialect(dialect: str, delta: str, done: str) -> None:
    run = stream(
        [
            chunk({"role": "assistant", "reasoning_content": "Hm."}),
            chunk({"content": "A"}),
            chunk({}, "stop"),
        ],
        reasoning_as="text",
        dialect=dialect,
    )
    kinds = run.types
    assert delta in kinds and done in kinds
    other = {"response.reasoning_text.delta", "response.reasoning.delta"} - {delta}
    assert not other & set(kinds)
    for ev in run.events:
        validate_event(ev)


def test_openresponses_dialect_leaves_other_events_alone() -> None:
    enc = ResponsesStreamEncoder("openresponses")
    ev = {"type": "response.reasoning_summary_text.delta", "delta": "x"}
    assert enc.events(dict(ev))[0]["type"] == ev["type"]


def test_sse_frames_parse_back_to_the_same_events() -> None:
    run = stream([chunk({"role": "assistant", "content": "Hi \u00e9\n\n"}), chunk({}, "stop")])
    events = [{k: v for k, v in e.items() if k != "sequence_number"} for e in run.events]
    data = ResponsesStreamEncoder().sse([dict(e) for e in events]) + SSE_DONE
    parsed = SSEParser().feed(data)
    assert parsed[-1] == (None, b"[DONE]")
    frames = parsed[:-1]
    assert [name.decode() for name, _ in frames if name] == [e["type"] for e in run.events]
    assert [orjson.loads(d) for _, d in frames] == run.events
    assert data.count(b"\n\n") == len(run.events) + 1  # one frame per event, nothing split


@pytest.mark.parametrize("dialect", ["openai", "openresponses"])
def test_sse_and_frames_number_and_name_events_as_events_does(dialect: str) -> None:
    # they number the common event inline: they must agree with events() on every path
    batches = [
        [{"type": "response.created"}],
        [
            {"type": "response.reasoning_text.delta", "delta": "x"},
            {"type": "response.output_text.delta", "delta": "y"},
        ],
        [_failed({"code": "x", "message": "y"})],
    ]
    one = ResponsesStreamEncoder(dialect)
    expected = [e for batch in batches for ev in batch for e in one.events(dict(ev))]
    other = ResponsesStreamEncoder(dialect)
    data = b"".join(other.sse([dict(ev) for ev in batch]) for batch in batches)
    frames = SSEParser().feed(data)
    assert [(name, orjson.loads(d)) for name, d in frames] == [
        (e["type"].encode(), e) for e in expected
    ]
    assert [e["sequence_number"] for e in expected] == list(range(5))
    third = ResponsesStreamEncoder(dialect)
    frames = [f for batch in batches for f in third.frames([dict(ev) for ev in batch])]
    assert [orjson.loads(f) for f in frames] == expected
