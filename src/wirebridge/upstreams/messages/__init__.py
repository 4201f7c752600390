"""The Anthropic Messages upstream (``api: messages``): Anthropic's API, or any host speaking it.

``request.py`` + ``turns.py`` encode the hub request as a ``POST {base_url}/messages`` body,
``stream.py`` decodes Anthropic's SSE events (and, through the same machine, a JSON message) into
hub events, and ``adapter.py`` does the I/O. Thinking blocks come back to the client as reasoning
items whose gateway-sealed ``encrypted_content`` holds ``ProviderData("anthropic", {"thinking",
"signature"})`` (or ``{"redacted": data}``); only an Anthropic upstream is ever sent them again.

A provider may carry an ``anthropic:`` section (all keys optional)::

    providers:
      claude:
        api: messages
        base_url: https://api.anthropic.com/v1   # the default for api: messages
        api_key: $ANTHROPIC_API_KEY              # sent as x-api-key
        anthropic:
          betas: [interleaved-thinking-2025-05-14]  # sent in the anthropic-beta header
          max_tokens: 8192     # max_tokens when the client sets no output limit
          thinking: budget     # budget | adaptive | off: how a reasoning effort is asked for

A Messages client's own ``anthropic-beta`` values (``extra["_anthropic_beta"]``, when its front
door keeps them) are sent after the configured ones, so the fields it sends that need a beta
(``context_management``, …) reach Anthropic with it.

``thinking: budget`` asks for ``{"type": "enabled", "budget_tokens": N}`` (low 2048, medium
8192, high 24576, xhigh 32768); ``adaptive`` asks for ``{"type": "adaptive"}`` with the effort
in ``output_config.effort`` (models that support it); ``off`` never asks for thinking, for models
without it. A Messages client's own ``thinking`` is always sent as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from wirebridge.config.errors import Where
from wirebridge.config.sections import DEFAULT_BASE_URLS, Section, register
from wirebridge.config.values import check_keys, choice, integer, mapping, optional, string

API = "messages"
FAMILY = "anthropic"  # provider data of this family is replayed to Anthropic upstreams only
DEFAULT_BASE_URL = "https://api.anthropic.com/v1"
ANTHROPIC_VERSION = "2023-06-01"
THINKING_MODES = ("budget", "adaptive", "off")
# Where a Messages front door keeps the client's ``anthropic-beta`` values (a header value or a
# list of them) for an Anthropic upstream; ``_`` keys of ``extra`` never go into a body.
CLIENT_BETAS = "_anthropic_beta"
_KEYS = ("betas", "max_tokens", "thinking")


@dataclass(frozen=True, slots=True)
class AnthropicSettings:
    betas: tuple[str, ...] = ()
    max_tokens: int = 8192
    thinking: str = "budget"


DEFAULT_SETTINGS = AnthropicSettings()


def parse_settings(raw: object, at: Where) -> AnthropicSettings:
    data = mapping(raw, at)
    check_keys(data, at, _KEYS)
    return AnthropicSettings(
        betas=optional(data, at, "betas", _betas, ()),
        max_tokens=optional(data, at, "max_tokens", lambda v, w: integer(v, w, 1), 8192),
        thinking=optional(
            data, at, "thinking", lambda v, w: choice(v, w, THINKING_MODES), "budget"
        ),
    )


def _betas(value: object, at: Where) -> tuple[str, ...]:
    if isinstance(value, str):  # "a,b" as one header value, e.g. from $VAR expansion
        return tuple(b.strip() for b in value.split(",") if b.strip())
    if not isinstance(value, list):
        raise at.error("must be a list of beta names (or one comma-separated string)")
    return tuple(string(item, at.index(i)).strip() for i, item in enumerate(value))


register("anthropic", Section(parse=parse_settings, apis=(API,)))
DEFAULT_BASE_URLS.setdefault(API, DEFAULT_BASE_URL)
