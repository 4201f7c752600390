"""SSE framing shared by the front doors' stream encoders."""

from __future__ import annotations

_EVENT_LINES: dict[str, bytes] = {}


def event_line(kind: str) -> bytes:
    """``event: <kind>`` and the start of the ``data:`` line, made once per event type: a stream
    writes one for every token."""
    line = _EVENT_LINES.get(kind)
    if line is None:
        line = b"event: " + kind.encode() + b"\ndata: "
        if len(_EVENT_LINES) < 256:  # the types are a short list; an upstream's odd ones, bounded
            _EVENT_LINES[kind] = line
    return line
