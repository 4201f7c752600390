"""The Anthropic Messages upstream: the I/O around the pure encode/decode of this package.

``POST {base_url}/messages`` with ``x-api-key``, ``anthropic-version: 2023-06-01`` and, when the
provider's ``anthropic.betas`` or a Messages client name any, one ``anthropic-beta`` header
(configured betas first); the provider's own
``headers`` come last and win (e.g. ``Authorization`` for a host that wants a bearer token).
Refusals are mapped by ``transport.http`` from Anthropic's error body
(``{"type": "error", "error": {"type", "message"}}``): 429 keeps ``Retry-After``, 529
``overloaded_error`` becomes 503, and every error keeps ``upstream_status`` for retries.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from wirebridge.hub.request import HubRequest
from wirebridge.transport.client import Response
from wirebridge.transport.http import post_json, read_json_object
from wirebridge.transport.pump import pump
from wirebridge.upstreams.messages import (
    ANTHROPIC_VERSION,
    CLIENT_BETAS,
    DEFAULT_SETTINGS,
    AnthropicSettings,
)
from wirebridge.upstreams.messages.request import encode_request
from wirebridge.upstreams.messages.stream import (
    MessagesStreamDecoder,
    message_as_events,
)

if TYPE_CHECKING:
    from wirebridge.engine.routing import Route
    from wirebridge.upstreams.registry import CallContext

Event = dict[str, Any]


class MessagesCall:
    """One request to an Anthropic Messages upstream. ``open`` sends it and raises what the
    upstream refused (the client has seen nothing yet); ``batches`` then yields hub events, one
    list per network read, and ends a broken stream as a failure instead of raising."""

    def __init__(self, req: HubRequest, route: Route, stream: bool, ctx: CallContext) -> None:
        self._client, self._req, self._route = ctx.client, req, route
        self._stream, self._timeout = stream, ctx.timeout
        self._settings: AnthropicSettings = route.provider.sections.get(
            "anthropic", DEFAULT_SETTINGS
        )
        self._decoder = MessagesStreamDecoder(req.tools, ctx.seal, ctx.reasoning_as)
        self._resp: Response | None = None

    @classmethod
    def create(cls, req: HubRequest, route: Route, stream: bool, ctx: CallContext) -> MessagesCall:
        return cls(req, route, stream, ctx)

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "anthropic-version": ANTHROPIC_VERSION}
        if self._route.api_key:
            headers["x-api-key"] = self._route.api_key
        betas = self._betas()
        if betas:
            headers["anthropic-beta"] = ",".join(betas)
        if self._stream:
            headers["Accept"] = "text/event-stream"
        headers.update(self._route.provider.headers)
        return headers

    def _betas(self) -> list[str]:
        betas = list(self._settings.betas)
        client = self._req.extra.get(CLIENT_BETAS) if self._req.source == "messages" else None
        values = [client] if isinstance(client, str) else client if isinstance(client, list) else []
        for value in values:
            for beta in str(value).split(","):
                if beta.strip() and beta.strip() not in betas:
                    betas.append(beta.strip())
        return betas

    async def open(self) -> None:
        provider = self._route.provider
        body = encode_request(self._req, self._route.upstream_model, self._stream, self._settings)
        self._resp = await post_json(
            self._client,
            provider.base_url + "/messages",
            body,
            self.headers(),
            timeout=self._timeout,
            stream=self._stream,
            connect_timeout=provider.connect_timeout,
            total_timeout=provider.total_timeout,
            proxy=provider.proxy,
        )

    async def batches(self) -> AsyncIterator[list[Event]]:
        resp, decoder = self._resp, self._decoder
        assert resp is not None, "open() first"
        try:
            if self._stream:
                async for batch in pump(resp, decoder):
                    yield batch
            else:
                message = await read_json_object(resp)
                yield [ev for event in message_as_events(message) for ev in decoder.feed(event)]
            yield decoder.finish()
        finally:
            resp.close()

    def close(self) -> None:
        if self._resp is not None:
            self._resp.close()
