"""Sign in with ChatGPT: the OAuth 2.0 authorization-code flow with PKCE (RFC 7636), as Codex
runs it.

1. A code verifier (random, base64url) and its S256 challenge, and a random ``state``.
2. A local callback server on ``127.0.0.1:<port>`` (Codex's registered port is 1455); the
   redirect URI is ``http://localhost:<port>/auth/callback``.
3. The authorize URL (``<issuer>/oauth/authorize?response_type=code&client_id=…
   &code_challenge=…&code_challenge_method=S256&state=…``), opened in a browser or printed.
4. The issuer redirects the browser to the callback with ``?code=…&state=…``; a wrong ``state``
   is refused (and the server keeps waiting), an ``error=…`` ends the sign-in.
5. The code is exchanged at ``<issuer>/oauth/token`` (form-encoded ``grant_type=
   authorization_code`` with the verifier) for an id token, an access token and a refresh token,
   which are written to ``auth.json`` in Codex's format (``auth.authfile.write_auth_file``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import secrets
import socket
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
from aiohttp import web

from wirebridge.auth.authfile import ChatGPTAuthError, auth_file_data, write_auth_file
from wirebridge.auth.chatgpt import CODEX_CLIENT_ID, DEFAULT_ISSUER, ChatGPTTokens
from wirebridge.auth.tokens import post_token_request

DEFAULT_PORT = 1455  # the port Codex's OAuth client has registered for its redirect URI
CALLBACK_PATH = "/auth/callback"
DEFAULT_SCOPE = "openid profile email offline_access"
DEFAULT_TIMEOUT = 600.0  # seconds to wait for the browser


@dataclass(frozen=True, slots=True)
class PKCE:
    verifier: str
    challenge: str


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def code_challenge(verifier: str) -> str:
    """The S256 challenge: base64url(SHA-256(verifier)) without padding."""
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def generate_pkce() -> PKCE:
    """A fresh verifier of 86 characters (64 random bytes; RFC 7636 allows 43 to 128)."""
    verifier = _b64url(secrets.token_bytes(64))
    return PKCE(verifier, code_challenge(verifier))


def generate_state() -> str:
    return _b64url(secrets.token_bytes(32))


def issuer_urls(issuer: str) -> tuple[str, str]:
    """``(authorize URL, token URL)`` of an issuer, as Codex derives them."""
    base = issuer.rstrip("/")
    return base + "/oauth/authorize", base + "/oauth/token"


def authorize_url(
    endpoint: str,
    *,
    client_id: str,
    redirect_uri: str,
    challenge: str,
    state: str,
    scope: str = DEFAULT_SCOPE,
    extra: Mapping[str, str] | None = None,
) -> str:
    """The URL the user opens; the parameters Codex sends, ``extra`` added last."""
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "id_token_add_organizations": "true",
        "codex_cli_simplified_flow": "true",
        "state": state,
        "originator": "codex_cli_rs",
        **(extra or {}),
    }
    sep = "&" if "?" in endpoint else "?"
    return endpoint + sep + urlencode(params, quote_via=quote)


async def exchange_code(
    session: aiohttp.ClientSession,
    token_url: str,
    *,
    client_id: str,
    redirect_uri: str,
    verifier: str,
    code: str,
) -> dict[str, Any]:
    """The authorization code → ``{id_token, access_token, refresh_token, ...}``."""
    answer = await post_token_request(
        session,
        token_url,
        form={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": client_id,
            "code_verifier": verifier,
        },
    )
    missing = [k for k in ("id_token", "access_token", "refresh_token") if not answer.get(k)]
    if missing:
        raise ChatGPTAuthError(f"The token endpoint's answer lacks {', '.join(missing)}.")
    return answer


# -- the flow ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoginSettings:
    auth_file: Path
    issuer: str = DEFAULT_ISSUER
    authorize_endpoint: str | None = None  # default: <issuer>/oauth/authorize
    token_url: str | None = None  # default: <issuer>/oauth/token
    client_id: str = CODEX_CLIENT_ID
    port: int = DEFAULT_PORT  # 0: any free port
    timeout: float = DEFAULT_TIMEOUT

    def endpoints(self) -> tuple[str, str]:
        authorize, token = issuer_urls(self.issuer)
        return self.authorize_endpoint or authorize, self.token_url or token


_PAGE = (
    "<!doctype html><html><head><meta charset='utf-8'><title>wirebridge</title></head>"
    "<body style='font-family:sans-serif;margin:3em'><h2>{title}</h2><p>{text}</p></body></html>"
)


def _page(status: int, title: str, text: str) -> web.Response:
    body = _PAGE.format(title=html.escape(title), text=html.escape(text))
    return web.Response(status=status, text=body, content_type="text/html")


def _listen(port: int) -> socket.socket:
    """A socket bound to 127.0.0.1:``port`` only (never another interface)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if sys.platform != "win32":  # a previous sign-in's closed connections must not block
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
    except OSError:
        sock.close()
        raise
    return sock


