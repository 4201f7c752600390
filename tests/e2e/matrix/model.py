"""The matrix's neutral vocabulary: what the upstream model says, what a client saw."""

from __future__ import annotations

from dataclasses import dataclass, field

WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@dataclass(frozen=True)
class Say:
    """One upstream answer, in no protocol in particular."""

    text: str | None = None
    reasoning: str | None = None
    calls: tuple[tuple[str, str, str], ...] = ()  # (call id, tool name, arguments JSON)
    finish: str = "stop"  # stop | length
    error: int | None = None  # answer with this HTTP status instead
    retry_after: str | None = None


@dataclass
class Seen:
    """What one client turn got back, in no protocol in particular."""

    text: str = ""
    reasoning: str = ""
    calls: list[tuple[str, str, str]] = field(default_factory=list)  # (id, name, arguments)
    finish: str = ""  # stop | length | tool | error
    error_status: int | None = None
    model: str = ""
