"""The OAuth token endpoint: one POST, its JSON answer, and its errors as ``ChatGPTAuthError``.

Used for both grants Codex uses: ``refresh_token`` (JSON body, by ``chatgpt.TokenManager``) and
``authorization_code`` (form body, by ``pkce``). Errors are classified by their structured
``error`` / ``code`` fields (both the ``{"error": {"code", "message"}}`` and the RFC 6749
``{"error", "error_description"}`` shapes): an expired, reused or revoked refresh token, or an
HTTP 400/401, is *permanent* — only a new sign-in helps.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import aiohttp

from wirebridge.auth.authfile import RELOGIN_HINT, ChatGPTAuthError
from wirebridge.transport.proxy import env_proxy

# Token endpoint error codes after which only a new sign-in helps (Codex's classification).
_PERMANENT_CODES = {
    "refresh_token_expired": "the refresh token has expired",
    "refresh_token_reused": "the refresh token was already used",
    "refresh_token_invalidated": "the refresh token was revoked",
}


async def post_token_request(
    session: aiohttp.ClientSession,
    url: str,
    *,
    json_body: Mapping[str, str] | None = None,
    form: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> dict[str, Any]:
    """POST to an OAuth token endpoint; the JSON answer, or ``ChatGPTAuthError``."""
    tmo = aiohttp.ClientTimeout(total=timeout)
    try:
        async with session.post(
            url,
            json=dict(json_body) if json_body is not None else None,
            data=dict(form) if form is not None else None,
            headers={"Accept": "application/json"},
            timeout=tmo,
            proxy=env_proxy(url),
        ) as resp:
            raw = await resp.read()
            status = resp.status
    except TimeoutError:
        raise ChatGPTAuthError(f"The token endpoint {url} did not answer in time.") from None
    except aiohttp.ClientError as e:
        raise ChatGPTAuthError(f"Could not reach the token endpoint {url}: {e}") from None
    try:
        obj = json.loads(raw) if raw else None
    except ValueError:
        obj = None
    if status != 200:
        raise _token_error(status, obj, raw)
    if not isinstance(obj, dict) or not isinstance(obj.get("access_token"), str):
        raise ChatGPTAuthError(f"The token endpoint {url} answered without an access token.")
    return obj


def _token_error(status: int, obj: object, raw: bytes) -> ChatGPTAuthError:
    code, message = None, None
    if isinstance(obj, dict):
        err = obj.get("error")
        if isinstance(err, dict):  # {"error": {"code": ..., "message": ...}}
            code, message = err.get("code"), err.get("message")
        elif isinstance(err, str):  # RFC 6749: {"error": "invalid_grant", "error_description"}
            code, message = obj.get("code") or err, obj.get("error_description")
    code = code if isinstance(code, str) else None
    reason = _PERMANENT_CODES.get((code or "").lower())
    if reason is not None:
        return ChatGPTAuthError(
            f"The ChatGPT token could not be refreshed: {reason}; {RELOGIN_HINT}.", permanent=True
        )
    detail = (
        message if isinstance(message, str) and message else raw[:300].decode("utf-8", "replace")
    )
    return ChatGPTAuthError(
        f"The token endpoint answered HTTP {status}"
        + (f" ({code})" if code else "")
        + (f": {detail}" if detail else "")
        + (f"; {RELOGIN_HINT}" if status in (400, 401) else ""),
        permanent=status in (400, 401),
    )