class LoginFlow:
    """One sign-in: ``start()`` binds the callback server and returns the authorize URL;
    ``wait()`` returns the written ``auth.json`` content once the callback has been handled."""

    def __init__(self, settings: LoginSettings, session: aiohttp.ClientSession) -> None:
        self.settings = settings
        self._session = session
        self.pkce = generate_pkce()
        self.state = generate_state()
        self.redirect_uri = ""
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._done: asyncio.Future[dict[str, Any]] | None = None

    async def start(self) -> str:
        self._done = asyncio.get_running_loop().create_future()
        app = web.Application()
        app.router.add_get(CALLBACK_PATH, self._callback)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        try:
            sock = _listen(self.settings.port)
        except OSError as e:
            await self.close()
            raise ChatGPTAuthError(
                f"Cannot listen on 127.0.0.1:{self.settings.port} for the sign-in callback: "
                f"{e.strerror or e}"
            ) from None
        await web.SockSite(self._runner, sock).start()
        self.port = sock.getsockname()[1]
        self.redirect_uri = f"http://localhost:{self.port}{CALLBACK_PATH}"
        authorize, _ = self.settings.endpoints()
        return authorize_url(
            authorize,
            client_id=self.settings.client_id,
            redirect_uri=self.redirect_uri,
            challenge=self.pkce.challenge,
            state=self.state,
        )

    async def wait(self) -> dict[str, Any]:
        assert self._done is not None, "start() first"
        try:
            return await asyncio.wait_for(asyncio.shield(self._done), self.settings.timeout)
        except TimeoutError:
            raise ChatGPTAuthError(
                f"No sign-in arrived within {self.settings.timeout:g} s."
            ) from None

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _callback(self, request: web.Request) -> web.Response:
        done = self._done
        if done is None or done.done():
            return _page(409, "Already finished", "This sign-in is over; close this tab.")
        query = request.query
        if query.get("state") != self.state:
            # not ours (a stale tab, another program): refuse it and keep waiting
            return _page(400, "Sign-in refused", "The state parameter does not match.")
        if query.get("error"):
            why = query.get("error_description") or query["error"]
            done.set_exception(ChatGPTAuthError(f"The sign-in was refused: {why}"))
            return _page(400, "Sign-in failed", why)
        code = query.get("code")
        if not code:
            done.set_exception(ChatGPTAuthError("The callback carried no authorization code."))
            return _page(400, "Sign-in failed", "No authorization code.")
        try:
            data = await self._finish(code)
        except (ChatGPTAuthError, OSError) as e:
            done.set_exception(e if isinstance(e, ChatGPTAuthError) else ChatGPTAuthError(str(e)))
            return _page(500, "Sign-in failed", str(e))
        done.set_result(data)
        return _page(200, "Signed in", "wirebridge has your ChatGPT sign-in; close this tab.")

    async def _finish(self, code: str) -> dict[str, Any]:
        _, token_url = self.settings.endpoints()
        answer = await exchange_code(
            self._session,
            token_url,
            client_id=self.settings.client_id,
            redirect_uri=self.redirect_uri,
            verifier=self.pkce.verifier,
            code=code,
        )
        data = auth_file_data(answer)
        ChatGPTTokens.from_file(data, self.settings.auth_file)  # usable, account id included
        write_auth_file(self.settings.auth_file, data)
        return data


async def login(
    settings: LoginSettings,
    show_url: Callable[[str, LoginFlow], None],
    session: aiohttp.ClientSession | None = None,
) -> dict[str, Any]:
    """Run the whole flow: ``show_url(url, flow)`` is called once the callback server listens
    (print the URL, open a browser); returns what was written to ``settings.auth_file``."""
    own = session is None
    http = session or aiohttp.ClientSession()
    flow = LoginFlow(settings, http)
    try:
        url = await flow.start()
        show_url(url, flow)
        return await flow.wait()
    finally:
        await flow.close()
        if own:
            await http.close()
