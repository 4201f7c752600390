"""The hub request: a Responses API request, decoded once, that every upstream encodes from.

Items stay in their Responses wire shape (plain dicts, parsed once and never re-modelled), so
same-protocol traffic keeps unknown fields. The front door attaches what the gateway learned
while decoding under keys that start with ``_`` (never sent anywhere as-is):

* ``item["_provider"]``: the ``ProviderData`` unsealed from a reasoning item's encrypted_content.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wirebridge.errors import Untranslatable
from wirebridge.hub.tools import ToolSet

Item = dict[str, Any]


@dataclass(slots=True)
class HubRequest:
    model: str
    input: list[Item]
    instructions: str | None = None
    tools: ToolSet = field(default_factory=ToolSet)
    tool_choice: Any = None  # None: not given (the Response echoes "auto")
    parallel_tool_calls: bool | None = None
    max_output_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: str | list[str] | None = None
    top_logprobs: int | None = None
    seed: int | None = None
    user: str | None = None
    safety_identifier: str | None = None
    metadata: dict[str, Any] | None = None
    text: dict[str, Any] | None = None
    reasoning: dict[str, Any] | None = None
    stream: bool = False
    store: bool = True
    include: list[str] = field(default_factory=list)
    previous_response_id: str | None = None
    prompt_cache_key: str | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    max_tool_calls: int | None = None
    service_tier: str | None = None
    truncation: str | None = None
    background: bool = False
    # The protocol the client spoke ("responses", "chat", "messages"), and the request fields the
    # hub does not model: an upstream speaking that same protocol gets them back unchanged.
    source: str = "responses"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def effort(self) -> str | None:
        r = self.reasoning
        return r.get("effort") if isinstance(r, dict) else None

    @property
    def text_format(self) -> dict[str, Any] | None:
        t = self.text
        fmt = t.get("format") if isinstance(t, dict) else None
        return fmt if isinstance(fmt, dict) else None


# Responses fields that name an object OpenAI keeps (a conversation's items, a prompt template):
# only a Responses upstream can resolve them, and another one would answer without their content.
_OPENAI_OBJECTS = {
    "conversation": "a conversation stored by OpenAI; send its items in 'input', or continue "
    "a stored response with 'previous_response_id'",
    "prompt": "a prompt template stored by OpenAI; send its text in 'instructions' and 'input'",
}


def refuse_openai_objects(req: HubRequest, why: str) -> None:
    """``Untranslatable`` for a Responses client's field that only OpenAI can resolve; ``why``
    ends the message (who would have to read it and cannot)."""
    if req.source != "responses":
        return
    for name, what in _OPENAI_OBJECTS.items():
        if req.extra.get(name) is not None:
            raise Untranslatable(f"'{name}' names {what}. {why}", param=name)
