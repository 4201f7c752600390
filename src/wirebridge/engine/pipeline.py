"""One turn through the hub, shared by every front door.

``open_turn`` routes the request, opens the upstream call and returns a ``Turn`` whose
``batches`` are hub events already folded by the accumulator (terminal events carry the full
Response). Front doors only decode their request and encode these events.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from wirebridge import observe
from wirebridge.engine.balance import Balancer
from wirebridge.engine.retry import delay, retryable
from wirebridge.engine.routing import Route
from wirebridge.errors import GatewayError, UpstreamError
from wirebridge.hub import ids
from wirebridge.hub.accumulate import ResponseBuilder
from wirebridge.hub.request import HubRequest
from wirebridge.upstreams.base import UpstreamCall

if TYPE_CHECKING:  # the gateway builds turns through this module
    from wirebridge.engine.gateway import Gateway

log = logging.getLogger("wirebridge")
Event = dict[str, Any]
Finisher = Callable[[dict[str, Any]], Awaitable[None]]

USAGE_HOOK: ContextVar[Finisher | None] = ContextVar("wirebridge_usage_hook", default=None)
"""Set around a request by whoever wants the final Response of each turn it runs (the rate
limiter charges the tokens used); a turn takes the hook in force when it is opened."""


class Turn:
    """``on_finish`` runs with the final Response before the batch holding the terminal event
    is handed out: a stored response is written before its terminal event is sent."""

    def __init__(
        self, req: HubRequest, route: Route, call: UpstreamCall, builder: ResponseBuilder
    ) -> None:
        self.req, self.route, self.call, self.builder = req, route, call, builder
        self.on_finish: Finisher | None = None
        self.on_usage: Finisher | None = USAGE_HOOK.get()  # before on_finish, once
        self.balancer: Balancer | None = None  # released on close: the call is no longer in flight
        self.obs: observe.TurnObserver = observe.NO_TURN  # metrics/tracing; set by open_turn

    async def batches(self) -> AsyncIterator[list[Event]]:
        feed, builder = self.builder.feed, self.builder
        first = True
        async for batch in self.call.batches():
            if first:
                first = False
                self.obs.first_batch()  # time to first token
            out = [feed(ev) for ev in batch]
            if builder.response is not None and self.on_usage is not None:
                usage, self.on_usage = self.on_usage, None
                await usage(builder.response)
            if builder.response is not None and self.on_finish is not None:
                finish, self.on_finish = self.on_finish, None
                await finish(builder.response)
            yield out
        self.obs.finished(builder.response)  # tokens

    async def result(self) -> dict[str, Any]:
        """The final Response, for clients that asked for JSON. A failure is an error."""
        async for _ in self.batches():
            pass
        resp = self.builder.response
        assert resp is not None, "an upstream call always ends with a terminal event"
        if resp["status"] == "failed":
            err = resp.get("error") or {}
            raise UpstreamError(err.get("message", "The upstream failed."), code=err.get("code"))
        return resp

    def close(self) -> None:
        self.call.close()
        self.obs.close()  # streams in flight, upstream span
        if self.balancer is not None:
            self.balancer.release(self.route)
            self.balancer = None


async def open_turn(
    gw: Gateway, req: HubRequest, *, stream: bool, builder: ResponseBuilder | None = None
) -> Turn:
    """Open an upstream call for ``req``: the model's routes in balanced order, each failure
    retried with backoff, then the fallback models. The first call the upstream accepts wins;
    the Response names the model that answered."""
    last: GatewayError | None = None
    obs = observe.current()
    for choice in gw.router.plan(req.model):
        routes = gw.balancer.order(choice.model, choice.routes, choice.balance)
        retries = routes[0].provider.retries
        for attempt in range(retries + 1):
            route = routes[attempt % len(routes)]
            try:
                call = await _open(gw, req, route, stream)
            except GatewayError as e:
                if not retryable(e):
                    raise
                last = e
                log.info(
                    "upstream %s failed (%s); attempt %d of %d",
                    route.provider.name,
                    e.message,
                    attempt + 1,
                    retries + 1,
                )
                wait = delay(attempt, e) if attempt < retries else None
                if wait is None:
                    break
                obs.retried(route.provider.name)
                await asyncio.sleep(wait)
                continue
            turn = Turn(req, route, call, builder or ResponseBuilder(ids.response_id(), req))
            turn.builder.model = route.model
            turn.balancer = gw.balancer
            turn.obs = obs.answered(choice.model, route, stream)
            return turn
    assert last is not None
    raise last


async def _open(gw: Gateway, req: HubRequest, route: Route, stream: bool) -> UpstreamCall:
    call = gw.call(req, route, stream=stream)
    gw.balancer.acquire(route)
    obs = observe.current()
    obs.attempt(route)
    try:
        await call.open()
    except BaseException as e:
        obs.attempt_failed(route, e)
        call.close()
        gw.balancer.release(route)
        if isinstance(e, GatewayError) and retryable(e):
            gw.balancer.failed(route)
        raise
    gw.balancer.succeeded(route)
    return call
