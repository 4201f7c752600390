"""A scripted fake OpenAI-compatible Chat Completions provider on loopback.

The server runs an aiohttp app in its own thread with its own event loop, so sync tests, async
tests and a gateway subprocess can all talk to it. It speaks the real wire format (OpenAI's
``chat.completion`` / ``chat.completion.chunk`` objects, DeepSeek's ``reasoning_content``):

* ``POST /v1/chat/completions`` — answers with the next scripted :class:`Reply`. Whether it
  streams follows the request's ``stream`` field, so one script serves JSON and SSE clients. The
  usage chunk (``choices: []``) is sent only when the request asked for
  ``stream_options.include_usage``.
* ``GET /v1/models`` — an OpenAI list of :attr:`FakeChat.models`.

Nothing scripted → 500 in the OpenAI error envelope saying "no scripted reply", so a test that
forgot to script (or a gateway that retried unexpectedly) fails loudly.

Usage::

    fake = FakeChat().start()
    fake.script(Reply.text("Hello"), Reply.tool_calls([("get_weather", '{"city":"Paris"}')]))
    ... drive a client at fake.base_url ...
    fake.requests[0].body["messages"]
    fake.close()
"""

from __future__ import annotations

import asyncio
import collections
import copy
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from aiohttp import web

from tests.support.loopback import LoopbackServer

__all__ = ["FakeChat", "RecordedRequest", "Reply", "chat_usage"]

_DEFAULT = object()
_counter = itertools.count(1)


def chat_usage(
    prompt: int = 12, completion: int = 7, *, cached: int = 0, reasoning: int = 0
) -> dict[str, Any]:
    """A Chat Completions ``usage`` object in the wire shape."""
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": reasoning,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _error_envelope(status: int, message: str | None = None) -> dict[str, Any]:
    kinds = {
        400: ("invalid_request_error", None),
        401: ("invalid_request_error", "invalid_api_key"),
        403: ("permission_error", None),
        404: ("invalid_request_error", "model_not_found"),
        429: ("rate_limit_error", "rate_limit_exceeded"),
    }
    etype, code = kinds.get(status, ("server_error", None))
    return {
        "error": {
            "message": message or f"fake upstream error {status}",
            "type": etype,
            "param": None,
            "code": code,
        }
    }


def _fragments(text: str, size: int | None) -> list[str]:
    if not text:
        return []
    if not size or size <= 0:
        return [text]
    return [text[i : i + size] for i in range(0, len(text), size)]


