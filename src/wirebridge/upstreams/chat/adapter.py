"""The Chat Completions upstream: the I/O around the pure encode/decode of this package."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson

from wirebridge.errors import UpstreamTimeout, UpstreamUnavailable
from wirebridge.hub.request import HubRequest
from wirebridge.transport.http import post_json
from wirebridge.transport.sse import iter_sse
from wirebridge.upstreams.chat.request import encode_request
from wirebridge.upstreams.chat.stream import ChatStreamDecoder, Sealer, completion_as_chunk

if TYPE_CHECKING:
    from wirebridge.engine.routing import Route
    from wirebridge.upstreams.registry import CallContext

Event = dict[str, Any]


class TornStream(Exception):
    """The upstream stream ended without its end."""


class ChatCall:
    """One request to a chat upstream. ``open`` sends it and raises what the upstream refused
    (the client has seen nothing yet); ``batches`` then yields hub events, one list per upstream
    chunk, and ends a broken stream as a failure instead of raising."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        req: HubRequest,
        route: Route,
        *,
        stream: bool,
        seal: Sealer | None,
        reasoning_as: str,
        timeout: float,
    ) -> None:
        self._session, self._req, self._route = session, req, route
        self._stream, self._timeout = stream, timeout
        self._decoder = ChatStreamDecoder(req.tools, route.profile, seal, reasoning_as)
        self._resp: aiohttp.ClientResponse | None = None

    @classmethod
    def create(cls, req: HubRequest, route: Route, stream: bool, ctx: CallContext) -> ChatCall:
        return cls(
            ctx.session,
            req,
            route,
            stream=stream,
            seal=ctx.seal,
            reasoning_as=ctx.reasoning_as,
            timeout=ctx.timeout,
        )

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
            self._session,
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
                async for batch in _pump(resp, decoder):
                    yield batch
            else:
                completion = await _read_json(resp)
                yield decoder.feed(completion_as_chunk(completion))
            yield decoder.finish()
        finally:
            resp.close()

    def close(self) -> None:
        if self._resp is not None:
            self._resp.close()


async def _pump(
    resp: aiohttp.ClientResponse, decoder: ChatStreamDecoder
) -> AsyncIterator[list[Event]]:
    """The one async loop over an upstream stream: bytes → SSE → chunk → events."""
    done = False
    try:
        async for _event, data in iter_sse(resp.content):
            if data == b"[DONE]":
                done = True
                break
            try:
                chunk = orjson.loads(data)
            except orjson.JSONDecodeError:
                raise TornStream(f"the upstream sent a malformed chunk: {data[:200]!r}") from None
            batch = decoder.feed(chunk)
            if batch:
                yield batch
    except TimeoutError:
        decoder.fail("upstream_timeout", "The upstream stopped sending before the stream ended.")
    except TornStream as e:
        decoder.fail("upstream_error", f"The upstream stream broke: {e}")
    except aiohttp.ClientError as e:
        decoder.fail(
            "upstream_error",
            f"The upstream connection broke in the middle of the stream ({type(e).__name__}).",
        )
    else:
        if not done and not decoder.finished_cleanly:
            decoder.fail("upstream_error", "The upstream closed the stream before it ended.")


async def _read_json(resp: aiohttp.ClientResponse) -> dict[str, Any]:
    try:
        raw = await resp.read()
    except TimeoutError:
        raise UpstreamTimeout("The upstream did not finish its answer in time.") from None
    except aiohttp.ClientError as e:
        raise UpstreamUnavailable(f"The upstream connection broke: {e}") from None
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise UpstreamUnavailable(
            "The upstream answered with something that is not JSON."
        ) from None
    if not isinstance(obj, dict):
        raise UpstreamUnavailable("The upstream answered with JSON that is not an object.")
    return obj
