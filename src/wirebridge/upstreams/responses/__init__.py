"""The native Responses upstream (``api: responses``): OpenAI, Azure OpenAI, vLLM, Ollama, ….

The hub is the Responses API's own model, so this adapter is mostly pass-through: ``request.py``
puts the hub request back on the wire (the client's unknown fields included when it spoke
Responses too), ``stream.py`` relays the upstream's events as hub events under the gateway's own
response id, and ``adapter.py`` does the I/O.

A provider may carry a ``responses:`` section::

    providers:
      openai:
        api: responses
        base_url: https://api.openai.com/v1     # the default for api: responses
        api_key: $OPENAI_API_KEY
        responses:
          stateful: false   # default: the gateway keeps the conversation (see below)
          family: openai    # default: the provider's name

``stateful: false`` (the default): the gateway has already expanded ``previous_response_id``
from its own store, so the upstream gets the whole conversation with ``store: false`` and no
``previous_response_id`` — it keeps nothing. ``stateful: true``: the upstream keeps state, so
``store`` is passed through and, when the gateway can name the upstream's own previous response,
only the new items are sent with that ``previous_response_id`` (see ``request.encode_request``).

``family`` names whose reasoning blobs this upstream may be sent: the upstream's
``encrypted_content`` reaches clients sealed by the gateway under this family, and comes back
to this upstream (and to providers sharing the family) only. Give two providers the same family
only when each can read the other's blobs (e.g. two keys of one OpenAI organisation).
"""

from __future__ import annotations

from dataclasses import dataclass

from wirebridge.config.errors import Where
from wirebridge.config.sections import DEFAULT_BASE_URLS, Section, register
from wirebridge.config.values import check_keys, mapping, optional, string
from wirebridge.upstreams import azure as _azure  # noqa: F401  (registers the azure: section)

_KEYS = ("stateful", "family")


@dataclass(frozen=True, slots=True)
class ResponsesSettings:
    stateful: bool = False
    family: str | None = None  # None: the provider's name


def parse_settings(raw: object, at: Where) -> ResponsesSettings:
    data = mapping(raw, at)
    check_keys(data, at, _KEYS)
    return ResponsesSettings(
        stateful=optional(data, at, "stateful", _boolean, False),
        family=optional(data, at, "family", string, None),
    )


def _boolean(value: object, at: Where) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"  # $VAR expansion produces strings
    raise at.error(f"must be true or false, got {value!r}")


register("responses", Section(parse=parse_settings, apis=("responses",)))
DEFAULT_BASE_URLS.setdefault("responses", "https://api.openai.com/v1")