@dataclass(frozen=True)
class Reply:
    """One scripted upstream answer. Build with the classmethods, tweak with :meth:`with_`.

    Options shared by every kind:

    * ``chunk_size`` — split content, reasoning and tool arguments into fragments of N characters.
    * ``delay`` — seconds to sleep before each SSE chunk (and before a scripted cut).
    * ``fail_after`` — close the TCP connection abruptly after N SSE chunks (a JSON request is cut
      before any byte of the response).
    * ``interleave_tools`` — alternate the fragments of parallel tool calls.
    * ``stream_error`` / ``stream_error_after`` — send ``data: {"error": {...}}`` after N chunks
      (default: after the content, before the finish chunk), then end the body without
      ``[DONE]``; a JSON request gets a 500 with that error instead.
    """

    kind: str = "message"  # message | error | raw_chunks | raw_json
    content: str | None = None
    reasoning_content: str | None = None
    calls: tuple[tuple[str, str, str], ...] = ()  # tool calls: (id, name, arguments)
    finish_reason: str | None = None
    usage: Any = _DEFAULT
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    chunks: tuple[Any, ...] = ()
    done: bool = True
    model: str | None = None
    chunk_size: int | None = None
    delay: float = 0.0
    fail_after: int | None = None
    interleave_tools: bool = False
    stream_error: dict[str, Any] | None = None
    stream_error_after: int | None = None

    # -- builders ---------------------------------------------------------------------------

    @classmethod
    def text(
        cls,
        content: str,
        reasoning_content: str | None = None,
        finish_reason: str = "stop",
        usage: Any = _DEFAULT,
        **options: Any,
    ) -> Reply:
        """An assistant message (optionally with DeepSeek-style ``reasoning_content``)."""
        return cls(
            kind="message",
            content=content,
            reasoning_content=reasoning_content,
            finish_reason=finish_reason,
            usage=usage,
            **options,
        )

    @classmethod
    def tool_calls(
        cls,
        calls: list[tuple[str, str]] | list[tuple[str, str, str]],
        content: str | None = None,
        reasoning_content: str | None = None,
        finish_reason: str = "tool_calls",
        usage: Any = _DEFAULT,
        **options: Any,
    ) -> Reply:
        """Parallel tool calls: ``[(name, arguments_json), ...]`` or ``[(id, name, args), ...]``.

        Generated ids look like OpenAI's (``call_…``) and are unique per process.
        """
        normalized = []
        for call in calls:
            if len(call) == 2:
                name, arguments = call
                call_id = f"call_fake{next(_counter):06d}"
            else:
                call_id, name, arguments = call
            normalized.append((call_id, name, arguments))
        return cls(
            kind="message",
            content=content,
            reasoning_content=reasoning_content,
            calls=tuple(normalized),
            finish_reason=finish_reason,
            usage=usage,
            **options,
        )

    @classmethod
    def error(
        cls, status: int, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> Reply:
        """An HTTP error before any byte of a body; ``body`` defaults to an OpenAI envelope."""
        return cls(
            kind="error",
            status=status,
            body=body if body is not None else _error_envelope(status),
            headers=dict(headers or {}),
        )

    @classmethod
    def raw_chunks(cls, chunks: list[Any], done: bool = True, **options: Any) -> Reply:
        """Exact SSE: dicts are sent as ``data: <json>\\n\\n``, strings verbatim.

        ``data: [DONE]`` is appended unless ``done=False``. A non-streaming request gets a 500.
        """
        return cls(kind="raw_chunks", chunks=tuple(chunks), done=done, **options)

    @classmethod
    def raw_json(cls, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
        """An exact JSON body (for any request, streaming or not)."""
        return cls(kind="raw_json", body=body, status=status, headers=dict(headers or {}))

    def with_(self, **changes: Any) -> Reply:
        return replace(self, **changes)

    # -- wire rendering ---------------------------------------------------------------------

    def wire_usage(self) -> dict[str, Any] | None:
        if self.usage is _DEFAULT:
            return chat_usage()
        return self.usage

    def completion(self, model: str, completion_id: str, created: int) -> dict[str, Any]:
        """The ``chat.completion`` object for a non-streaming request."""
        message: dict[str, Any] = {
            "role": "assistant",
            "content": self.content if (self.content is not None or not self.calls) else None,
            "refusal": None,
        }
        if message["content"] is None and not self.calls:
            message["content"] = ""
        if self.reasoning_content is not None:
            message["reasoning_content"] = self.reasoning_content
        if self.calls:
            message["tool_calls"] = [
                {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}
                for cid, name, args in self.calls
            ]
        body: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": self.finish_reason,
                    "logprobs": None,
                }
            ],
            "system_fingerprint": "fp_fake",
        }
        usage = self.wire_usage()
        if usage is not None:
            body["usage"] = usage
        return body

    def deltas(self) -> list[dict[str, Any]]:
        """The ``delta`` objects of the stream, in order, without the finish chunk."""
        out: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
        reasoning = self.reasoning_content is not None
        for frag in _fragments(self.reasoning_content or "", self.chunk_size):
            out.append({"content": None, "reasoning_content": frag})
        for frag in _fragments(self.content or "", self.chunk_size):
            delta: dict[str, Any] = {"content": frag}
            if reasoning:
                delta["reasoning_content"] = None
            out.append(delta)
        per_call: list[list[dict[str, Any]]] = []
        for index, (cid, name, args) in enumerate(self.calls):
            first = {
                "index": index,
                "id": cid,
                "type": "function",
                "function": {"name": name, "arguments": ""},
            }
            calls = [first] + [
                {"index": index, "function": {"arguments": frag}}
                for frag in _fragments(args, self.chunk_size)
            ]
            per_call.append(calls)
        if self.interleave_tools:
            ordered = [
                tc for group in itertools.zip_longest(*per_call) for tc in group if tc is not None
            ]
        else:
            ordered = [tc for calls in per_call for tc in calls]
        out.extend({"tool_calls": [tc]} for tc in ordered)
        return out


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    raw: bytes
    body: Any  # parsed JSON, or None when the body is not JSON
    frames_sent: int = 0  # SSE frames written before the stream ended
    closed_by_peer: threading.Event = field(default_factory=threading.Event)
    peer: Any = None  # the client's address: one per connection it used

    @property
    def json(self) -> Any:
        return self.body


