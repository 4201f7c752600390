"""GET /ready, /metrics (JSON) and /metrics/prometheus (text exposition).

``/health`` says the process answers; ``/ready`` says it can serve: the response store answers
a ping and every ``api: chatgpt`` provider's sign-in file can be read. 200 ``{"status":
"ready"}``, else 503 ``{"status": "not_ready", "failed": {"store": "...", "credentials":
{"<provider>": "..."}}}``. Neither these nor ``/metrics*`` are counted in the request metrics.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from wirebridge.auth.chatgpt import (
    ChatGPTAuthError,
    ChatGPTTokens,
    default_auth_file,
    read_auth_file,
)
from wirebridge.config.model import Config
from wirebridge.engine.gateway import Gateway
from wirebridge.http.keys import GATEWAY
from wirebridge.http.wire import json_response
from wirebridge.observe import metrics
from wirebridge.store.base import StoreError

READY_TIMEOUT = 3.0  # seconds the store has to answer a ping


async def ready(request: web.Request) -> web.Response:
    gw: Gateway = request.app[GATEWAY]
    failed: dict[str, Any] = {}
    store_problem = await _store_problem(gw)
    if store_problem:
        failed["store"] = store_problem
    credentials = credential_problems(gw.config)
    if credentials:
        failed["credentials"] = credentials
    if failed:
        return json_response({"status": "not_ready", "failed": failed}, status=503)
    return json_response({"status": "ready"})


async def metrics_json(request: web.Request) -> web.Response:
    return json_response(metrics.METRICS.as_json())


async def metrics_prometheus(request: web.Request) -> web.Response:
    return web.Response(
        body=metrics.METRICS.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )


async def _store_problem(gw: Gateway) -> str | None:
    try:
        store = gw.state.store
    except (AssertionError, AttributeError):
        return "not open yet"
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            await store.ping()
    except StoreError as e:
        return str(e)  # backend, redacted address, cause: never a password
    except TimeoutError:
        return f"no answer to a ping within {READY_TIMEOUT:g} s"
    except Exception as e:  # a backend error outside the StoreError contract
        return f"{type(e).__name__}: {e}"
    return None


def credential_problems(config: Config) -> dict[str, str]:
    """What is wrong with each provider whose credentials live in a file (``api: chatgpt``)."""
    out: dict[str, str] = {}
    for p in config.providers.values():
        if p.api != "chatgpt":
            continue
        path = getattr(p.sections.get("chatgpt"), "auth_path", None)
        if not isinstance(path, Path):
            path = default_auth_file()
        try:
            ChatGPTTokens.from_file(read_auth_file(path), path)
        except ChatGPTAuthError as e:
            out[p.name] = e.message
    return out
