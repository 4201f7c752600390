"""The per-request record, and the tiny hooks the handlers and the pipeline call on it.

The middleware (``observe/middleware.py``) opens one ``RequestContext`` per HTTP request and
keeps it on ``request[CTX]`` (a ``RequestKey`` named "ctx") and in the ``CURRENT`` context
variable, so code that has no ``request`` at hand (the pipeline, log filters) finds it with
``current()``. A WebSocket connection gets one record per ``response.create`` turn
(``ws_turn``).

Hooks, each a few attribute writes at most:

* handlers: ``asked(model)`` — the model name the client asked for;
* ``open_turn``: ``retried(provider)``, ``answered(model, route, stream) -> TurnObserver``;
* ``_open``: ``attempt(route)`` before an upstream call, ``attempt_failed(route, err)``;
* ``Turn``: ``TurnObserver.first_batch()`` on the first batch only (time to first token),
  ``finished(response)`` after the last one (tokens), ``close()`` (streams in flight).

Outside a request (a unit test driving the pipeline directly) ``current()`` is ``NO_REQUEST``,
a record that is never reported.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from wirebridge.errors import GatewayError, UpstreamError, UpstreamTimeout
from wirebridge.observe import logs, metrics, tracing

if TYPE_CHECKING:
    from wirebridge.engine.routing import Route

# Probes and scrapes: timed and given an id, but kept out of request metrics and info logs.
QUIET_PATHS = frozenset({"/health", "/ready", "/metrics", "/metrics/prometheus"})


class RequestContext:
    """What is known about one request (or one WebSocket turn) while it runs."""

    __slots__ = (
        "answered_model",
        "bodies",
        "front_door",
        "live",
        "method",
        "model",
        "outcome",
        "path",
        "provider",
        "quiet",
        "request_id",
        "routed",
        "span",
        "started",
        "status",
        "stream",
        "tokens_in",
        "tokens_out",
        "ttft",
        "turns",
        "upstream_span",
    )

    def __init__(
        self, request_id: str, front_door: str, method: str = "", path: str = "", live: bool = True
    ) -> None:
        self.request_id = request_id
        self.front_door = front_door
        self.method = method
        self.path = path
        self.live = live
        self.quiet = path in QUIET_PATHS
        self.started = time.perf_counter()
        self.model: str | None = None  # what the client asked for
        self.routed: str | None = None  # the configured name (or provider@model) that answered
        self.provider: str | None = None
        self.answered_model: str | None = None  # the upstream's own model name
        self.status = 200
        self.stream = False
        self.tokens_in: int | None = None
        self.tokens_out: int | None = None
        self.ttft: float | None = None  # seconds from the start to the first upstream batch
        self.outcome: str | None = None  # the Response's status: completed, failed, ...
        self.bodies = False  # log bodies at debug (server.log_bodies and the level allows it)
        self.span: Any = None  # the request's tracing span, when tracing is on
        self.turns = 0  # WebSocket turns started on this connection
        self.upstream_span: Any = None  # the span of the upstream attempt in progress

    # -- pipeline hooks ------------------------------------------------------------------------

    def attempt(self, route: Route) -> None:
        """Before one upstream call (opens its tracing span when tracing is on)."""
        self.provider = route.provider.name  # also what a request that fails reports
        if tracing.TRACER is not None:
            self.upstream_span = tracing.start_upstream(
                self, route.provider.name, route.upstream_model
            )

    def attempt_failed(self, route: Route, err: BaseException) -> None:
        status = 0
        if isinstance(err, UpstreamError):
            status = err.upstream_status or 0
            label = str(status) if status else _no_answer(err)
            metrics.METRICS.upstream_error(route.provider.name, label)
        if self.upstream_span is not None:
            span, self.upstream_span = self.upstream_span, None
            tracing.end(span, status, err)

    def retried(self, provider: str) -> None:
        metrics.METRICS.retry(provider)

    def answered(self, model: str, route: Route, stream: bool) -> TurnObserver:
        """The upstream accepted the call: who answers, and the observer of the turn."""
        self.routed, self.provider = model, route.provider.name
        self.answered_model = route.upstream_model
        self.stream = stream
        span, self.upstream_span = self.upstream_span, None
        return TurnObserver(self, stream, span)


class TurnObserver:
    """One upstream call that was accepted: its first batch, its usage, its end."""

    __slots__ = ("ctx", "open", "span", "stream")

    def __init__(self, ctx: RequestContext | None, stream: bool, span: Any = None) -> None:
        self.ctx, self.stream, self.span = ctx, stream, span
        self.open = ctx is not None and stream and ctx.live
        if self.open:
            metrics.METRICS.stream_started(ctx.front_door)  # type: ignore[union-attr]

    def first_batch(self) -> None:
        ctx = self.ctx
        if ctx is None or not ctx.live:
            return
        ctx.ttft = ttft = time.perf_counter() - ctx.started
        if self.stream:
            metrics.METRICS.first_token(ctx.front_door, ttft)

    def finished(self, response: dict[str, Any] | None) -> None:
        ctx = self.ctx
        if ctx is None or response is None:
            return
        ctx.outcome = response.get("status")
        usage = response.get("usage")
        if isinstance(usage, dict):
            ctx.tokens_in = tin = usage.get("input_tokens") or 0
            ctx.tokens_out = tout = usage.get("output_tokens") or 0
            if ctx.live:
                metrics.METRICS.tokens(ctx.routed, tin, tout)
            if self.span is not None:
                self.span.set_attributes(
                    {"gen_ai.usage.input_tokens": tin, "gen_ai.usage.output_tokens": tout}
                )
        if ctx.bodies and self.stream:
            logs.log_body("streamed response", response)

    def close(self) -> None:
        if self.open:
            self.open = False
            metrics.METRICS.stream_ended(self.ctx.front_door)  # type: ignore[union-attr]
        if self.span is not None:
            span, self.span = self.span, None
            tracing.end(span, 200, None)


def _no_answer(err: UpstreamError) -> str:
    """The status label of an upstream failure without an HTTP status."""
    return "timeout" if isinstance(err, UpstreamTimeout) else "unavailable"


NO_REQUEST = RequestContext("-", "other", live=False)
NO_TURN = TurnObserver(None, False)
CURRENT: contextvars.ContextVar[RequestContext] = contextvars.ContextVar("wirebridge_request")


def current() -> RequestContext:
    """The record of the request being served, or ``NO_REQUEST``."""
    return CURRENT.get(NO_REQUEST)


def asked(model: str | None, stream: bool = False) -> None:
    """Handler hook: the model the client asked for (before any mapping), and whether it
    asked for a stream."""
    ctx = CURRENT.get(None)
    if ctx is None:
        return
    ctx.stream = stream
    if isinstance(model, str):
        # A client's string goes into log lines: keep it short and on one line.
        ctx.model = model if len(model) <= 200 and model.isprintable() else repr(model[:200])


def failed(err: GatewayError) -> None:
    """Hook for errors that do not become an HTTP status (WebSocket error events)."""
    ctx = CURRENT.get(None)
    if ctx is not None:
        ctx.status = err.http_status


async def ws_turn(work: Coroutine[Any, Any, None]) -> None:
    """Run one WebSocket ``response.create`` turn as a request of its own: its id is the
    connection's id with ``:n`` appended, and it is counted and logged when it ends. Run it in
    its own task (``asyncio.create_task``) so the record stays out of the connection's."""
    conn = CURRENT.get(None)
    if conn is None:
        await work
        return
    conn.turns += 1
    ctx = RequestContext(f"{conn.request_id}:{conn.turns}", "websocket", "WS", conn.path)
    ctx.bodies = conn.bodies
    CURRENT.set(ctx)  # this task's own copy of the context: the connection's is untouched
    logs.REQUEST_ID.set(ctx.request_id)
    if tracing.TRACER is not None:
        ctx.span = tracing.start_request(ctx, None, conn.span)
    try:
        await work
    except asyncio.CancelledError:
        ctx.status = 499  # the client closed the socket mid-turn
        raise
    except BaseException:
        ctx.status = 500
        raise
    finally:
        report(ctx)


def report(ctx: RequestContext) -> None:
    """The request is over: count it, log its summary line, end its span."""
    elapsed = time.perf_counter() - ctx.started
    if ctx.span is not None:
        tracing.end_request(ctx)
    log = logs.REQUEST_LOG
    if ctx.quiet:
        log.debug("%s %s -> %d", ctx.method, ctx.path, ctx.status)
    elif ctx.status == 101:  # an upgraded WebSocket connection: its turns were counted
        logs.websocket_closed(ctx, elapsed)
    else:
        metrics.METRICS.request(ctx, elapsed)
        if log.isEnabledFor(logging.INFO):
            logs.summary(ctx, elapsed)
