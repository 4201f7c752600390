"""The gateway's shared state: config, routing, the upstream session, the sealer.

One instance per process, built at start-up; handlers reach it through the aiohttp app.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp

from wirebridge.config.model import Config
from wirebridge.config.paths import state_dir
from wirebridge.engine.background import BackgroundRuns
from wirebridge.engine.balance import Balancer
from wirebridge.engine.catalog import ModelCatalog
from wirebridge.engine.routing import Route, Router
from wirebridge.engine.state import ResponseState
from wirebridge.errors import Untranslatable
from wirebridge.hub.request import HubRequest
from wirebridge.hub.seal import Sealer, load_or_create_key
from wirebridge.store import open_store
from wirebridge.transport.client import HttpClient
from wirebridge.transport.http import make_session
from wirebridge.transport.proxy import with_proxies
from wirebridge.upstreams.base import UpstreamCall
from wirebridge.upstreams.registry import ADAPTERS, CallContext

log = logging.getLogger("wirebridge")
Event = dict[str, Any]


class Gateway:
    def __init__(self, config: Config) -> None:
        config = with_proxies(config)
        self.config = config
        self.router = Router(config)
        self.balancer = Balancer()
        self.sealer = _make_sealer(config)
        self.catalog = ModelCatalog(config, ttl=config.server.models_cache_ttl)
        self._session: aiohttp.ClientSession | None = None
        self.client = HttpClient()  # opens connections on first use
        self.services: dict[str, Any] = {}  # shared by upstream calls (see upstreams.registry)
        self._state: ResponseState | None = None
        self.background: BackgroundRuns | None = None
        self._maintenance: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Open what needs I/O (the response store) and start store maintenance."""
        store = await open_store(self.config.store)
        self._state = ResponseState(store, self.config.store, self.sealer)
        self.background = BackgroundRuns(self)
        self._maintenance = asyncio.create_task(self.background.maintain())

    @property
    def state(self) -> ResponseState:
        assert self._state is not None, "Gateway.start() first"
        return self._state

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = make_session()
        return self._session

    async def close(self) -> None:
        if self._maintenance is not None:
            self._maintenance.cancel()
        if self.background is not None:
            await self.background.shutdown()
        await self.client.close()
        if self._session is not None:
            await self._session.close()
        if self._state is not None:
            await self._state.store.close()

    def call(self, req: HubRequest, route: Route, *, stream: bool) -> UpstreamCall:
        """An upstream call for ``req`` on ``route``, not yet sent."""
        provider = route.provider
        factory = ADAPTERS.get(provider.api)
        if factory is None:
            raise Untranslatable(f"Upstream api '{provider.api}' is not supported.")
        ctx = CallContext(
            client=self.client,
            session=self.session,
            seal=self.sealer.seal,
            open_blob=self.sealer.open,
            reasoning_as=self.config.server.reasoning_output,
            timeout=provider.timeout or self.config.server.request_timeout,
            services=self.services,
        )
        return factory(req, route, stream, ctx)


def _make_sealer(config: Config) -> Sealer:
    if config.server.secret_key:
        return Sealer.from_secret(config.server.secret_key)
    path = config.server.key_file or state_dir() / "secret.key"
    return Sealer(load_or_create_key(path))
