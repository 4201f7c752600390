"""The Chat Completions upstream: the I/O around the pure encode/decode of this package."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from wirebridge.hub.request import HubRequest
from wirebridge.transport.client import Response
from wirebridge.transport.http import post_json, read_json_object
from wirebridge.transport.pump import pump
from wirebridge.upstreams.chat.request import encode_request
from wirebridge.upstreams.chat.stream import ChatStreamDecoder, completion_as_chunk

if TYPE_CHECKING:
    from wirebridge.engine.routing import Route
    from wirebridge.upstreams.registry import CallContext

Event = dict[str, Any]


class ChatCall:
    """One request to a chat upstream. ``open`` sends it and raises what the upstream refused
    (the client has seen nothing yet); ``batches`` then yields hub events, one list per upstream
    chunk, and ends a broken stream as a failure instead of raising."""

    def __init__(self, req: HubRequest, route: Route, stream: bool, ctx: CallContext) -> None:
        self._client, self._req, self._route = ctx.client, req, route
        self._stream, self._timeout = stream, ctx.timeout
        self._decoder = ChatStreamDecoder(req.tools, route.profile, ctx.seal, ctx.reasoning_as)
        self._resp: Response | None = None

    @classmethod
    def create(cls, req: HubRequest, route: Route, stream: bool, ctx: CallContext) -> ChatCall:
        return cls(req, route, stream, ctx)

    async def open(self) -> None:
        provider, key, model = self._route.provider, self._route.api_key, self._route.upstream_model
        url = provider.base_url + "/chat/completions"
        auth = {"Authorization": f"Bearer {key}"} if key else {}
        for section in provider.sections.values():
            place = getattr(section, "place", None)  # a section that places calls (azure:)
            if place is not None:
                url, auth, model = place("chat", provider.base_url, key, model)
        body = encode_request(self._req, model, self._route.profile, self._stream)
        headers = {"Content-Type": "application/json", **provider.headers, **auth}
        if self._stream:
            headers["Accept"] = "text/event-stream"
        self._resp = await post_json(
            self._client,
            url,
            body,
            headers,
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
                async for batch in pump(resp, decoder, stop_when_finished=False):
                    yield batch
            else:
                completion = await read_json_object(resp)
                yield decoder.feed(completion_as_chunk(completion))
            yield decoder.finish()
        finally:
            resp.close()

    def close(self) -> None:
        if self._resp is not None:
            self._resp.close()
