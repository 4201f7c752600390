"""POST /v1/messages and /v1/messages/count_tokens: Anthropic's Messages API front door.

Both are also served under any path prefix (``ANTHROPIC_BASE_URL=http://host/anthropic``) and
with ``?beta=true``. ``x-api-key`` and ``Authorization: Bearer`` are both accepted;
``anthropic-version`` and ``anthropic-beta`` are accepted and ignored. Claude model names are
mapped by the ``claude:`` config (``engine/model_map.py``) before routing; answers carry the
name the client asked for. While a stream waits for the upstream, a ``ping`` event goes out
every ``PING_INTERVAL`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from aiohttp import web

from wirebridge import observe
from wirebridge.engine.gateway import Gateway
from wirebridge.engine.model_map import resolve_model
from wirebridge.engine.pipeline import Turn, open_turn
from wirebridge.frontends.messages.request import decode_request
from wirebridge.frontends.messages.response import encode_response, message_id
from wirebridge.frontends.messages.stream import PING, MessagesStreamEncoder, sse
from wirebridge.frontends.messages.tokens import count_tokens as estimate_tokens
from wirebridge.frontends.responses.request import parse_json_object
from wirebridge.http.body import read_body
from wirebridge.http.keys import GATEWAY
from wirebridge.http.wire import SSE_HEADERS, json_response

log = logging.getLogger("wirebridge")

PING_INTERVAL = 10.0  # seconds without an upstream event before a ping goes out
Event = dict[str, Any]


async def create(request: web.Request) -> web.StreamResponse:
    gw: Gateway = request.app[GATEWAY]
    server = gw.config.server
    body = parse_json_object(await read_body(request, server.max_body_bytes))
    dropped: list[str] = []
    req = decode_request(body, gw.sealer, server.drop_tool_types, dropped)
    if dropped:
        log.info("dropped tools the upstream cannot run: %s", ", ".join(sorted(set(dropped))))
    beta = request.headers.get("anthropic-beta")
    if beta:  # an Anthropic upstream forwards the client's betas; others ignore them
        req.extra["_anthropic_beta"] = beta
    asked = req.model
    observe.asked(asked, req.stream)
    req.model = resolve_model(asked, gw.config)
    show_thinking = (body.get("thinking") or {}).get("display") != "omitted"
    turn = await open_turn(gw, req, stream=req.stream)
    try:
        if not req.stream:
            return json_response(encode_response(await turn.result(), asked, show_thinking))
        return await _sse(
            request, turn, MessagesStreamEncoder(message_id(turn.builder.id), asked, show_thinking)
        )
    finally:
        turn.close()  # also when the client went away and the handler is cancelled


async def count_tokens(request: web.Request) -> web.Response:
    gw: Gateway = request.app[GATEWAY]
    server = gw.config.server
    body = parse_json_object(await read_body(request, server.max_body_bytes))
    req = decode_request(body, gw.sealer, server.drop_tool_types, [], require_max_tokens=False)
    gw.router.resolve(resolve_model(req.model, gw.config))  # an unknown model is a 404
    return json_response({"input_tokens": estimate_tokens(body)})


async def _sse(request: web.Request, turn: Turn, enc: MessagesStreamEncoder) -> web.StreamResponse:
    out = web.StreamResponse(headers=SSE_HEADERS)
    try:
        await out.prepare(request)  # a client gone before the headers is no error of ours
        await out.write(sse(enc.start()))
        async with contextlib.aclosing(with_pings(turn.batches(), PING_INTERVAL)) as batches:
            async for batch in batches:
                if batch is None:
                    await out.write(PING)
                    continue
                events = [out_ev for ev in batch for out_ev in enc.feed(ev)]
                if events:
                    await out.write(sse(events))
    except ConnectionResetError:
        log.info("client went away mid-stream; upstream call closed")
    return out


async def with_pings(
    batches: AsyncIterator[list[Event]], interval: float
) -> AsyncGenerator[list[Event] | None, None]:
    """``batches``, with a ``None`` after every ``interval`` seconds that brought nothing."""
    pending: asyncio.Future[list[Event]] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(batches))
            done, _ = await asyncio.wait({pending}, timeout=interval)
            if not done:
                yield None
                continue
            finished, pending = pending, None
            try:
                batch = finished.result()
            except StopAsyncIteration:
                return
            finally:
                # result() raises the end of the stream through this frame, so the exception's
                # traceback holds the frame; without these the frame would hold the task and the
                # task the exception: a cycle that kept the whole request (its parsed body, the
                # turn) alive until the collector ran, a megabyte per Claude Code turn.
                del done, finished
            yield batch
    finally:
        if pending is not None:
            pending.cancel()
