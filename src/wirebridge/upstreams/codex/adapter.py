"""The ChatGPT / Codex backend: a Responses upstream reached with a ChatGPT sign-in.

What differs from ``upstreams/responses`` (whose encoder and stream decoder do the protocol):

* authentication: ``Authorization: Bearer <access token>`` and ``chatgpt-account-id`` from
  Codex's ``auth.json`` through the shared ``TokenManager`` (refreshed before it expires); a 401
  refreshes the token once and sends the request again;
* the headers Codex sends: ``OpenAI-Beta: responses=experimental``, ``originator:
  codex_cli_rs``, ``session_id`` (the client's ``prompt_cache_key`` when it has one);
* the backend only streams and keeps nothing: ``stream: true`` and ``store: false`` always, no
  ``previous_response_id`` (the gateway has expanded the conversation); a client that wants
  JSON gets the stream accumulated by the pipeline;
* parameters the backend refuses (``REFUSED_PARAMS``) are dropped with a debug log
  (``params: propagate``) or answered with a 400 naming them (``params: block``);
* instructions are injected as the provider's ``chatgpt:`` section says (see the package doc).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable
from typing import TYPE_CHECKING, Any

from wirebridge.auth.chatgpt import RELOGIN_HINT, ChatGPTAuthError, ChatGPTTokens, TokenManager
from wirebridge.errors import Untranslatable, UpstreamError, UpstreamUnavailable
from wirebridge.hub.request import HubRequest
from wirebridge.transport.client import Response
from wirebridge.transport.http import post_json
from wirebridge.transport.pump import pump
from wirebridge.upstreams.codex import API, DEFAULT_SETTINGS, ChatGPTSettings
from wirebridge.upstreams.responses.adapter import family_of
from wirebridge.upstreams.responses.request import encode_request
from wirebridge.upstreams.responses.stream import ResponsesStreamDecoder

if TYPE_CHECKING:
    from wirebridge.engine.routing import Route
    from wirebridge.upstreams.registry import CallContext

log = logging.getLogger("wirebridge")
Event = dict[str, Any]
Body = dict[str, Any]

# Request fields the ChatGPT backend answers with "Unsupported parameter". (service_tier is not
# one: Codex itself sends "priority" there in fast mode.)
REFUSED_PARAMS = (
    *("temperature", "top_p", "max_output_tokens", "max_tokens", "metadata", "user"),
    *("safety_identifier", "top_logprobs", "truncation", "max_tool_calls"),
    *("presence_penalty", "frequency_penalty", "seed", "stop"),
)
TOKENS_SERVICE = "chatgpt.tokens"
MAX_REFRESH_WAIT = 30.0  # seconds a token refresh may take


class ChatGPTCall:
    """One request to the ChatGPT backend; ``open`` / ``batches`` / ``close`` as every
    upstream call (``upstreams/base.py``)."""

    def __init__(self, req: HubRequest, route: Route, ctx: CallContext) -> None:
        self._req, self._route, self._ctx = req, route, ctx
        found = route.provider.sections.get(API)
        self.settings = found if isinstance(found, ChatGPTSettings) else DEFAULT_SETTINGS
        self.family = family_of(route.provider)
        self._decoder = ResponsesStreamDecoder(ctx.seal, self.family)
        self._resp: Response | None = None

    @classmethod
    def create(cls, req: HubRequest, route: Route, stream: bool, ctx: CallContext) -> ChatGPTCall:
        # ``stream`` is the client's wish; the backend streams in any case and the pipeline
        # accumulates the stream for a client that asked for JSON.
        return cls(req, route, ctx)

    async def open(self) -> None:
        body = build_body(self._req, self._route.upstream_model, self.settings, self.family)
        tokens_of = token_manager(self._ctx.services, self.settings, self._ctx.timeout)
        session = self._ctx.session
        tokens = await _authorized(tokens_of.current(session))
        try:
            self._resp = await self._post(body, tokens)
        except UpstreamError as e:
            if e.upstream_status != 401:
                raise
            log.info("the ChatGPT backend refused the access token (401): refreshing it once")
            tokens = await _authorized(tokens_of.refresh(session, tokens))
            try:
                self._resp = await self._post(body, tokens)
            except UpstreamError as again:
                if again.upstream_status != 401:
                    raise
                raise UpstreamError.from_status(
                    401,
                    f"{again.message} (even with a freshly refreshed token: {RELOGIN_HINT})",
                    code=again.code,
                ) from None

    async def _post(self, body: Body, tokens: ChatGPTTokens) -> Response:
        provider = self._route.provider
        headers = {
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
            "OpenAI-Beta": "responses=experimental",
            "originator": "codex_cli_rs",
            "session_id": session_id(self._req),
            **provider.headers,
            "Authorization": f"Bearer {tokens.access_token}",
            "chatgpt-account-id": tokens.account_id,
        }
        return await post_json(
            self._ctx.client,
            provider.base_url + "/responses",
            body,
            headers,
            timeout=self._ctx.timeout,
            stream=True,
            connect_timeout=provider.connect_timeout,
            proxy=provider.proxy,
        )

    async def batches(self) -> AsyncIterator[list[Event]]:
        resp, decoder = self._resp, self._decoder
        assert resp is not None, "open() first"
        try:
            if resp.content_type == "text/event-stream":
                async for batch in pump(resp, decoder):
                    yield batch
            else:
                decoder.fail(
                    "upstream_error",
                    f"The ChatGPT backend answered {resp.content_type or 'without a type'}, "
                    "not an event stream.",
                )
            tail = decoder.finish()
            if tail:
                yield tail
        finally:
            resp.close()

    def close(self) -> None:
        if self._resp is not None:
            self._resp.close()


# -- the request -------------------------------------------------------------------------------


def build_body(
    req: HubRequest, upstream_model: str, settings: ChatGPTSettings, family: str
) -> Body:
    """The Responses body for the backend: the shared encoder's, streamed and stateless, with
    refused parameters handled and instructions injected. Raises ``Untranslatable`` (400) for
    refused parameters under ``params: block``."""
    body = encode_request(req, upstream_model, True, family=family)
    body["stream"] = True
    body["store"] = False
    body.pop("previous_response_id", None)
    refused = [name for name in REFUSED_PARAMS if name in body]
    if refused:
        names = ", ".join(refused)
        if settings.params == "block":
            raise Untranslatable(
                f"The ChatGPT backend does not accept {names}; remove "
                f"{'it' if len(refused) == 1 else 'them'} from the request.",
                param=refused[0],
            )
        for name in refused:
            del body[name]
        log.debug("not sent to the ChatGPT backend, which refuses them: %s", names)
    inject_instructions(body, settings)
    return body


def inject_instructions(body: Body, settings: ChatGPTSettings) -> None:
    """``override``: the configured text, the client's instructions moved to a leading developer
    message; ``append``: the configured text, then the client's; ``disabled``: untouched."""
    text, mode = settings.instructions, settings.instructions_mode
    if mode == "disabled" or not text:
        return
    given = body.get("instructions")
    client = given if isinstance(given, str) and given.strip() else None
    if mode == "override":
        body["instructions"] = text
        if client is not None:
            note = {"type": "input_text", "text": client}
            first = {"type": "message", "role": "developer", "content": [note]}
            body["input"] = [first, *body.get("input", ())]
    else:
        body["instructions"] = text if client is None else f"{text}\n\n{client}"


