"""A fake ChatGPT sign-in and Codex backend on loopback: OAuth issuer, token endpoint, backend.

Like ``fake_chat``, it runs an aiohttp app in its own thread with its own loop, so sync tests,
async tests, a gateway subprocess and a ``wirebridge login`` subprocess can all talk to it.

* ``GET /oauth/authorize`` — the issuer. Checks ``response_type=code``, the client id, an S256
  ``code_challenge`` and a loopback ``redirect_uri``, then answers 302 to
  ``redirect_uri?code=…&state=…`` at once (the user "signed in"), remembering the challenge.
* ``POST /oauth/token`` — form or JSON. ``grant_type=authorization_code`` checks the code, the
  client id, the redirect URI and the PKCE verifier; ``grant_type=refresh_token`` checks the
  refresh token, which is single-use (rotated on every refresh, a reuse is
  ``refresh_token_reused`` as at OpenAI). Both answer ``{id_token, access_token,
  refresh_token, expires_in}``. Refreshes are recorded in ``refresh_calls``.
* ``POST /backend-api/codex/responses`` — the Codex backend. ``Authorization: Bearer`` must be
  an access token this fake issued, not expired and not revoked, and ``chatgpt-account-id`` must
  name its account, else 401. The body must have ``stream: true`` and ``store: false`` and none
  of the parameters the real backend refuses (400 ``Unsupported parameter: …``). The answer is
  the next scripted :class:`CodexReply` as Responses SSE (no ``[DONE]``: Responses streams end
  with their terminal event).

Tokens are JWT-shaped (``alg: none``) with ``exp`` and the ``https://api.openai.com/auth`` claim
(``chatgpt_account_id``), so the gateway reads their expiry and account as it would OpenAI's.

Usage::

    fake = FakeChatGPT().start()
    fake.write_auth_file(tmp_path / "auth.json", ttl=3600)
    fake.script(CodexReply.text("Hello"))
    ... gateway with base_url=fake.backend_url, token_url=fake.token_url ...
    fake.backend_requests[0].body, fake.refresh_calls
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import copy
import hashlib
import itertools
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from aiohttp import web

from tests.support.loopback import LoopbackServer

__all__ = ["CODEX_CLIENT_ID", "CodexReply", "FakeChatGPT", "Recorded", "make_jwt"]

CODEX_CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"
ACCOUNT_ID = "acct-fake-0001"
REFUSED_PARAMS = (
    "temperature",
    "top_p",
    "max_output_tokens",
    "max_tokens",
    "metadata",
    "user",
    "service_tier",
    "top_logprobs",
    "truncation",
    "safety_identifier",
    "previous_response_id",
)
_ids = itertools.count(1)


def _b64(obj: Any) -> str:
    raw = json.dumps(obj, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def make_jwt(claims: dict[str, Any]) -> str:
    """An unsigned JWT (``alg: none``) with a dummy signature part, as the gateway only reads
    the payload."""
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.fakesig{next(_ids)}"


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


# -- replies -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CodexReply:
    """One scripted backend answer: text, function calls, or an HTTP error."""

    kind: str = "text"  # text | calls | error
    text: str = ""
    calls: tuple[tuple[str, str, str], ...] = ()  # (call_id, name, arguments)
    chunk_size: int | None = None
    status: int = 200
    body: Any = None
    reasoning: str | None = None  # a reasoning item (summary + encrypted_content) first
    incomplete: bool = False  # end with response.incomplete (max_output_tokens), not completed
    headers: tuple[tuple[str, str], ...] = ()  # of an error answer (e.g. Retry-After)

    @classmethod
    def message(
        cls, text: str, chunk_size: int | None = None, reasoning: str | None = None
    ) -> CodexReply:
        return cls(kind="text", text=text, chunk_size=chunk_size, reasoning=reasoning)

    @classmethod
    def tool_calls(cls, calls: list[tuple[str, str]]) -> CodexReply:
        return cls(
            kind="calls",
            calls=tuple((f"call_fake{next(_ids):05d}", name, args) for name, args in calls),
        )

    @classmethod
    def error(cls, status: int, message: str = "fake backend error") -> CodexReply:
        return cls(kind="error", status=status, body={"error": {"message": message}})


def _pieces(text: str, size: int | None) -> list[str]:
    if not text:
        return []
    if not size:
        return [text]
    return [text[i : i + size] for i in range(0, len(text), size)]


def _usage() -> dict[str, Any]:
    return {
        "input_tokens": 21,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 9,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 30,
    }


def _sse_events(reply: CodexReply, model: str) -> list[dict[str, Any]]:
    """The Responses stream events of ``reply``, numbered, terminal event last."""
    resp_id = f"resp_fake{next(_ids):05d}"
    base = {
        "id": resp_id,
        "object": "response",
        "created_at": int(time.time()),
        "model": model,
        "status": "in_progress",
        "output": [],
        "usage": None,
        "store": False,
    }
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": dict(base)},
        {"type": "response.in_progress", "response": dict(base)},
    ]
    output: list[dict[str, Any]] = []
    if reply.reasoning is not None:
        output.append(_reasoning_events(reply.reasoning, events))
    if reply.kind == "text":
        output.append(_message_events(reply, events, len(output)))
    for call_id, name, args in reply.calls:
        idx = len(output)
        item_id = f"fc_fake{next(_ids):05d}"
        item = {"id": item_id, "type": "function_call", "status": "in_progress", "name": name}
        item.update({"call_id": call_id, "arguments": ""})
        events.append({"type": "response.output_item.added", "output_index": idx, "item": item})
        for piece in _pieces(args, reply.chunk_size):
            events.append(
                {
                    "type": "response.function_call_arguments.delta",
                    "item_id": item_id,
                    "output_index": idx,
                    "delta": piece,
                }
            )
        events.append(
            {
                "type": "response.function_call_arguments.done",
                "item_id": item_id,
                "output_index": idx,
                "arguments": args,
            }
        )
        done = {**item, "status": "completed", "arguments": args}
        events.append({"type": "response.output_item.done", "output_index": idx, "item": done})
        output.append(done)
    if reply.incomplete:
        final = {
            **base,
            "status": "incomplete",
            "output": output,
            "usage": _usage(),
            "incomplete_details": {"reason": "max_output_tokens"},
        }
        events.append({"type": "response.incomplete", "response": final})
    else:
        final = {**base, "status": "completed", "output": output, "usage": _usage()}
        events.append({"type": "response.completed", "response": final})
    for n, ev in enumerate(events):
        ev["sequence_number"] = n
    return events


def _reasoning_events(summary: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    """A reasoning item at output index 0 whose ``encrypted_content`` is ``enc_<item id>``."""
    item_id = f"rs_fake{next(_ids):05d}"
    at = {"item_id": item_id, "output_index": 0, "summary_index": 0}
    added = {"id": item_id, "type": "reasoning", "summary": []}
    events.append({"type": "response.output_item.added", "output_index": 0, "item": added})
    part = {"type": "summary_text", "text": summary}
    events += [
        {"type": "response.reasoning_summary_part.added", **at, "part": {**part, "text": ""}},
        {"type": "response.reasoning_summary_text.delta", **at, "delta": summary},
        {"type": "response.reasoning_summary_text.done", **at, "text": summary},
        {"type": "response.reasoning_summary_part.done", **at, "part": part},
    ]
    item = {**added, "summary": [part], "encrypted_content": f"enc_{item_id}"}
    events.append({"type": "response.output_item.done", "output_index": 0, "item": item})
    return item


def _message_events(
    reply: CodexReply, events: list[dict[str, Any]], index: int = 0
) -> dict[str, Any]:
    item_id = f"msg_fake{next(_ids):05d}"
    at = {"item_id": item_id, "output_index": index}
    added = {"id": item_id, "type": "message", "status": "in_progress", "role": "assistant"}
    events.append(
        {
            "type": "response.output_item.added",
            "output_index": index,
            "item": {**added, "content": []},
        }
    )
    empty = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
    events.append({"type": "response.content_part.added", **at, "content_index": 0, "part": empty})
    for piece in _pieces(reply.text, reply.chunk_size):
        events.append(
            {
                "type": "response.output_text.delta",
                **at,
                "content_index": 0,
                "delta": piece,
                "logprobs": [],
            }
        )
    events.append(
        {
            "type": "response.output_text.done",
            **at,
            "content_index": 0,
            "text": reply.text,
            "logprobs": [],
        }
    )
    part = {**empty, "text": reply.text}
    events.append({"type": "response.content_part.done", **at, "content_index": 0, "part": part})
    item = {**added, "status": "completed", "content": [part]}
    events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    return item


# -- the server --------------------------------------------------------------------------------


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]  # lower-cased names
    body: Any
    status: int = 0  # what the fake answered


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    account_id: str


@dataclass
class _Issued:
    account_id: str
    exp: float
    revoked: bool = False


@dataclass
class FakeChatGPT(LoopbackServer):
    host: str = "127.0.0.1"
    client_id: str = CODEX_CLIENT_ID
    account_id: str = ACCOUNT_ID
    token_ttl: float = 3600.0  # lifetime of access tokens the token endpoint issues
    refresh_delay: float = 0.0  # seconds the token endpoint takes to answer a refresh
    refuse_all_tokens: bool = False  # the backend answers 401 whatever the token
    port: int | None = None
    backend_requests: list[Recorded] = field(default_factory=list)
    refresh_calls: list[Recorded] = field(default_factory=list)
    code_exchanges: list[Recorded] = field(default_factory=list)
    authorize_requests: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._script: collections.deque[CodexReply] = collections.deque()
        self._access: dict[str, _Issued] = {}
        self._refresh: dict[str, str] = {}  # live refresh token -> account id
        self._spent: set[str] = set()
        self._grants: dict[str, _Grant] = {}
        self._refresh_failure: tuple[int, dict[str, Any]] | None = None

    # -- addresses -----------------------------------------------------------------------------

    @property
    def origin(self) -> str:
        assert self.port is not None, "FakeChatGPT not started"
        return f"http://{self.host}:{self.port}"

    @property
    def issuer(self) -> str:
        return self.origin

    @property
    def token_url(self) -> str:
        return self.origin + "/oauth/token"

    @property
    def backend_url(self) -> str:
        return self.origin + "/backend-api/codex"

    # -- lifecycle -----------------------------------------------------------------------------

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_get("/oauth/authorize", self._authorize)
        router.add_post("/oauth/token", self._token)
        router.add_post("/backend-api/codex/responses", self._responses)

    # -- test controls -------------------------------------------------------------------------

    def script(self, *replies: CodexReply) -> FakeChatGPT:
        with self._lock:
            self._script.extend(replies)
        return self

    def issue_tokens(
        self, ttl: float | None = None, account_id: str | None = None
    ) -> dict[str, Any]:
        """A fresh token set, as the token endpoint would answer it."""
        account = account_id or self.account_id
        lifetime = self.token_ttl if ttl is None else ttl
        now = time.time()
        auth = {"chatgpt_account_id": account, "chatgpt_plan_type": "plus"}
        auth["chatgpt_user_id"] = "user-fake"
        access = make_jwt(
            {
                "exp": int(now + lifetime),
                "iat": int(now),
                "scp": ["openid", "profile", "email", "offline_access"],
                "https://api.openai.com/auth": auth,
                "jti": secrets.token_hex(8),
            }
        )
        id_token = make_jwt(
            {
                "exp": int(now + 3600),
                "email": "user@example.com",
                "https://api.openai.com/auth": auth,
            }
        )
        refresh = f"rt_fake_{secrets.token_hex(12)}"
        with self._lock:
            self._access[access] = _Issued(account, now + lifetime)
            self._refresh[refresh] = account
        return {
            "id_token": id_token,
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": int(lifetime),
            "token_type": "Bearer",
        }

    def write_auth_file(
        self, path: Path, ttl: float | None = None, account_id: str | None = None
    ) -> dict[str, Any]:
        """Write Codex's ``auth.json`` with freshly issued tokens; returns the tokens."""
        tokens = self.issue_tokens(ttl, account_id)
        data = {
            "OPENAI_API_KEY": None,
            "tokens": {
                "id_token": tokens["id_token"],
                "access_token": tokens["access_token"],
                "refresh_token": tokens["refresh_token"],
                "account_id": account_id or self.account_id,
            },
            "last_refresh": "2026-01-01T00:00:00.000000Z",
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2))
        path.chmod(0o600)
        return tokens

    def revoke(self, access_token: str) -> None:
        """The backend answers 401 to this token from now on (as after a server-side logout)."""
        with self._lock:
            issued = self._access.get(access_token)
            if issued is not None:
                issued.revoked = True

    def fail_refresh(self, status: int, code: str, message: str = "refresh refused") -> None:
        """The next refreshes answer ``status`` with ``{"error": {"code", "message"}}``."""
        with self._lock:
            self._refresh_failure = (status, {"error": {"code": code, "message": message}})

    def reset(self) -> None:
        """Forget scripts, records and test switches (issued tokens stay valid)."""
        with self._lock:
            self._script.clear()
            self._refresh_failure = None
            for records in (self.backend_requests, self.refresh_calls, self.code_exchanges):
                records.clear()
            self.authorize_requests.clear()
        self.refresh_delay = 0.0
        self.refuse_all_tokens = False
        self.token_ttl = 3600.0

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._script)

    # -- issuer --------------------------------------------------------------------------------

    async def _authorize(self, request: web.Request) -> web.Response:
        q = dict(request.query)
        with self._lock:
            self.authorize_requests.append(q)
        problems = []
        if q.get("response_type") != "code":
            problems.append("response_type must be code")
        if q.get("client_id") != self.client_id:
            problems.append("unknown client_id")
        if q.get("code_challenge_method") != "S256" or len(q.get("code_challenge", "")) != 43:
            problems.append("an S256 code_challenge is required")
        redirect = q.get("redirect_uri", "")
        if urlsplit(redirect).hostname not in ("localhost", "127.0.0.1"):
            problems.append("redirect_uri must be a loopback URL")
        if not q.get("state"):
            problems.append("state is required")
        if problems:
            return web.json_response({"error": "invalid_request", "problems": problems}, status=400)
        code = f"ac_fake_{secrets.token_hex(10)}"
        with self._lock:
            self._grants[code] = _Grant(
                self.client_id, redirect, q["code_challenge"], self.account_id
            )
        location = redirect + "?" + urlencode({"code": code, "state": q["state"]})
        raise web.HTTPFound(location)

    async def _token(self, request: web.Request) -> web.Response:
        raw = await request.read()
        ctype = request.headers.get("Content-Type", "")
        if ctype.startswith("application/json"):
            try:
                form = json.loads(raw)
            except ValueError:
                form = None
        else:
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        rec = Recorded(request.path, _lower(request.headers), form)
        if not isinstance(form, dict):
            return _oauth_error(rec, 400, "invalid_request", "body is not a form or JSON object")
        if form.get("client_id") != self.client_id:
            return _oauth_error(rec, 401, "invalid_client", "unknown client_id")
        grant = form.get("grant_type")
        if grant == "authorization_code":
            with self._lock:
                self.code_exchanges.append(rec)
            return self._exchange(rec, form)
        if grant == "refresh_token":
            with self._lock:
                self.refresh_calls.append(rec)
            if self.refresh_delay:
                await asyncio.sleep(self.refresh_delay)
            return self._refreshed(rec, form)
        return _oauth_error(rec, 400, "unsupported_grant_type", f"grant_type {grant!r}")

    def _exchange(self, rec: Recorded, form: dict[str, Any]) -> web.Response:
        with self._lock:
            grant = self._grants.pop(str(form.get("code")), None)
        if grant is None:
            return _oauth_error(rec, 400, "invalid_grant", "unknown or used code")
        if form.get("redirect_uri") != grant.redirect_uri:
            return _oauth_error(rec, 400, "invalid_grant", "redirect_uri does not match")
        if _challenge(str(form.get("code_verifier", ""))) != grant.challenge:
            return _oauth_error(rec, 400, "invalid_grant", "PKCE verification failed")
        rec.status = 200
        return web.json_response(self.issue_tokens(account_id=grant.account_id))

    def _refreshed(self, rec: Recorded, form: dict[str, Any]) -> web.Response:
        token = str(form.get("refresh_token", ""))
        with self._lock:
            failure = self._refresh_failure
            account = self._refresh.pop(token, None)
            reused = account is None and token in self._spent
            self._spent.add(token)
        if failure is not None:
            rec.status = failure[0]
            return web.json_response(failure[1], status=failure[0])
        if reused:
            return _nested_error(rec, 401, "refresh_token_reused", "refresh token already used")
        if account is None:
            return _nested_error(rec, 401, "refresh_token_invalidated", "unknown refresh token")
        rec.status = 200
        return web.json_response(self.issue_tokens(account_id=account))

    # -- backend -------------------------------------------------------------------------------

    async def _responses(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        rec = Recorded(request.path, _lower(request.headers), copy.deepcopy(body))
        with self._lock:
            self.backend_requests.append(rec)
        problem = self._auth_problem(rec.headers)
        if problem is not None:
            rec.status = 401
            return web.json_response({"detail": problem}, status=401)
        if not isinstance(body, dict):
            return _backend_error(rec, 400, "body is not a JSON object")
        if body.get("stream") is not True:
            return _backend_error(rec, 400, "Stream must be set to true")
        if body.get("store") is not False:
            return _backend_error(rec, 400, "Store must be set to false")
        for name in REFUSED_PARAMS:
            if name in body:
                return _backend_error(rec, 400, f"Unsupported parameter: {name}")
        with self._lock:
            reply = self._script.popleft() if self._script else None
        if reply is None:
            return _backend_error(rec, 500, "fake_chatgpt: no scripted reply")
        if reply.kind == "error":
            rec.status = reply.status
            return web.json_response(reply.body, status=reply.status, headers=dict(reply.headers))
        rec.status = 200
        return await self._stream(request, _sse_events(reply, str(body.get("model"))))

    def _auth_problem(self, headers: dict[str, str]) -> str | None:
        auth = headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            return "missing bearer token"
        with self._lock:
            issued = self._access.get(auth[7:])
        if issued is None:
            return "unknown access token"
        if issued.revoked or self.refuse_all_tokens:
            return "revoked access token"
        if issued.exp <= time.time():
            return "expired access token"
        if headers.get("chatgpt-account-id") != issued.account_id:
            return "chatgpt-account-id does not match the token"
        return None

    async def _stream(
        self, request: web.Request, events: list[dict[str, Any]]
    ) -> web.StreamResponse:
        resp = web.StreamResponse(
            status=200, headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await resp.prepare(request)
        with contextlib.suppress(ConnectionResetError):
            for ev in events:
                frame = f"event: {ev['type']}\ndata: {json.dumps(ev, separators=(',', ':'))}\n\n"
                await resp.write(frame.encode())
            await resp.write_eof()
        return resp


def _lower(headers: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _oauth_error(rec: Recorded, status: int, error: str, description: str) -> web.Response:
    rec.status = status
    return web.json_response({"error": error, "error_description": description}, status=status)


def _nested_error(rec: Recorded, status: int, code: str, message: str) -> web.Response:
    rec.status = status
    body = {"error": {"code": code, "message": message, "type": "invalid_request_error"}}
    return web.json_response(body, status=status)


def _backend_error(rec: Recorded, status: int, message: str) -> web.Response:
    rec.status = status
    return web.json_response({"detail": message}, status=status)
