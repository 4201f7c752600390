"""The ChatGPT sign-in Codex keeps in ``auth.json``, and the token manager that keeps it fresh.

The file (``$CODEX_HOME/auth.json``, else ``~/.codex/auth.json``) is Codex's own format, so one
sign-in serves both Codex and the gateway::

    {"OPENAI_API_KEY": null,
     "tokens": {"id_token": "<JWT>", "access_token": "<JWT>", "refresh_token": "...",
                "account_id": "<ChatGPT account/workspace id>"},
     "last_refresh": "2026-01-02T03:04:05.123456Z"}

Keys the gateway does not use are kept as they are when it writes the file back.

``TokenManager`` hands out the current access token and account id. The token's expiry is the
``exp`` claim of the access token (a JWT; its signature is not checked: the backend does that).
Within ``refresh_margin`` seconds of expiry, or when the backend answered 401, the token is
refreshed at the OAuth token endpoint (``grant_type=refresh_token``, as Codex does it). Refreshes
are single-flight: concurrent requests share one refresh, because a refresh token can be used
only once. Before refreshing, the file is read again, so a refresh another process (Codex, a
second gateway) already made is picked up instead of spending the used refresh token. The
refreshed tokens are written back atomically (temp file in the same directory, ``fsync``,
rename) with 0600 permissions.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

log = logging.getLogger("wirebridge.auth")

DEFAULT_ISSUER = "https://auth.openai.com"
DEFAULT_TOKEN_URL = DEFAULT_ISSUER + "/oauth/token"
CODEX_CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"  # Codex CLI's public OAuth client
DEFAULT_REFRESH_MARGIN = 300.0  # seconds before expiry at which a token is refreshed
MIN_REFRESH_INTERVAL = 60.0  # seconds between refreshes made only because a token is due
AUTH_CLAIMS = "https://api.openai.com/auth"  # the JWT claim that holds chatgpt_account_id

# Token endpoint error codes after which only a new sign-in helps (Codex's classification).
_PERMANENT_CODES = {
    "refresh_token_expired": "the refresh token has expired",
    "refresh_token_reused": "the refresh token was already used",
    "refresh_token_invalidated": "the refresh token was revoked",
}
RELOGIN_HINT = "sign in again with `wirebridge login chatgpt` (or `codex login`)"


class ChatGPTAuthError(Exception):
    """The sign-in cannot give a usable token. ``permanent``: only a new sign-in fixes it."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


# -- the file ----------------------------------------------------------------------------------


def default_auth_file(env: Mapping[str, str] | None = None) -> Path:
    """``$CODEX_HOME/auth.json`` if ``CODEX_HOME`` is set and not empty, else
    ``~/.codex/auth.json`` — where Codex itself keeps it."""
    home = (os.environ if env is None else env).get("CODEX_HOME", "").strip()
    return (Path(home).expanduser() if home else Path.home() / ".codex") / "auth.json"


