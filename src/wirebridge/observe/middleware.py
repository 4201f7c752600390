"""The outermost middleware: a request id, timing, the summary line and the request metrics.

``request_middleware`` opens the request's ``RequestContext`` (kept on ``request[CTX]``, a
``RequestKey`` named "ctx", and in the ``CURRENT`` context variable), runs everything inside
it, and reports the request when the handler returns: for a stream that is when the stream has
ended, since aiohttp handlers write their whole stream before returning. It must be the first
middleware of the app so that it also sees what inner ones answer (401, 404, 413 …).

``set_request_id`` (an ``on_response_prepare`` signal) writes ``x-request-id`` on every
response just before its headers go out, streams and WebSocket upgrades included: the caller's
``x-request-id`` (else ``x-correlation-id``) when it sent one, sanitised (``[A-Za-z0-9._:/+=@-]``,
at most 128 characters), otherwise one generated here.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import re
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from wirebridge.config.model import Config
from wirebridge.errors import GatewayError
from wirebridge.http.body import read_body
from wirebridge.observe import logs, memory, metrics, tracing
from wirebridge.observe.context import CURRENT, RequestContext, report

CTX = web.RequestKey("ctx", RequestContext)
"""Where the request's record is kept: ``request[CTX]``."""
REQUEST_ID_HEADER = "x-request-id"
MAX_ID_LENGTH = 128
_SAFE_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")
_UNSAFE = re.compile(r"[^A-Za-z0-9._:/+=@-]+")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# -- ids ---------------------------------------------------------------------------------------


def _seed() -> None:
    global _prefix, _seq
    _prefix = os.urandom(6).hex()
    _seq = itertools.count(1)


_prefix = ""
_seq = itertools.count(1)
_seed()
os.register_at_fork(after_in_child=_seed)  # workers forked from one parent: distinct ids


def new_request_id() -> str:
    """``req_`` + 12 random hex digits per process + a counter: unique, and cheap."""
    return f"req_{_prefix}{next(_seq):08x}"


def sanitize_request_id(value: str | None) -> str | None:
    """A caller's id, kept only from safe characters and cut to 128; None if nothing is left."""
    if not value:
        return None
    if len(value) <= MAX_ID_LENGTH and _SAFE_ID.fullmatch(value):
        return value
    cleaned = _UNSAFE.sub("", value)[:MAX_ID_LENGTH]
    return cleaned or None


def request_id(headers: Mapping[str, str]) -> str:
    return (
        sanitize_request_id(headers.get("x-request-id"))
        or sanitize_request_id(headers.get("x-correlation-id"))
        or new_request_id()
    )


def front_door(method: str, path: str) -> str:
    """Which protocol a request speaks, from its path alone (a few string checks)."""
    if path.endswith("/chat/completions"):
        return "chat"
    if path.endswith("/v1/messages"):
        return "messages"
    if path.endswith("/responses"):
        return "websocket" if method == "GET" else "responses"
    return "other"


# -- middleware and signal ---------------------------------------------------------------------


@web.middleware
async def request_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    method, path = request.method, request.rel_url.raw_path
    ctx = RequestContext(request_id(request.headers), front_door(method, path), method, path)
    request[CTX] = ctx
    ctx_token = CURRENT.set(ctx)
    id_token = logs.REQUEST_ID.set(ctx.request_id)
    if tracing.TRACER is not None:
        ctx.span = tracing.start_request(ctx, request.headers)
    releaser = memory.RELEASER
    releaser.enter()
    try:
        if logs.BODIES and logs.REQUEST_LOG.isEnabledFor(logging.DEBUG):
            ctx.bodies = True
            await _log_request(request)
        resp = await handler(request)
    except web.HTTPException as e:
        ctx.status = e.status
        raise
    except asyncio.CancelledError:
        ctx.status = 499  # the client went away
        raise
    except BaseException:
        ctx.status = 500
        raise
    else:
        ctx.status = resp.status
        if ctx.bodies:
            _log_response(resp)
        return resp
    finally:
        releaser.leave()
        report(ctx)
        logs.REQUEST_ID.reset(id_token)
        CURRENT.reset(ctx_token)


async def set_request_id(request: web.Request, response: web.StreamResponse) -> None:
    ctx = request.get(CTX)
    response.headers[REQUEST_ID_HEADER] = (
        ctx.request_id if ctx is not None else request_id(request.headers)
    )


async def _log_request(request: web.Request) -> None:
    body = b""
    if request.body_exists:
        try:  # left on the request for the handler, which reads the same bytes
            body = await read_body(request, request.client_max_size, keep=True)
        except GatewayError as e:  # the handler refuses it, in the caller's envelope
            body = f"(not logged: {e.message})".encode()
    logs.log_request(request.method, request.rel_url.raw_path_qs, request.headers, body)


def _log_response(resp: web.StreamResponse) -> None:
    body = resp.body if isinstance(resp, web.Response) else None
    if isinstance(body, bytes):
        logs.log_response(resp.status, resp.headers, body)


# -- setup -------------------------------------------------------------------------------------


def setup(app: web.Application, config: Config) -> None:
    """Metrics labels, the log format and filter, tracing, memory release after bursts; the
    middleware and the signal are registered by the app factory itself (``request_middleware``
    first)."""
    server = config.server
    metrics.configure([*config.models, *config.aliases])
    releaser = memory.install(server.memory_release_burst, server.memory_release_interval)
    logs.install(server.log_format, server.log_bodies)
    if tracing.setup(tracing.endpoint(server.otel_endpoint)):

        async def _flush(app: web.Application) -> None:
            tracing.shutdown()

        app.on_cleanup.append(_flush)

    async def _exited(app: web.Application) -> None:
        await releaser.close()
        metrics.METRICS.process_exited()

    app.on_cleanup.append(_exited)
