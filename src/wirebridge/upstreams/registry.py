"""Upstream adapters by the ``api`` a provider speaks.

Each adapter is a factory ``(req, route, stream, ctx) -> UpstreamCall``; ``CallContext``
carries what every call may need from the gateway without reaching into it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp

from wirebridge.hub.request import HubRequest
from wirebridge.hub.seal import ProviderData
from wirebridge.transport.client import HttpClient
from wirebridge.upstreams.base import UpstreamCall

if TYPE_CHECKING:
    from wirebridge.engine.routing import Route


@dataclass(frozen=True, slots=True)
class CallContext:
    client: HttpClient  # upstream calls
    session: aiohttp.ClientSession  # the rest: token refresh, login
    seal: Callable[[ProviderData], str]
    open_blob: Callable[[object], ProviderData | None]
    reasoning_as: str  # "summary" | "text"
    timeout: float  # seconds without a byte from the upstream
    services: dict[str, Any]  # shared helpers an adapter kind registers (token managers, ...)


AdapterFactory = Callable[[HubRequest, "Route", bool, CallContext], UpstreamCall]

ADAPTERS: dict[str, AdapterFactory] = {}


def register(api: str, factory: AdapterFactory) -> None:
    ADAPTERS[api] = factory


def _load_builtin() -> None:
    from wirebridge.upstreams.chat.adapter import ChatCall

    register("chat", ChatCall.create)

    from wirebridge.upstreams.messages.adapter import MessagesCall

    register("messages", MessagesCall.create)

    from wirebridge.upstreams.responses.adapter import ResponsesCall

    register("responses", ResponsesCall.create)

    from wirebridge.upstreams.codex.adapter import ChatGPTCall

    register("chatgpt", ChatGPTCall.create)


_load_builtin()
