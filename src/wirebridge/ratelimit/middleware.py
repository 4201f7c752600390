"""The rate limit middleware: after authentication, before the handler.

What is limited: every route but ``/health``, ``/ready`` and ``/metrics`` (and below), which
probes and scrapers call on a schedule; one request each (a WebSocket connection counts once, at
its upgrade). Each request counts against its client key's limits (``server.rate_limits.per_key``
or a managed key's own) and against its client address's (``per_ip``, by the TCP peer address:
``X-Forwarded-For`` is not trusted). Requests without an authenticated key — only possible while
no key is configured — have per-address limits only. Requests refused by authentication (401)
are not counted.

Tokens per minute (per key, on POST routes but ``/cancel``): the request passes while the key's
window has any tokens left; each turn it runs charges its ``usage.total_tokens`` when it
finishes, through ``engine.pipeline.USAGE_HOOK`` (for a stream, before its terminal event is
sent; background responses and WebSocket turns too). A turn that never finishes (the client went
away) is not charged.

Headers: a 429 carries ``Retry-After`` and OpenAI's ``x-ratelimit-*-requests`` (and
``-tokens``) headers, in the caller's envelope; successful answers carry the same limit and
remaining headers (added when the response is prepared, so SSE streams get them too).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from wirebridge.auth.keys import CLIENT, Client
from wirebridge.auth.middleware import is_open
from wirebridge.config.model import Config
from wirebridge.engine.pipeline import USAGE_HOOK
from wirebridge.errors import RateLimited
from wirebridge.http.keys import GATEWAY
from wirebridge.http.wire import error_response
from wirebridge.ratelimit.limiter import Check, Limiter, checks_for, effective

log = logging.getLogger("wirebridge")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

LIMITER = web.AppKey("rate_limiter", Limiter)
HEADERS = web.RequestKey("ratelimit_headers", dict)


def plan(cfg: Config, client: Client | None, ip: str | None, *, tokens: bool) -> list[Check]:
    """The limits one request counts against."""
    limits = cfg.server.rate_limits
    checks: list[Check] = []
    if client is not None:
        mine = effective(limits.per_key, client.limits)
        checks += checks_for(mine, ("key", client.id), tokens=tokens)
    if ip:
        checks += checks_for(limits.per_ip, ("ip", ip), tokens=False)
    return checks


def _charger(limiter: Limiter, check: Check) -> Callable[[dict[str, Any]], Awaitable[None]]:
    async def charge(response: dict[str, Any]) -> None:
        usage = response.get("usage") or {}
        total = usage.get("total_tokens")
        if not isinstance(total, int):
            total = int(usage.get("input_tokens") or 0) + int(usage.get("output_tokens") or 0)
        await limiter.charge(check, total)

    return charge


@web.middleware
async def ratelimit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if is_open(request.path, metrics_public=True):  # health checks and scrapes: never limited
        return await handler(request)
    config = request.app[GATEWAY].config
    limiter = request.app[LIMITER]
    client = request.get(CLIENT)
    spends = request.method == "POST" and not request.path.endswith("/cancel")
    checks = plan(config, client, request.remote, tokens=spends)
    if not checks:
        return await handler(request)
    try:
        request[HEADERS] = await limiter.admit(checks)
    except RateLimited as err:
        log.info(
            "%s %s from %s -> 429 %s", request.method, request.path, request.remote, err.message
        )
        return error_response(err, request.path)
    tokens = next((c for c in checks if c.kind == "tokens"), None)
    if tokens is None:
        return await handler(request)
    reset = USAGE_HOOK.set(_charger(limiter, tokens))
    try:
        return await handler(request)
    finally:
        USAGE_HOOK.reset(reset)


async def _add_headers(request: web.BaseRequest, response: web.StreamResponse) -> None:
    headers = request.get(HEADERS)
    if headers:
        response.headers.update(headers)


def install(app: web.Application, config: Config) -> None:
    """Add the middleware (after those already there: install auth first), its limiter and
    the header hook to ``app``. Installed even when ``server.rate_limits`` sets no limit, since
    managed keys may carry their own; then a request costs one lookup here."""
    limiter = Limiter(config.server.rate_limits)
    app[LIMITER] = limiter
    app.middlewares.append(ratelimit_middleware)
    app.on_response_prepare.append(_add_headers)

    async def start(app: web.Application) -> None:
        await limiter.start()

    async def close(app: web.Application) -> None:
        await limiter.close()

    app.on_startup.append(start)
    app.on_cleanup.append(close)