def session_id(req: HubRequest) -> str:
    """Codex sends its conversation id; the client's ``prompt_cache_key`` (Codex sets it to
    that id) or ``client_metadata.session_id``, else a fresh id."""
    if req.prompt_cache_key:
        return req.prompt_cache_key
    meta = req.extra.get("client_metadata")
    sid = meta.get("session_id") if isinstance(meta, dict) else None
    return sid if isinstance(sid, str) and sid else str(uuid.uuid4())


# -- tokens ------------------------------------------------------------------------------------


def token_manager(
    services: dict[str, Any], settings: ChatGPTSettings, timeout: float
) -> TokenManager:
    """The process-wide manager of ``settings``' auth file, made on first use: every request
    (and every provider using the same file and endpoint) shares its refreshes."""
    path = settings.auth_path
    key = f"{TOKENS_SERVICE}|{path}|{settings.token_endpoint}|{settings.client_id}"
    manager = services.get(key)
    if not isinstance(manager, TokenManager):
        manager = services[key] = TokenManager(
            path,
            token_url=settings.token_endpoint,
            client_id=settings.client_id,
            refresh_margin=settings.refresh_margin_seconds,
            timeout=min(timeout, MAX_REFRESH_WAIT),
        )
    return manager


async def _authorized(pending: Awaitable[ChatGPTTokens]) -> ChatGPTTokens:
    """Tokens, or the gateway error that says why there are none: a sign-in that only a new
    login fixes is not retried; a token endpoint that failed may be."""
    try:
        return await pending
    except ChatGPTAuthError as e:
        if e.permanent:
            raise UpstreamError(e.message, code="chatgpt_login_required") from None
        raise UpstreamUnavailable(e.message, code="chatgpt_token_refresh_failed") from None
