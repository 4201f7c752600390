"""The ChatGPT sign-in Codex keeps in ``auth.json``, and the token manager that keeps it fresh.

``TokenManager`` hands out the current access token and account id of one Codex ``auth.json``
(its format: ``authfile.py``). The token's expiry is the ``exp`` claim of the access token
(``jwt.py``; its signature is not checked: the backend does that). Within ``refresh_margin``
seconds of expiry, or when the backend answered 401, the token is refreshed at the OAuth token
endpoint (``tokens.py``; ``grant_type=refresh_token``, as Codex does it). Refreshes are
single-flight: concurrent requests share one refresh, because a refresh token can be used only
once. Before refreshing, the file is read again, so a refresh another process (Codex, a second
gateway) already made is picked up instead of spending the used refresh token. The refreshed
tokens are written back atomically with 0600 permissions.

This module is also where other packages import the ChatGPT sign-in from (the constants of
Codex's OAuth client, ``ChatGPTAuthError``, ``default_auth_file``, ``read_auth_file``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from wirebridge.auth.authfile import (
    RELOGIN_HINT,
    ChatGPTAuthError,
    auth_file_data,
    read_auth_file,
    write_auth_file,
)
from wirebridge.auth.authfile import default_auth_file as default_auth_file  # for other packages
from wirebridge.auth.jwt import account_id_of, jwt_expiry
from wirebridge.auth.tokens import post_token_request

log = logging.getLogger("wirebridge.auth")

DEFAULT_ISSUER = "https://auth.openai.com"
DEFAULT_TOKEN_URL = DEFAULT_ISSUER + "/oauth/token"
CODEX_CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"  # Codex CLI's public OAuth client
DEFAULT_REFRESH_MARGIN = 300.0  # seconds before expiry at which a token is refreshed
MIN_REFRESH_INTERVAL = 60.0  # seconds between refreshes made only because a token is due


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
