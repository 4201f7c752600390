"""Provider profiles: the quirks of OpenAI-compatible Chat Completions hosts, as data.

A profile says how a host wants reasoning requested and returns it, which request parameters it
accepts, and which provider family its opaque data belongs to. Adding a host with known quirks is
a row here (or a config row naming an existing profile); the encoders never test a provider name.
"""

from __future__ import annotations

from dataclasses import dataclass

# How reasoning effort is asked for:
#   "reasoning_effort": {"reasoning_effort": "<effort>"}            (OpenAI, Groq, vLLM, Gemini)
#   "thinking":         {"thinking": {"type": "enabled"|"disabled"}} (DeepSeek's switch)
#   "reasoning_object": {"reasoning": {"effort": "<effort>"}}        (OpenRouter)
#   "none":             not sent
ReasoningRequest = str

ALL_PARAMS = frozenset(
    {
        "temperature",
        "top_p",
        "stop",
        "seed",
        "user",
        "logprobs",
        "top_logprobs",
        "metadata",
        "response_format",
        "parallel_tool_calls",
        "presence_penalty",
        "frequency_penalty",
        "service_tier",
        "prompt_cache_key",
        "safety_identifier",
        "store",
    }
)


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    family: str  # provider data (reasoning replay) is only replayed within one family
    reasoning_request: ReasoningRequest = "reasoning_effort"
    reasoning_fields: tuple[str, ...] = ("reasoning_content", "reasoning")  # read from deltas
    replay_reasoning: bool = False  # send reasoning_content back on assistant turns
    max_tokens_field: str = "max_tokens"
    params: frozenset[str] = ALL_PARAMS - {"metadata", "store", "prompt_cache_key"}
    stream_usage: bool = True  # accepts stream_options.include_usage


_COMMON = ALL_PARAMS - {"metadata", "store", "prompt_cache_key", "safety_identifier"}

PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("generic", family="generic"),
        Profile(
            "openai",
            family="openai",
            max_tokens_field="max_completion_tokens",
            params=ALL_PARAMS - {"store"},
        ),
        Profile(
            "deepseek",
            family="deepseek",
            reasoning_request="thinking",
            reasoning_fields=("reasoning_content",),
            replay_reasoning=True,
            params=_COMMON - {"seed", "service_tier", "parallel_tool_calls"},
        ),
        Profile(
            "openrouter",
            family="openrouter",
            reasoning_request="reasoning_object",
            reasoning_fields=("reasoning", "reasoning_content"),
            replay_reasoning=True,
            params=_COMMON,
        ),
        Profile("groq", family="groq", reasoning_fields=("reasoning",), params=_COMMON),
        Profile(
            "vllm",
            family="vllm",
            reasoning_fields=("reasoning_content", "reasoning"),
            replay_reasoning=True,
            params=_COMMON,
        ),
        Profile("ollama", family="ollama", reasoning_fields=("reasoning",), params=_COMMON),
        Profile("gemini", family="gemini", params=_COMMON - {"seed", "service_tier"}),
        Profile(
            "mistral",
            family="mistral",
            reasoning_request="none",
            params=_COMMON - {"service_tier", "logprobs", "top_logprobs"},
        ),
    )
}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(
            f"unknown provider profile {name!r}; known: {', '.join(PROFILES)}"
        ) from None