class FakeChat(LoopbackServer):
    """The fake provider. ``start()`` it, ``script()`` replies, read ``requests``, ``close()``."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port: int | None = None
        self.requests: list[RecordedRequest] = []
        self.unscripted: list[RecordedRequest] = []
        self.models: list[str] = ["upstream-model"]
        self._script: collections.deque[Reply | Callable[[Any], Reply]] = collections.deque()
        self._lock = threading.Lock()

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        assert self.port is not None, "FakeChat not started"
        return f"http://{self.host}:{self.port}/v1"

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v1/chat/completions", self._chat)
        router.add_get("/v1/models", self._models)
        router.add_route("*", "/{tail:.*}", self._other)

    # -- script -----------------------------------------------------------------------------

    def script(self, *replies: Reply | Callable[[Any], Reply]) -> FakeChat:
        """Queue replies; each chat request consumes the next one, in order.

        A callable is called with the request's parsed JSON body and must return the Reply, for
        answers that depend on what the client sent (e.g. a tool's argument name).
        """
        with self._lock:
            self._script.extend(replies)
        return self

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self.requests.clear()
            self.unscripted.clear()
            self.models = ["upstream-model"]

    @property
    def pending(self) -> int:
        """Replies scripted but not consumed yet."""
        with self._lock:
            return len(self._script)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    @property
    def last(self) -> RecordedRequest:
        assert self.requests, "the fake upstream received no request"
        return self.requests[-1]

    def _next(self, body: Any) -> Reply | None:
        with self._lock:
            reply = self._script.popleft() if self._script else None
        if reply is not None and not isinstance(reply, Reply):
            reply = reply(body)
            assert isinstance(reply, Reply), f"scripted callable returned {reply!r}"
        return reply

    # -- handlers ---------------------------------------------------------------------------

    async def _record(self, request: web.Request) -> RecordedRequest:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        rec = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers={k.lower(): v for k, v in request.headers.items()},
            raw=raw,
            body=copy.deepcopy(body),
            peer=request.transport.get_extra_info("peername") if request.transport else None,
        )
        with self._lock:
            self.requests.append(rec)
        return rec

    async def _models(self, request: web.Request) -> web.Response:
        await self._record(request)
        data = [
            {"id": m, "object": "model", "created": 1700000000, "owned_by": "fake"}
            for m in self.models
        ]
        return web.json_response({"object": "list", "data": data})

    async def _other(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.json_response(
            _error_envelope(404, f"fake_chat: no route {request.method} {request.path}"),
            status=404,
        )

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        rec = await self._record(request)
        reply = self._next(rec.body)
        if reply is None:
            with self._lock:
                self.unscripted.append(rec)
            body = _error_envelope(
                500, f"fake_chat: no scripted reply for {request.method} {request.path}"
            )
            body["error"]["code"] = "no_scripted_reply"
            return web.json_response(body, status=500)
        if not isinstance(rec.body, dict):
            return web.json_response(_error_envelope(400, "fake_chat: body is not JSON"), 400)
        stream = bool(rec.body.get("stream"))
        model = reply.model or rec.body.get("model") or "upstream-model"
        if reply.kind == "error":
            return web.json_response(reply.body, status=reply.status, headers=reply.headers)
        if reply.kind == "raw_json":
            return web.json_response(reply.body, status=reply.status, headers=reply.headers)
        if not stream:
            return await self._json(request, reply, model)
        return await self._sse(request, reply, model, rec)

    async def _json(self, request: web.Request, reply: Reply, model: str) -> web.StreamResponse:
        if reply.fail_after is not None:
            _abort(request)
            return web.Response()  # never sent: the transport is gone
        if reply.kind == "raw_chunks":
            return web.json_response(
                _error_envelope(500, "fake_chat: raw_chunks scripted for a non-stream request"),
                status=500,
            )
        if reply.stream_error is not None:
            return web.json_response({"error": reply.stream_error}, status=500)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        completion_id = f"chatcmpl-fake{next(_counter):06d}"
        return web.json_response(reply.completion(model, completion_id, int(time.time())))

    async def _sse(
        self, request: web.Request, reply: Reply, model: str, rec: RecordedRequest
    ) -> web.StreamResponse:
        frames = _frames(reply, model, rec.body)
        resp = web.StreamResponse(
            status=200,
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"},
        )
        await resp.prepare(request)
        try:
            for sent, frame in enumerate(frames):
                if reply.delay:
                    await asyncio.sleep(reply.delay)
                if reply.fail_after is not None and sent >= reply.fail_after:
                    _abort(request)
                    return resp
                await resp.write(frame)
                rec.frames_sent = sent + 1
            await resp.write_eof()
        except ConnectionResetError:
            rec.closed_by_peer.set()  # the gateway hung up on us mid-stream
        return resp


def _abort(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()


def _frame(obj: Any) -> bytes:
    if isinstance(obj, bytes):
        return obj
    if isinstance(obj, str):
        return obj.encode()
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


def _frames(reply: Reply, model: str, request_body: dict[str, Any]) -> list[bytes]:
    """Every SSE frame of a streamed reply, ``[DONE]`` included."""
    if reply.kind == "raw_chunks":
        frames = [_frame(c) for c in reply.chunks]
        if reply.done:
            frames.append(b"data: [DONE]\n\n")
        return frames
    options = request_body.get("stream_options") or {}
    include_usage = bool(options.get("include_usage"))
    completion_id = f"chatcmpl-fake{next(_counter):06d}"
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_fake",
            "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            ],
        }
        if include_usage:
            obj["usage"] = None
        return obj

    chunks: list[dict[str, Any]] = [chunk(d) for d in reply.deltas()]
    if reply.stream_error is not None:
        after = len(chunks) if reply.stream_error_after is None else reply.stream_error_after
        frames = [_frame(c) for c in chunks[:after]]
        frames.append(_frame({"error": reply.stream_error}))
        return frames
    chunks.append(chunk({}, reply.finish_reason))
    usage = reply.wire_usage()
    if include_usage and usage is not None:
        last = chunk({})
        last["choices"] = []
        last["usage"] = usage
        chunks.append(last)
    frames = [_frame(c) for c in chunks]
    frames.append(b"data: [DONE]\n\n")
    return frames
