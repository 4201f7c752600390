"""Asking a provider for its model list, authenticated as its api expects: how ``doctor``
checks that a provider is reachable and accepts its key, and how ``models --remote`` lists
what it serves."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from wirebridge.config.model import ProviderConfig


@dataclass(frozen=True, slots=True)
class Probe:
    """What ``GET {base_url}/models`` with one key (or none) answered."""

    url: str
    status: int | None = None  # None: no HTTP answer
    error: str | None = None  # why there was no answer
    models: list[str] = field(default_factory=list)
    listed: bool = False  # the body was a model list

    @property
    def rejected(self) -> bool:
        return self.status in (401, 403)

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


async def probe_models(
    session: aiohttp.ClientSession, p: ProviderConfig, key: str | None, timeout: float
) -> Probe:
    """``GET`` the provider's model list with ``key``, authenticated as its api expects."""
    url, headers = models_request(p, key)
    try:
        async with session.get(
            url,
            headers=headers,
            proxy=p.proxy,
            timeout=aiohttp.ClientTimeout(total=timeout),
            allow_redirects=False,
        ) as resp:
            raw = await resp.read()
            status = resp.status
    except TimeoutError:
        return Probe(url, error=f"no answer within {timeout:g} s")
    except aiohttp.ClientError as e:
        return Probe(url, error=str(e) or type(e).__name__)
    models, listed = _model_ids(raw) if 200 <= status < 300 else ([], False)
    return Probe(url, status=status, models=models, listed=listed)


def models_request(p: ProviderConfig, key: str | None) -> tuple[str, dict[str, str]]:
    """The URL and headers of a model-list request to ``p``."""
    from wirebridge.upstreams.azure import AzureSettings

    if p.api == "messages":
        from wirebridge.upstreams.messages import ANTHROPIC_VERSION

        auth = {"anthropic-version": ANTHROPIC_VERSION}
        if key:
            auth["x-api-key"] = key
        return p.base_url + "/models", {**auth, **p.headers}  # as the adapter: headers win
    auth = {"Authorization": f"Bearer {key}"} if key else {}
    url = p.base_url + "/models"
    for section in p.sections.values():
        if isinstance(section, AzureSettings):
            url, auth = _azure_models(section, p, key)
    return url, {**p.headers, **auth}


def _azure_models(section: Any, p: ProviderConfig, key: str | None) -> tuple[str, dict[str, str]]:
    from wirebridge.upstreams.azure import DEFAULT_CHAT_API_VERSION, resource_endpoint

    placed = section.place(p.api, p.base_url, key, "models")
    endpoint = resource_endpoint(p.base_url)
    version = section.api_version
    if version in ("v1", "latest", "preview") or (version is None and p.api != "chat"):
        return endpoint + "/openai/v1/models", placed.headers
    return (
        f"{endpoint}/openai/models?api-version={version or DEFAULT_CHAT_API_VERSION}",
        placed.headers,
    )


def _model_ids(raw: bytes) -> tuple[list[str], bool]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return [], False
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return [], False
    ids = [m["id"] for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)]
    return ids, True
