"""The ``profiles:`` section: provider quirks defined in the config file.

A host with quirks no built-in profile describes is a config row, not a code change::

    profiles:
      myhost:
        base: deepseek                 # start from a built-in profile (default: generic)
        reasoning_request: thinking    # reasoning_effort | thinking | reasoning_object | none
        reasoning_fields: [reasoning_content]
        replay_reasoning: true
        max_tokens_field: max_tokens
        params: [temperature, top_p, stop]   # the request parameters the host accepts
        stream_usage: false            # no stream_options.include_usage
    providers:
      mine: {base_url: https://llm.example/v1, profile: myhost}
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from wirebridge.config.errors import Where
from wirebridge.config.values import check_keys, choice, mapping, names, optional, string
from wirebridge.providers.profiles import ALL_PARAMS, PROFILES, Profile

REASONING_REQUESTS = ("reasoning_effort", "thinking", "reasoning_object", "none")
MAX_TOKENS_FIELDS = ("max_tokens", "max_completion_tokens")
_KEYS = (
    *("base", "family", "reasoning_request", "reasoning_fields", "replay_reasoning"),
    *("max_tokens_field", "params", "stream_usage"),
)


def parse_profiles(raw: object, at: Where) -> dict[str, Profile]:
    out: dict[str, Profile] = {}
    for name, value in mapping(raw, at).items():
        out[str(name)] = _profile(str(name), value, at.key(str(name)))
    return out


def _profile(name: str, raw: object, at: Where) -> Profile:
    data = mapping(raw, at)
    check_keys(data, at, _KEYS)
    base_name = optional(data, at, "base", lambda v, w: choice(v, w, tuple(PROFILES)), "generic")
    base = PROFILES[base_name]
    changes: dict[str, Any] = {"name": name, "family": optional(data, at, "family", string, name)}
    if data.get("reasoning_request") is not None:
        changes["reasoning_request"] = choice(
            data["reasoning_request"], at.key("reasoning_request"), REASONING_REQUESTS
        )
    if data.get("reasoning_fields") is not None:
        changes["reasoning_fields"] = names(data["reasoning_fields"], at.key("reasoning_fields"))
    if data.get("max_tokens_field") is not None:
        changes["max_tokens_field"] = choice(
            data["max_tokens_field"], at.key("max_tokens_field"), MAX_TOKENS_FIELDS
        )
    if data.get("params") is not None:
        changes["params"] = _params(data["params"], at.key("params"))
    for flag in ("replay_reasoning", "stream_usage"):
        if data.get(flag) is not None:
            changes[flag] = _bool(data[flag], at.key(flag))
    return replace(base, **changes)


def _params(value: object, at: Where) -> frozenset[str]:
    given = names(value, at)
    unknown = [p for p in given if p not in ALL_PARAMS]
    if unknown:
        known = ", ".join(sorted(ALL_PARAMS))
        raise at.error(f"unknown parameter {unknown[0]!r}; known: {known}")
    return frozenset(given)


def _bool(value: object, at: Where) -> bool:
    if not isinstance(value, bool):
        raise at.error("must be true or false")
    return value