def read_auth_file(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ChatGPTAuthError(
            f"No ChatGPT sign-in at {path}: {RELOGIN_HINT}.", permanent=True
        ) from None
    except OSError as e:
        raise ChatGPTAuthError(f"Cannot read {path}: {e.strerror or e}.", permanent=True) from None
    try:
        data = json.loads(raw)
    except ValueError:
        raise ChatGPTAuthError(f"{path} is not valid JSON.", permanent=True) from None
    if not isinstance(data, dict):
        raise ChatGPTAuthError(f"{path} does not hold a JSON object.", permanent=True)
    return data


def write_auth_file(path: Path, data: Mapping[str, Any]) -> None:
    """Replace ``path`` atomically: a reader sees the old file or the new one, never a part.

    The temp file is created in the target's directory (a rename does not cross file systems)
    with mode 0600 from the start, so the tokens are never readable by others, not even briefly.
    A symlinked ``auth.json`` keeps its link: the file it points to is replaced.
    """
    target = Path(os.path.realpath(path))
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    body = json.dumps(data, indent=2).encode() + b"\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(target.parent)


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (POSIX); not possible everywhere, never fatal."""
    with contextlib.suppress(OSError, AttributeError):
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def now_iso() -> str:
    """``last_refresh`` as Codex writes it: RFC 3339, UTC, with a ``Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def auth_file_data(
    token_response: Mapping[str, Any], previous: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """``auth.json`` content after a token response (login or refresh): new tokens over the
    previous ones, the account id from the new id token when it names one, other keys kept."""
    data = dict(previous or {})
    data.setdefault("OPENAI_API_KEY", None)
    old = data.get("tokens")
    tokens: dict[str, Any] = dict(old) if isinstance(old, dict) else {}
    for key in ("id_token", "access_token", "refresh_token"):
        value = token_response.get(key)
        if isinstance(value, str) and value:
            tokens[key] = value
    account = account_id_of(tokens.get("id_token")) or account_id_of(tokens.get("access_token"))
    if account:
        tokens["account_id"] = account
    tokens.setdefault("account_id", None)
    data["tokens"] = tokens
    data["last_refresh"] = now_iso()
    return data


# -- JWTs --------------------------------------------------------------------------------------


def jwt_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, unverified. Raises ``ValueError`` when ``token`` is not one."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        raise ValueError("not a JWT: expected header.payload.signature")
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    if not isinstance(claims, dict):
        raise ValueError("the JWT payload is not a JSON object")
    return claims


def jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim (seconds since the epoch), or None if absent or not a JWT."""
    try:
        exp = jwt_claims(token).get("exp")
    except (ValueError, UnicodeError):
        return None
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        return None
    return float(exp)


def account_id_of(token: object) -> str | None:
    """``chatgpt_account_id`` from a token's ``https://api.openai.com/auth`` claim."""
    if not isinstance(token, str) or not token:
        return None
    try:
        auth = jwt_claims(token).get(AUTH_CLAIMS)
    except (ValueError, UnicodeError):
        return None
    account = auth.get("chatgpt_account_id") if isinstance(auth, dict) else None
    return account if isinstance(account, str) and account else None


# -- tokens ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChatGPTTokens:
    access_token: str
    account_id: str
    refresh_token: str | None
    expires_at: float | None  # the access token's exp; None when it does not say

    @classmethod
    def from_file(cls, data: Mapping[str, Any], path: Path) -> ChatGPTTokens:
        tokens = data.get("tokens")
        if not isinstance(tokens, dict):
            key = data.get("OPENAI_API_KEY")
            what = "an API key sign-in, not a ChatGPT one" if key else "no ChatGPT tokens"
            raise ChatGPTAuthError(f"{path} holds {what}: {RELOGIN_HINT}.", permanent=True)
        access = tokens.get("access_token")
        if not isinstance(access, str) or not access:
            raise ChatGPTAuthError(f"{path} has no access token: {RELOGIN_HINT}.", permanent=True)
        account = tokens.get("account_id")
        if not isinstance(account, str) or not account:
            account = account_id_of(tokens.get("id_token")) or account_id_of(access)
        if not account:
            raise ChatGPTAuthError(
                f"{path} names no ChatGPT account id (tokens.account_id): {RELOGIN_HINT}.",
                permanent=True,
            )
        refresh = tokens.get("refresh_token")
        return cls(
            access_token=access,
            account_id=account,
            refresh_token=refresh if isinstance(refresh, str) and refresh else None,
            expires_at=jwt_expiry(access),
        )


class TokenManager:
    """The current tokens of one ``auth.json``, refreshed when they are about to expire.

    One instance per file per gateway process (kept in ``CallContext.services``), so that the
    refreshes of all concurrent requests are one.
    """

    def __init__(
        self,
        path: Path,
        *,
        token_url: str = DEFAULT_TOKEN_URL,
        client_id: str = CODEX_CLIENT_ID,
        refresh_margin: float = DEFAULT_REFRESH_MARGIN,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.token_url = token_url
        self.client_id = client_id
        self.refresh_margin = refresh_margin
        self.timeout = timeout
        self._clock = clock
        self._data: dict[str, Any] | None = None
        self._tokens: ChatGPTTokens | None = None
        self._stamp: tuple[int, int] | None = None  # (mtime_ns, size) of what _data was read from
        self._inflight: asyncio.Task[ChatGPTTokens] | None = None
        self._refreshed_at: float | None = None  # clock time of our last refresh
        self._warned_at: float | None = None
        self.refreshes = 0  # completed refreshes, for logs and tests

    # -- reading -------------------------------------------------------------------------------

    def load(self, *, force: bool = False) -> ChatGPTTokens:
        """The tokens in the file, read again only when it changed on disk (one ``stat``)."""
        try:
            st = self.path.stat()
            stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = None  # read_auth_file reports what is wrong
        if not force and self._tokens is not None and stamp is not None and stamp == self._stamp:
            return self._tokens
        data = read_auth_file(self.path)
        tokens = ChatGPTTokens.from_file(data, self.path)
        self._data, self._tokens, self._stamp = data, tokens, stamp
        return tokens

    def due(self, tokens: ChatGPTTokens) -> bool:
        """Whether ``tokens`` expire within the refresh margin."""
        exp = tokens.expires_at
        return exp is not None and exp - self._clock() <= self.refresh_margin

    def expired(self, tokens: ChatGPTTokens) -> bool:
        exp = tokens.expires_at
        return exp is not None and exp <= self._clock()

    # -- handing out ---------------------------------------------------------------------------

    async def current(self, session: aiohttp.ClientSession) -> ChatGPTTokens:
        """Tokens to send now: refreshed first when they are due. A token that is due but not
        yet expired is still used if the refresh fails, with a warning."""
        tokens = self.load()
        if not self.due(tokens):
            return tokens
        if self._too_soon(tokens):
            return tokens
        try:
            return await self.refresh(session, tokens)
        except ChatGPTAuthError as e:
            if self.expired(tokens):
                raise
            log.warning("ChatGPT token refresh failed, using the current token: %s", e.message)
            return tokens

    async def refresh(self, session: aiohttp.ClientSession, stale: ChatGPTTokens) -> ChatGPTTokens:
        """New tokens in place of ``stale`` (after a 401, or when due). Concurrent callers share
        one refresh; a caller whose stale token was already replaced gets the new one at once."""
        if self._inflight is None:
            fresh = self._replaced(stale)
            if fresh is not None:
                return fresh
            task = asyncio.ensure_future(self._refresh(session))
            self._inflight = task
            task.add_done_callback(self._landed)
        # shield: a client that hangs up must not cancel the refresh the others wait for
        return await asyncio.shield(self._inflight)

    def _too_soon(self, tokens: ChatGPTTokens) -> bool:
        """A token that is due right after a refresh means the endpoint issues tokens shorter
        lived than the margin: refreshing on every request would only burn refresh tokens, so
        a still valid one is used until it expires (or is refused) instead."""
        last = self._refreshed_at
        if last is None or self._clock() - last >= MIN_REFRESH_INTERVAL or self.expired(tokens):
            return False
        if self._warned_at != last:  # once per refresh, not once per request
            self._warned_at = last
            log.warning(
                "the ChatGPT access token expires within refresh_margin_seconds (%g s) right "
                "after a refresh; it is used as it is: lower refresh_margin_seconds",
                self.refresh_margin,
            )
        return True

    def _landed(self, task: asyncio.Task[ChatGPTTokens]) -> None:
        if self._inflight is task:
            self._inflight = None
        if not task.cancelled():
            task.exception()  # retrieved: no "never retrieved" warning if every waiter left

    def _replaced(self, stale: ChatGPTTokens) -> ChatGPTTokens | None:
        """Tokens newer than ``stale`` (refreshed by us or another process) that are not due."""
        try:
            tokens = self.load()
        except ChatGPTAuthError:
            return None
        if tokens.access_token != stale.access_token and not self.due(tokens):
            return tokens
        return None

    async def _refresh(self, session: aiohttp.ClientSession) -> ChatGPTTokens:
        tokens = self.load(force=True)  # the refresh token may have been rotated meanwhile
        if tokens.refresh_token is None:
            raise ChatGPTAuthError(
                f"{self.path} has no refresh token: {RELOGIN_HINT}.", permanent=True
            )
        body = {
            "client_id": self.client_id,
            "grant_type": "refresh_token",
            "refresh_token": tokens.refresh_token,
        }
        answer = await post_token_request(
            session, self.token_url, json_body=body, timeout=self.timeout
        )
        data = auth_file_data(answer, self._data)
        try:
            write_auth_file(self.path, data)
        except OSError as e:
            # the old refresh token is spent: keep the new one in memory at least
            log.error("could not write refreshed ChatGPT tokens to %s: %s", self.path, e)
        fresh = ChatGPTTokens.from_file(data, self.path)
        self._data, self._tokens = data, fresh
        with contextlib.suppress(OSError):
            st = self.path.stat()
            self._stamp = (st.st_mtime_ns, st.st_size)
        self.refreshes += 1
        self._refreshed_at = self._clock()
        log.info("refreshed the ChatGPT access token (%s)", _expiry_text(fresh.expires_at))
        return fresh


def _expiry_text(exp: float | None) -> str:
    if exp is None:
        return "no expiry in the token"
    return "expires " + datetime.fromtimestamp(exp, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


# -- the token endpoint ------------------------------------------------------------------------


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
