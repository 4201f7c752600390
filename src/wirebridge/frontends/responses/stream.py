"""Hub events → Responses API stream frames (SSE or WebSocket text), a state machine, no I/O.

It numbers events (``sequence_number`` on every one, from 0), renames the events whose names
differ between the OpenAI and Open Responses dialects, and puts an ``error`` event before a
``response.failed`` so both kinds of client learn why.
"""

from __future__ import annotations

from typing import Any

import orjson

from wirebridge.frontends.sse import named_events

Event = dict[str, Any]

_OPENRESPONSES_NAMES = {
    "response.reasoning_text.delta": "response.reasoning.delta",
    "response.reasoning_text.done": "response.reasoning.done",
}


def error_event(code: str, message: str, type_: str = "server_error") -> Event:
    # Flat for the OpenAI SDK, nested for Open Responses: one event satisfies both.
    return {
        "type": "error",
        "code": code,
        "message": message,
        "param": None,
        "error": {"type": type_, "code": code, "message": message, "param": None},
    }


class ResponsesStreamEncoder:
    def __init__(self, dialect: str = "openai") -> None:
        self._seq = 0
        self._rename = _OPENRESPONSES_NAMES if dialect == "openresponses" else None

    def events(self, ev: Event) -> list[Event]:
        """``ev`` numbered, preceded by an ``error`` event when it is a failure."""
        out: list[Event] = []
        if ev["type"] == "response.failed":
            err = ev["response"].get("error") or {}
            out.append(
                self._number(
                    error_event(
                        err.get("code", "server_error"), err.get("message", "The response failed.")
                    )
                )
            )
        out.append(self._number(ev))
        return out

    def _number(self, ev: Event) -> Event:
        if self._rename is not None and ev["type"] in self._rename:
            ev["type"] = self._rename[ev["type"]]
        ev["sequence_number"] = self._seq
        self._seq += 1
        return ev

    def numbered(self, events: list[Event]) -> list[Event]:
        """What ``events`` gives for each of a batch of hub events. (A token is an event: the
        common case is numbered here, inline.)"""
        out: list[Event] = []
        for ev in events:
            if self._rename is not None or ev["type"] == "response.failed":
                out += self.events(ev)
            else:
                ev["sequence_number"] = self._seq
                self._seq += 1
                out.append(ev)
        return out

    def sse(self, events: list[Event]) -> bytes:
        """SSE bytes for a batch of hub events: written with one write, never split."""
        return named_events(self.numbered(events))

    def frames(self, events: list[Event]) -> list[bytes]:
        """WebSocket text frames (their JSON) for a batch of hub events."""
        dumps = orjson.dumps
        return [dumps(ev) for ev in self.numbered(events)]


SSE_DONE = b"data: [DONE]\n\n"
