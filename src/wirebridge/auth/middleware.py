"""Client authentication: the aiohttp middleware in front of every route.

Keys are required as soon as there is one: a static key (``server.api_keys`` or ``serve
--api-key``, ``auth/static.py``) or a managed key ever created (``wirebridge keys create``,
``auth/keys.py``; revoked keys count). Without any, the gateway is open as before, and a
managed key presented anyway is still recognised, so its stored responses keep their owner.

* Open routes: ``/health`` and ``/ready`` always; ``/metrics`` and below only with
  ``server.metrics_public: true``.
* The key comes as ``Authorization: Bearer <key>`` or ``x-api-key: <key>`` (``api-key`` too).
  No key, or a wrong or revoked one, is a 401 in the caller's envelope (OpenAI's, or
  Anthropic's on ``/v1/messages``).
* A key limited to some models gets a 403 for a POST naming another model. Only then is the
  body read here (aiohttp keeps it for the handler) and parsed; on Anthropic routes the name
  the ``claude:`` mapping turns it into is allowed too. The WebSocket endpoint carries the model
  in each frame, past this middleware, so such a key cannot open it.
* The request's ``Client`` is left at ``request[CLIENT]``: ``http/owner.py`` takes the owner tag
  of stored responses from it, the rate limiter its identity and limits.

Whether a managed key exists is asked of the store at most once every ``RECHECK_SECONDS``
until one does; after that the answer cannot change. A managed key's record is read at most
once every ``auth.keys.CACHE_SECONDS``: a revoked key stops working within that time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

from wirebridge.auth.keys import (
    CLIENT,
    Client,
    KeyCache,
    has_managed_keys,
    looks_managed,
    managed_client,
)
from wirebridge.auth.keys import verify as verify_managed
from wirebridge.auth.static import StaticKeys
from wirebridge.config.model import Config
from wirebridge.engine.model_map import resolve_model
from wirebridge.errors import AuthenticationFailed, GatewayError, PermissionDenied
from wirebridge.http.body import read_body
from wirebridge.http.keys import GATEWAY
from wirebridge.http.owner import client_key
from wirebridge.http.wire import error_response
from wirebridge.store import ResponseStore

log = logging.getLogger("wirebridge")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

OPEN_PATHS = frozenset({"/health", "/ready"})
RECHECK_SECONDS = 1.0
_HOW = "send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'"


def is_open(path: str, metrics_public: bool) -> bool:
    """Routes served without a key (and not rate limited)."""
    if path in OPEN_PATHS:
        return True
    return metrics_public and (path == "/metrics" or path.startswith("/metrics/"))


class Authenticator:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.static = StaticKeys(config.server.api_keys)
        self.metrics_public = config.server.metrics_public
        self._managed_exist = False
        self._checked_at = float("-inf")
        self._cache: KeyCache | None = None

    def _keys(self, store: ResponseStore) -> KeyCache:
        if self._cache is None or self._cache.store is not store:
            self._cache = KeyCache(store)
        return self._cache

    async def identify(self, request: web.Request, store: ResponseStore) -> Client | None:
        """The request's client; ``None`` when no key is required and none of ours was given.
        Raises ``AuthenticationFailed``."""
        presented = client_key(request)
        if presented is not None:
            client = self.static.match(presented)
            if client is None and looks_managed(presented):
                rec = await verify_managed(self._keys(store), presented)
                if rec is not None:
                    self._managed_exist = True
                    client = managed_client(rec)
            if client is not None:
                return client
        if not await self.required(store):
            return None
        if presented is None:
            raise AuthenticationFailed(f"Missing API key: {_HOW}.", headers=_CHALLENGE)
        raise AuthenticationFailed("Incorrect or revoked API key provided.", headers=_CHALLENGE)

    async def required(self, store: ResponseStore) -> bool:
        if self.static or self._managed_exist:
            return True
        now = time.monotonic()
        if now - self._checked_at >= RECHECK_SECONDS:
            self._checked_at = now
            self._managed_exist = await has_managed_keys(store)
        return self._managed_exist

    async def check_model(self, request: web.Request, client: Client) -> None:
        """``PermissionDenied`` unless ``client`` may use the model the request names."""
        if client.models is None:
            return
        if request.method != "POST":
            return  # the WebSocket endpoint checks each turn's model itself
        model = await _requested_model(request)
        if model is None or client.allows(model):
            return  # no model named: the handler answers 400
        if "/v1/messages" in request.path and client.allows(resolve_model(model, self.config)):
            return
        allowed = ", ".join(client.models)
        raise PermissionDenied(
            f"This API key may not use model '{model}'; it may use: {allowed}.",
            param="model",
            code="model_not_allowed",
        )


_CHALLENGE = {"WWW-Authenticate": "Bearer"}
AUTH = web.AppKey("auth", Authenticator)


async def _requested_model(request: web.Request) -> str | None:
    if not request.body_exists:
        return None
    try:  # an unreadable body is the handler's to refuse, in its own envelope
        body = orjson.loads(await read_body(request, request.client_max_size, keep=True))
    except (orjson.JSONDecodeError, GatewayError):
        return None  # the handler answers 400
    model = body.get("model") if isinstance(body, dict) else None
    return model if isinstance(model, str) else None


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    auth = request.app[AUTH]
    if is_open(request.path, auth.metrics_public):
        return await handler(request)
    try:
        client = await auth.identify(request, request.app[GATEWAY].state.store)
        if client is not None:
            request[CLIENT] = client
            await auth.check_model(request, client)
    except (AuthenticationFailed, PermissionDenied) as err:
        _log_refusal(request, err)
        return error_response(err, request.path)
    return await handler(request)


def _log_refusal(request: web.Request, err: GatewayError) -> None:
    client = request.get(CLIENT)
    who = f" ({client.id})" if client is not None else ""
    log.info(
        "%s %s from %s%s -> %d %s",
        request.method,
        request.path,
        request.remote,
        who,
        err.http_status,
        err.code,
    )


def install(app: web.Application, config: Config) -> None:
    """Add the middleware (after those already there) and its state to ``app``."""
    app[AUTH] = Authenticator(config)
    app.middlewares.append(auth_middleware)
