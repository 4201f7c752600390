"""The aiohttp application: route table, error handling, start-up and shutdown."""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import web

from wirebridge import __version__
from wirebridge.auth import middleware as auth
from wirebridge.config.model import Config
from wirebridge.engine.gateway import Gateway
from wirebridge.errors import GatewayError, InternalError, NotFound, PayloadTooLarge
from wirebridge.http import compact, models, responses, stored, tokens, websocket
from wirebridge.http import messages as anthropic_messages
from wirebridge.http import observe as observe_http
from wirebridge.http.chat import create as create_chat_completion
from wirebridge.http.keys import GATEWAY, STARTED
from wirebridge.http.wire import error_response, json_response
from wirebridge.observe.middleware import request_middleware, set_request_id
from wirebridge.observe.middleware import setup as setup_observability
from wirebridge.ratelimit import middleware as ratelimit

log = logging.getLogger("wirebridge")


@web.middleware
async def error_middleware(request: web.Request, handler):  # type: ignore[no-untyped-def]
    try:
        return await handler(request)
    except GatewayError as e:
        if e.http_status >= 500:
            log.warning("%s %s -> %d %s", request.method, request.path, e.http_status, e.message)
        return error_response(e, request.path)
    except web.HTTPRequestEntityTooLarge as e:
        return error_response(PayloadTooLarge(e.text or "Request body too large."), request.path)
    except web.HTTPException as e:
        if e.status == 404:
            return error_response(
                NotFound(f"No route for {request.method} {request.path}."), request.path
            )
        if e.status == 405:
            err = GatewayError(
                f"Method {request.method} is not allowed on {request.path}.",
                status=405,
                code="method_not_allowed",
            )
            return error_response(err, request.path)
        raise
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        err = InternalError("The gateway hit an internal error; see its log.")
        return error_response(err, request.path)


async def health(request: web.Request) -> web.Response:
    started: float = request.app[STARTED]
    return json_response(
        {"status": "ok", "version": __version__, "uptime_seconds": round(time.time() - started, 3)}
    )


def add_routes(router: web.UrlDispatcher) -> None:
    """The route table: every endpoint, each with and without the /v1 prefix clients may use."""
    router.add_get("/health", health)
    router.add_get("/ready", observe_http.ready)
    router.add_get("/metrics", observe_http.metrics_json)
    router.add_get("/metrics/prometheus", observe_http.metrics_prometheus)
    router.add_post("/v1/responses", responses.create)
    router.add_post("/responses", responses.create)
    router.add_post("/v1/chat/completions", create_chat_completion)
    router.add_post("/chat/completions", create_chat_completion)
    for prefix in ("/v1", ""):
        router.add_get(f"{prefix}/responses", websocket.connect)
        router.add_get(f"{prefix}/responses/{{response_id}}", stored.retrieve)
        router.add_delete(f"{prefix}/responses/{{response_id}}", stored.delete)
        router.add_get(f"{prefix}/responses/{{response_id}}/input_items", stored.input_items)
        router.add_post(f"{prefix}/responses/compact", compact.compact)
        router.add_post(f"{prefix}/responses/input_tokens", tokens.input_tokens)
        router.add_post(f"{prefix}/responses/{{response_id}}/cancel", stored.cancel)
    router.add_post("/v1/messages", anthropic_messages.create)
    router.add_post("/v1/messages/count_tokens", anthropic_messages.count_tokens)
    # ANTHROPIC_BASE_URL may carry a path: /anthropic/v1/messages, /v1/v1/messages, ...
    router.add_post("/{prefix:.+}/v1/messages", anthropic_messages.create)
    router.add_post("/{prefix:.+}/v1/messages/count_tokens", anthropic_messages.count_tokens)
    router.add_get("/v1/models", models.list_models)
    router.add_get("/models", models.list_models)


def create_app(config: Config) -> web.Application:
    app = web.Application(
        middlewares=[error_middleware],
        client_max_size=config.server.max_body_bytes,
        handler_args={"auto_decompress": False},  # http/body.py decodes, into our envelopes
    )
    gateway = Gateway(config)
    app[GATEWAY] = gateway
    auth.install(app, config)  # client keys, then rate limits (which need the client)
    ratelimit.install(app, config)
    app[STARTED] = time.time()
    add_routes(app.router)

    async def _start(app: web.Application) -> None:
        await gateway.start()

    async def _close(app: web.Application) -> None:
        await gateway.close()

    app.on_startup.append(_start)
    app.on_cleanup.append(_close)
    setup_observability(app, config)  # metrics labels, log format and request-id filter, tracing
    app.on_response_prepare.append(set_request_id)  # x-request-id on every response, streams too
    app.middlewares.insert(0, request_middleware)  # outermost: ids, timing, summary line, metrics
    return app
