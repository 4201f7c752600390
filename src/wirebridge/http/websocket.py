"""Responses over WebSocket: ``GET /v1/responses`` with an Upgrade.

The client sends ``{"type": "response.create", ...}`` frames; the server answers with the same
events as SSE, one JSON text frame each, never ``[DONE]``. One response runs at a time per
socket. Each connection remembers its turns, so ``store: false`` turns chain by
``previous_response_id`` with only their new items (Codex's incremental mode); an id the
connection does not know — another connection's, or one whose turn failed — is
``previous_response_not_found``, and the client resends the whole history.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from wirebridge import observe
from wirebridge.auth.keys import CLIENT, Client
from wirebridge.engine.gateway import Gateway
from wirebridge.engine.history import History, replayable
from wirebridge.engine.pipeline import open_turn
from wirebridge.errors import GatewayError, InvalidRequest, PermissionDenied, error_type
from wirebridge.frontends.responses.request import decode_request
from wirebridge.frontends.responses.stream import ResponsesStreamEncoder
from wirebridge.http.keys import GATEWAY
from wirebridge.http.owner import owner_of
from wirebridge.http.ws_frames import TextFrames
from wirebridge.hub import ids
from wirebridge.hub.accumulate import ResponseBuilder
from wirebridge.hub.request import HubRequest, Item

log = logging.getLogger("wirebridge")

MAX_CONNECTION_SECONDS = 3600.0


async def connect(request: web.Request) -> web.StreamResponse:
    gw: Gateway = request.app[GATEWAY]
    server = gw.config.server
    ws = web.WebSocketResponse(
        heartbeat=30.0, max_msg_size=server.max_body_bytes, compress=server.websocket_compression
    )
    if not ws.can_prepare(request).ok:
        raise InvalidRequest(
            "GET /v1/responses is the WebSocket endpoint; send an Upgrade request, or POST "
            "/v1/responses for HTTP.",
            code="websocket_upgrade_required",
            status=426,
        )
    await ws.prepare(request)
    log.info("websocket connection opened from %s", request.remote)
    conn = Connection(gw, ws, TextFrames(ws, request), owner_of(request), request.get(CLIENT))
    try:
        async with asyncio.timeout(MAX_CONNECTION_SECONDS):
            await conn.serve()
    except TimeoutError:
        await ws.close(code=1000, message=b"connection time limit reached; reconnect")
    finally:
        conn.stop()
        _drop_heartbeat_hook(request)
    return ws


def _drop_heartbeat_hook(request: web.Request) -> None:
    """aiohttp (3.14) gives the connection's protocol a method of the response to call on each
    read, for the heartbeat, and never takes it back: the protocol, the response and the
    request then hold each other once the socket is closed, and wait for a full collection
    with their buffers and compressor. The socket is closed here, so nothing calls it again."""
    protocol = request.protocol
    if getattr(protocol, "_data_received_cb", None) is not None:
        protocol._data_received_cb = None  # type: ignore[union-attr]


class Connection:
    """One socket: its turns, one at a time, and the chains it remembers. Turns with
    ``store: true`` are also stored (and chain from stored responses) like HTTP ones."""

    def __init__(
        self,
        gw: Gateway,
        ws: web.WebSocketResponse,
        frames: TextFrames,
        owner: str,
        client: Client | None,
    ) -> None:
        self.gw, self.ws, self.frames, self.owner, self.client = gw, ws, frames, owner, client
        self.history = History(gw.config.server.websocket_history)
        self.running: asyncio.Task[None] | None = None

    async def serve(self) -> None:
        async for msg in self.ws:
            if msg.type != WSMsgType.TEXT:
                continue
            try:
                frame = orjson.loads(msg.data)
            except orjson.JSONDecodeError:
                await self.send_error(InvalidRequest("The frame is not valid JSON."))
                continue
            if not isinstance(frame, dict) or frame.get("type") != "response.create":
                continue  # response.processed and unknown frames are ignored
            if self.running is not None and not self.running.done():
                await self.send_error(
                    InvalidRequest(
                        "A response is already in progress on this connection; wait for it "
                        "to finish before sending another response.create.",
                        code="response_in_progress",
                    )
                )
                continue
            self.running = asyncio.create_task(observe.ws_turn(self.turn(frame)))
        # The client closed the socket: ``stop`` cancels a turn still running, and with it the
        # upstream call.

    def stop(self) -> None:
        if self.running is not None and not self.running.done():
            self.running.cancel()

    async def send(self, events: list[dict[str, Any]], enc: ResponsesStreamEncoder) -> None:
        await self.frames.send(enc.frames(events))

    async def send_error(self, err: GatewayError) -> None:
        log.info("websocket error event: %s %s", err.code, err.message)
        observe.failed(err)  # the turn's status
        body: dict[str, Any] = {
            "type": "error",
            "status": err.http_status,
            "error": {
                "type": error_type(err),
                "code": err.code,
                "message": err.message,
                "param": err.param,
            },
        }
        if err.headers:
            body["headers"] = err.headers
        with contextlib.suppress(ConnectionResetError):
            await self.ws.send_frame(orjson.dumps(body), WSMsgType.TEXT)

    async def turn(self, frame: dict[str, Any]) -> None:
        frame.pop("type", None)
        generate = frame.pop("generate", True)
        frame.pop("stream", None)  # a socket always streams
        try:
            req, new_items = await self.decode(frame)
            if generate is False:
                await self.warm_up(req, new_items)
                return
            await self.generate(req, new_items)
        except GatewayError as e:
            await self.send_error(e)
        except ConnectionResetError:
            pass
        except Exception:
            log.exception("websocket turn failed")
            await self.send_error(GatewayError("The gateway hit an internal error; see its log."))

    async def decode(self, frame: dict[str, Any]) -> tuple[HubRequest, list[Item]]:
        """The turn's request with its conversation so far, and its own new items."""
        server = self.gw.config.server
        dropped: list[str] = []
        req = decode_request(frame, self.gw.sealer, server.drop_tool_types, dropped)
        observe.asked(req.model, True)
        if dropped:
            log.info("dropped tools the upstream cannot run: %s", ", ".join(sorted(set(dropped))))
        if self.client is not None and not self.client.allows(req.model):
            raise PermissionDenied(
                f"This API key may not use model '{req.model}'.", code="model_not_allowed"
            )
        req.stream = True
        prev = req.previous_response_id
        prior = self.history.get(prev) if prev else None
        if prior is None:  # not this socket's: a stored response, or not found
            return req, await self.gw.state.expand(req, self.owner)
        new_items = req.input
        req.input = [*prior, *new_items]
        return req, new_items

    async def warm_up(self, req: HubRequest, new_items: list[Item]) -> None:
        """``generate: false``: a chainable response for the given input, no upstream call."""
        builder = ResponseBuilder(ids.response_id(), req)
        enc = ResponsesStreamEncoder(self.gw.config.server.event_dialect)
        snapshot = builder.snapshot()
        done = {"type": "response.completed", "response": {"status": "completed"}}
        events = [
            {"type": "response.created", "response": snapshot},
            {"type": "response.in_progress", "response": builder.snapshot()},
            builder.feed(done),
        ]
        self.history.record(builder.id, req.input, [])
        assert builder.response is not None
        await self.gw.state.save(req, new_items, self.owner, builder.response)
        await self.send(events, enc)

    async def generate(self, req: HubRequest, new_items: list[Item]) -> None:
        turn = await open_turn(self.gw, req, stream=True)

        async def persist(response: dict[str, Any]) -> None:
            await self.gw.state.save(req, new_items, self.owner, response)

        turn.on_finish = persist
        try:
            enc = ResponsesStreamEncoder(self.gw.config.server.event_dialect)
            snapshot = turn.builder.snapshot
            await self.send(
                [
                    {"type": "response.created", "response": snapshot()},
                    {"type": "response.in_progress", "response": snapshot()},
                ],
                enc,
            )
            async for batch in turn.batches():
                await self.send(batch, enc)
        finally:
            turn.close()
        resp = turn.builder.response
        if resp is not None and resp["status"] != "failed":
            output = replayable(resp["output"], self.gw.sealer.open)
            self.history.record(resp["id"], req.input, output)
        elif req.previous_response_id:
            self.history.evict(req.previous_response_id)
