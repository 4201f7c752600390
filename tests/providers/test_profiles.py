"""Provider profiles: every profile encodes a full request, sending only what it accepts."""

from __future__ import annotations

import pytest

from tests.upstreams.chat.pipeline import translate
from wirebridge.providers.profiles import ALL_PARAMS, PROFILES, get_profile

FULL = {
    "input": "x",
    "stream": True,
    "instructions": "i",
    "max_output_tokens": 10,
    "temperature": 0.1,
    "top_p": 0.9,
    "stop": "END",
    "seed": 1,
    "top_logprobs": 2,
    "user": "u",
    "safety_identifier": "s",
    "metadata": {"k": "v"},
    "prompt_cache_key": "k",
    "store": True,
    "presence_penalty": 0.1,
    "frequency_penalty": 0.1,
    "service_tier": "auto",
    "parallel_tool_calls": True,
    "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
    "text": {"format": {"type": "json_object"}},
    "reasoning": {"effort": "low"},
}
STRUCTURAL = {"model", "messages", "stream", "stream_options", "tools", "tool_choice"}
REASONING_KEYS = {
    "reasoning_effort": "reasoning_effort",
    "thinking": "thinking",
    "reasoning_object": "reasoning",
    "none": None,
}


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_profile_sends_only_what_it_accepts(name: str) -> None:
    profile = PROFILES[name]
    out = translate(FULL, name)
    sent = (
        set(out)
        - STRUCTURAL
        - {"max_tokens", "max_completion_tokens", "reasoning_effort", "thinking", "reasoning"}
    )
    assert sent <= profile.params & ALL_PARAMS, sent - profile.params
    assert out[profile.max_tokens_field] == 10
    want = REASONING_KEYS[profile.reasoning_request]
    assert {"reasoning_effort", "thinking", "reasoning"} & set(out) == ({want} if want else set())
    assert "store" not in out
    assert profile.family


def test_unknown_profile_names_the_known_ones() -> None:
    assert get_profile("deepseek") is PROFILES["deepseek"]
    with pytest.raises(ValueError, match="deepseek"):
        get_profile("nope")
