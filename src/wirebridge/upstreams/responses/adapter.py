"""The Responses upstream: the I/O around the pure encode/decode of this package."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from wirebridge.hub.request import HubRequest
from wirebridge.transport.client import Response
from wirebridge.transport.http import post_json, read_json_object
from wirebridge.transport.pump import pump
from wirebridge.upstreams.responses import ResponsesSettings
from wirebridge.upstreams.responses.request import encode_request
from wirebridge.upstreams.responses.stream import ResponsesStreamDecoder

if TYPE_CHECKING:
    from wirebridge.config.model import ProviderConfig
    from wirebridge.engine.routing import Route
    from wirebridge.upstreams.registry import CallContext

log = logging.getLogger("wirebridge")
Event = dict[str, Any]
API = "responses"


class ResponsesCall:
    """One request to a Responses upstream. ``open`` sends it and raises what the upstream
    refused (the client has seen nothing yet); ``batches`` then yields hub events, one list per
    upstream event that causes any, and ends a broken stream as a failure instead of raising."""

    def __init__(self, req: HubRequest, route: Route, stream: bool, ctx: CallContext) -> None:
        self._req, self._route, self._stream, self._ctx = req, route, stream, ctx
        settings = route.provider.sections.get(API)
        self._settings = settings if isinstance(settings, ResponsesSettings) else None
        self.family = family_of(route.provider)
        self._decoder = ResponsesStreamDecoder(ctx.seal, self.family)
        self._resp: Response | None = None

    @classmethod
    def create(cls, req: HubRequest, route: Route, stream: bool, ctx: CallContext) -> ResponsesCall:
        return cls(req, route, stream, ctx)

    @property
    def upstream_id(self) -> str | None:
        """The upstream's own id of this response, once it has said it."""
        return self._decoder.upstream_id

    async def open(self) -> None:
        route, provider = self._route, self._route.provider
        url, auth, model = placement(provider, route.api_key, route.upstream_model)
        stateful = self._settings is not None and self._settings.stateful
        body = encode_request(self._req, model, self._stream, family=self.family, stateful=stateful)
        headers = {"Content-Type": "application/json", **provider.headers, **auth}
        if self._stream:
            headers["Accept"] = "text/event-stream"
        self._resp = await post_json(
            self._ctx.client,
            url,
            body,
            headers,
            timeout=self._ctx.timeout,
            stream=self._stream,
            connect_timeout=provider.connect_timeout,
            total_timeout=provider.total_timeout,
            proxy=provider.proxy,
        )

    async def batches(self) -> AsyncIterator[list[Event]]:
        resp, decoder = self._resp, self._decoder
        assert resp is not None, "open() first"
        try:
            if self._stream and resp.content_type == "text/event-stream":
                async for batch in pump(resp, decoder):
                    yield batch
            else:  # asked for JSON, or a host that answers JSON whatever it was asked
                yield decoder.response_events(await read_json_object(resp))
            tail = decoder.finish()
            if tail:
                yield tail
        finally:
            resp.close()

    def close(self) -> None:
        if self._resp is not None:
            self._resp.close()


def family_of(provider: ProviderConfig) -> str:
    """Whose reasoning blobs this provider may be sent: its ``responses.family``, else its name."""
    settings = provider.sections.get(API)
    if isinstance(settings, ResponsesSettings) and settings.family:
        return settings.family
    return provider.name


def placement(
    provider: ProviderConfig, api_key: str | None, model: str
) -> tuple[str, dict[str, str], str]:
    """URL, authentication headers and body model of a call: a provider section with a ``place``
    method (``azure:``) decides them, else ``{base_url}/responses`` with a Bearer key."""
    for section in provider.sections.values():
        place = getattr(section, "place", None)
        if place is not None:
            url, auth, placed_model = place(API, provider.base_url, api_key, model)
            return url, auth, placed_model
    auth = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    return provider.base_url + "/responses", auth, model
