"""The model list clients see: configured models and aliases, then each provider's own models
as ``provider@model`` (asked of the provider, cached, and skipped if it does not answer)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiohttp
import orjson

from wirebridge.config.model import Config, ProviderConfig

log = logging.getLogger("wirebridge")
Model = dict[str, Any]


class ModelCatalog:
    def __init__(self, config: Config, ttl: float = 300.0, fetch_timeout: float = 5.0) -> None:
        self._config = config
        self._ttl = ttl
        self._fetch_timeout = fetch_timeout
        self._cached: list[Model] | None = None
        self._at = 0.0

    async def models(self, session: aiohttp.ClientSession, refresh: bool = False) -> list[Model]:
        if self._cached is None or refresh or time.monotonic() - self._at > self._ttl:
            self._cached = await self._build(session)
            self._at = time.monotonic()
        return self._cached

    async def _build(self, session: aiohttp.ClientSession) -> list[Model]:
        cfg = self._config
        out = [_model(name, route.provider) for name, route in cfg.models.items()]
        out += [_model(name, "wirebridge") for name in cfg.aliases]
        seen = {m["id"] for m in out}
        fetched = await asyncio.gather(*(self._fetch(session, p) for p in cfg.providers.values()))
        for provider, ids in zip(cfg.providers, fetched, strict=True):
            for model_id in ids:
                name = f"{provider}@{model_id}"
                if name not in seen:
                    seen.add(name)
                    out.append(_model(name, provider))
        return out

    async def _fetch(self, session: aiohttp.ClientSession, p: ProviderConfig) -> list[str]:
        headers = dict(p.headers)
        if p.api_key:
            headers["Authorization"] = f"Bearer {p.api_key}"
        try:
            async with session.get(
                p.base_url + "/models",
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self._fetch_timeout),
                proxy=p.proxy,
            ) as resp:
                if resp.status != 200:
                    log.info("provider %s: GET /models answered %d", p.name, resp.status)
                    return []
                body = orjson.loads(await resp.read())
        except (aiohttp.ClientError, TimeoutError, orjson.JSONDecodeError) as e:
            log.info("provider %s: could not list models: %s", p.name, e)
            return []
        data = body.get("data") if isinstance(body, dict) else None
        return [m["id"] for m in data or () if isinstance(m, dict) and isinstance(m.get("id"), str)]


def _model(model_id: str, owner: str) -> Model:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": owner}
