"""Upstream calls at the edge: POST a JSON body, map what went wrong to the gateway's errors.

Upstream calls go through ``HttpClient`` (``client.py``); ``make_session`` is the aiohttp
session kept for the rest (token refresh, login, model listing)."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from wirebridge.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from wirebridge.transport.client import ConnectionBroken, HttpClient, Response


def make_session() -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=60)
    # Not trust_env: proxies are resolved once per upstream (transport/proxy.py), not per request.
    return aiohttp.ClientSession(
        connector=connector,
        auto_decompress=True,
        skip_auto_headers=("User-Agent",),
    )


async def post_json(
    client: HttpClient,
    url: str,
    body: dict[str, Any],
    headers: dict[str, str],
    *,
    timeout: float,
    stream: bool,
    connect_timeout: float | None = None,
    total_timeout: float | None = None,
    proxy: str | None = None,
) -> Response:
    """POST ``body``; return the response once its status is 2xx, or raise the mapped error.

    ``timeout`` bounds each wait for upstream bytes; a stream may run longer than any total, so
    ``total_timeout`` applies to non-streamed answers only (default: ``timeout``)."""
    try:
        resp = await client.post(
            url,
            lambda: orjson.dumps(body),  # made by the client, which does not keep it
            headers,
            connect_timeout=connect_timeout or min(timeout, 10.0),
            read_timeout=timeout,
            total_timeout=None if stream else (total_timeout or timeout),
            proxy=proxy,
        )
    except TimeoutError:
        raise UpstreamTimeout(f"The upstream did not answer within {timeout:g} s.") from None
    except ConnectionBroken as e:
        raise UpstreamUnavailable(f"Could not reach the upstream: {e}") from None
    if resp.status >= 300:
        try:
            raise await upstream_error(resp)
        finally:
            resp.release()
    return resp


async def upstream_error(resp: Response) -> UpstreamError:
    try:
        raw = await resp.read()
    except (TimeoutError, ConnectionBroken):
        raw = b""
    message, type_, code, param = _error_fields(raw)
    return UpstreamError.from_status(
        resp.status,
        f"Upstream returned HTTP {resp.status}: {message}",
        type_=type_ if resp.status not in (401, 403) else None,
        code=code,
        param=param,
        retry_after=resp.headers.get("Retry-After"),
    )


def _error_fields(raw: bytes) -> tuple[str, str | None, str | None, str | None]:
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw[:500].decode("utf-8", "replace") or "no body", None, None, None
    err = obj.get("error") if isinstance(obj, dict) else None
    if isinstance(err, dict):
        code = err.get("code")
        return (
            str(err.get("message") or "no message"),
            err.get("type") if isinstance(err.get("type"), str) else None,
            str(code) if code is not None else None,
            err.get("param") if isinstance(err.get("param"), str) else None,
        )
    if isinstance(err, str):
        return err, None, None, None
    return raw[:500].decode("utf-8", "replace"), None, None, None


async def read_json_object(resp: Response) -> dict[str, Any]:
    """A non-streamed upstream answer's JSON object, or the error that stands for it."""
    try:
        raw = await resp.read()
    except TimeoutError:
        raise UpstreamTimeout("The upstream did not finish its answer in time.") from None
    except ConnectionBroken as e:
        raise UpstreamUnavailable(f"The upstream connection broke: {e}") from None
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise UpstreamUnavailable(
            "The upstream answered with something that is not JSON."
        ) from None
    if not isinstance(obj, dict):
        raise UpstreamUnavailable("The upstream answered with JSON that is not an object.")
    return obj
