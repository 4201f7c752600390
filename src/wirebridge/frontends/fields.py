"""Type checks of a request body's scalar fields, shared by every front door.

Each front door lists its fields as ``name -> (accepted Python types, type name for the
message)``; the body is checked once, before decoding reads it. JSON ``true`` is not a number
here, although Python's ``bool`` is an ``int``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wirebridge.errors import InvalidRequest

Scalars = dict[str, tuple[tuple[type, ...], str]]


def openai_message(name: str, label: str, value: object) -> str:
    return f"Invalid type for '{name}': expected {label}, got {json_type(value)}."


def check_types(
    body: dict[str, Any],
    scalars: Scalars,
    message: Callable[[str, str, object], str] = openai_message,
) -> None:
    for name, (types, label) in scalars.items():
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise InvalidRequest(message(name, label, value), param=name, code="invalid_type")


def json_type(v: object) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(
        type(v), "null" if v is None else "number"
    )
