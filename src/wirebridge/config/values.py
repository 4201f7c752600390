"""Readers for single config values: what counts as a valid string, number, port, URL, level.

The file loader and the environment loader share them, so ``port: 70000`` in YAML and
``WIREBRIDGE_PORT=70000`` fail the same way. Each reader takes the raw value and a ``Where`` and
either returns the typed value or raises ``ConfigError`` at that key path. Numbers are also
accepted as numeric strings because ``$VAR`` expansion and the environment only produce strings.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from wirebridge.config.errors import Where

T = TypeVar("T")

LOG_LEVELS = ("debug", "info", "warning", "error")


def kind(value: object) -> str:
    """The YAML name of a value's type, for messages (``bool`` first: it is an ``int``)."""
    if value is None:
        return "null"
    for types, name in (
        (bool, "boolean"),
        ((int, float), "number"),
        (str, "string"),
        (list, "list"),
        (dict, "mapping"),
    ):
        if isinstance(value, types):
            return name
    return type(value).__name__


def mapping(value: object, at: Where) -> dict[str, object]:
    """A mapping with string keys; an absent or empty (``null``) section is an empty mapping."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise at.error(f"must be a mapping, got {kind(value)}")
    for key in value:
        if not isinstance(key, str):
            raise at.error(f"keys must be strings, got {kind(key)} {key!r}")
    return value


def sequence(value: object, at: Where) -> list[object]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise at.error(f"must be a list, got {kind(value)}")
    return value


def check_keys(data: Mapping[str, object], at: Where, allowed: Collection[str]) -> None:
    """Unknown keys are errors: a misspelt optional key would otherwise be silently ignored."""
    for key in data:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            listed = ", ".join(sorted(allowed))
            raise at.key(key).error(f"unknown key {key!r}; {hint}allowed keys: {listed}")


def optional(
    data: Mapping[str, object], at: Where, key: str, read: Callable[[object, Where], T], default: T
) -> T:
    """``read`` the value under ``key``, or ``default`` when it is absent or ``null``."""
    value = data.get(key)
    return default if value is None else read(value, at.key(key))


def string(value: object, at: Where) -> str:
    if value is None:
        raise at.error("required string is missing")
    if not isinstance(value, str):
        raise at.error(f"must be a string, got {kind(value)} {value!r}")
    if not value.strip():
        raise at.error("must not be empty")
    return value


def optional_string(value: object, at: Where) -> str | None:
    """Empty counts as unset, so ``api_key: ${KEY:-}`` means "no key" rather than an error."""
    if value is None or value == "":
        return None
    return string(value, at)


def choice(value: object, at: Where, allowed: Collection[str]) -> str:
    text = string(value, at).strip().lower()
    if text not in allowed:
        raise at.error(f"must be one of {', '.join(allowed)}; got {value!r}")
    return text


def integer(value: object, at: Where, low: int, high: int | None = None) -> int:
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str):
        try:
            number = int(value)
        except ValueError:
            number = None
    in_range = number is not None and number >= low and (high is None or number <= high)
    if number is None or not in_range:
        bounds = f"between {low} and {high}" if high is not None else f"of at least {low}"
        raise at.error(f"must be an integer {bounds}, got {value!r}")
    return number


def positive_number(value: object, at: Where) -> float:
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = None
    if number is None or not math.isfinite(number) or number <= 0:
        raise at.error(f"must be a positive number, got {value!r}")
    return number


def port(value: object, at: Where) -> int:
    return integer(value, at, 1, 65535)


def host(value: object, at: Where) -> str:
    text = string(value, at).strip()
    if any(c.isspace() for c in text) or "/" in text:
        raise at.error(f"must be a host name or IP address, got {value!r}")
    return text


def log_level(value: object, at: Where) -> str:
    return choice(value, at, LOG_LEVELS)


def http_url(value: object, at: Where) -> str:
    """An http(s) base URL without its trailing ``/``; upstreams append paths such as
    ``/chat/completions`` to it, so a query or fragment would end up in the wrong place."""
    text = string(value, at).strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or " " in text:
        raise at.error(f"must be an http:// or https:// URL, got {value!r}")
    if parts.query or parts.fragment:
        raise at.error(f"must not have a query or fragment, got {value!r}")
    try:
        parts.port  # noqa: B018 - raises for a non-numeric or out-of-range port
    except ValueError:
        raise at.error(f"has an invalid port, got {value!r}") from None
    return text.rstrip("/")


NO_NAMES: tuple[str, ...] = ()


def names(value: object, at: Where) -> tuple[str, ...]:
    return tuple(string(item, at.index(i)) for i, item in enumerate(sequence(value, at)))


def relative_path(value: object, at: Where, base_dir: Path) -> Path | None:
    """``~`` is expanded; a relative path is relative to the config file, not the cwd."""
    text = optional_string(value, at)
    return None if text is None else base_dir / Path(text).expanduser()


def non_negative(value: object, at: Where) -> float:
    if value == 0:
        return 0.0
    return positive_number(value, at)
