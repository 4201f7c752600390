"""SSE framing shared by the front doors' stream encoders: named events (``event:`` then
``data:``), as the Responses and Messages streams carry them."""

from __future__ import annotations

from typing import Any

import orjson

_EVENT_LINES: dict[str, bytes] = {}


def named_events(events: list[dict[str, Any]]) -> bytes:
    """SSE bytes for ``events``, each named by its ``type``: one write, never split."""
    parts: list[bytes] = []
    append = parts.append
    for ev in events:
        append(event_line(ev["type"]))
        append(orjson.dumps(ev))
        append(b"\n\n")
    return b"".join(parts)


def event_line(kind: str) -> bytes:
    """``event: <kind>`` and the start of the ``data:`` line, made once per event type: a stream
    writes one for every token."""
    line = _EVENT_LINES.get(kind)
    if line is None:
        line = b"event: " + kind.encode() + b"\ndata: "
        if len(_EVENT_LINES) < 256:  # the types are a short list; an upstream's odd ones, bounded
            _EVENT_LINES[kind] = line
    return line
