"""A scripted fake OpenAI Responses provider on loopback, with Azure OpenAI's routes.

It runs like :class:`~tests.support.fake_chat.FakeChat` (its own thread and event loop; it *is*
a FakeChat, so ``/v1/chat/completions`` and ``/v1/models`` still answer) and speaks the real wire
format: ``response`` objects, and SSE with ``event:`` lines, ``sequence_number`` on every event,
``obfuscation`` padding on deltas, and no ``[DONE]`` — exactly as OpenAI streams them.

Routes:

* ``POST /v1/responses`` — OpenAI; ``Authorization: Bearer`` is recorded, not checked;
* ``POST /openai/v1/responses`` and ``POST /openai/responses?api-version=…`` — Azure OpenAI;
* ``POST /openai/deployments/{deployment}/chat/completions?api-version=…`` and
  ``POST /openai/v1/chat/completions`` — Azure chat, answered with a scripted
  :class:`fake_chat.Reply <tests.support.fake_chat.Reply>`.

Azure routes check, like Azure does: the ``api-key`` header equals :attr:`azure_key` (else 401),
the deployment route has an ``api-version`` query (else 404), and the deployment (the route's,
or the body's ``model`` on v1 routes) is one of :attr:`azure_deployments` when that is set (else
404 ``DeploymentNotFound``).

What the fake checks in a Responses request, as OpenAI would (400 ``invalid_request_error``):

* no key starting with ``_`` in the body or an input item (``unknown_parameter``);
* each input reasoning item's ``encrypted_content`` is one this fake issued
  (``invalid_encrypted_content``) — a reasoning item without one is accepted only if it refers
  to a stored item (``stateful`` and ``store``);
* ``previous_response_id`` is refused unless :attr:`stateful`; then it must name a response this
  fake stored (``store`` not false), whose input and output come before the new input.

Reasoning items carry an ``encrypted_content`` the fake makes up only when the request's
``include`` has ``reasoning.encrypted_content`` (as OpenAI does); :attr:`issued` holds them.

Usage::

    fake = FakeResponses().start()
    fake.script(Reply.text("Hello", reasoning="thinking..."), Reply.tool_call("f", '{"a":1}'))
    fake.responses_requests[0].body["input"]
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from aiohttp import web

from tests.support.fake_chat import FakeChat, RecordedRequest
from tests.support.fake_chat import Reply as ChatReply

__all__ = [
    "FakeResponses",
    "Reply",
    "custom_tool_call",
    "function_call",
    "message",
    "reasoning",
    "responses_usage",
]

_counter = itertools.count(1)
_DEFAULT: Any = object()
ENCRYPTED = "reasoning.encrypted_content"


def _hex() -> str:
    return secrets.token_hex(12)


def responses_usage(
    input_tokens: int = 21, output_tokens: int = 9, *, cached: int = 0, reasoning: int = 0
) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": input_tokens + output_tokens,
    }


# -- output items (finished, as a Response's output lists them) --------------------------------


def message(text: str, *, item_id: str | None = None, status: str = "completed") -> dict[str, Any]:
    return {
        "id": item_id or f"msg_{_hex()}",
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": text}],
    }


def reasoning(summary: str, *, item_id: str | None = None) -> dict[str, Any]:
    """A reasoning item; its ``encrypted_content`` is added when the request includes it."""
    return {
        "id": item_id or f"rs_{_hex()}",
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": summary}] if summary else [],
    }


def function_call(
    name: str, arguments: str, *, call_id: str | None = None, status: str = "completed"
) -> dict[str, Any]:
    return {
        "id": f"fc_{_hex()}",
        "type": "function_call",
        "status": status,
        "arguments": arguments,
        "call_id": call_id or f"call_{_hex()}",
        "name": name,
    }


def custom_tool_call(name: str, input: str, *, call_id: str | None = None) -> dict[str, Any]:
    return {
        "id": f"ctc_{_hex()}",
        "type": "custom_tool_call",
        "status": "completed",
        "call_id": call_id or f"call_{_hex()}",
        "input": input,
        "name": name,
    }


@dataclass(frozen=True)
class Reply:
    """One scripted answer. Options:

    * ``stream_shape`` — ``full`` (OpenAI's every event), ``minimal`` (only ``output_item.done``
      per item, then the terminal event), ``terminal_only`` (lifecycle events, then a terminal
      event whose output holds every item) or ``empty_terminal`` (every item event, then a
      terminal event with ``output: []``);
    * ``status`` — ``completed`` | ``incomplete`` (``incomplete_reason``) | ``failed``
      (``error``);
    * ``chunk_size`` — text, arguments and inputs in deltas of N characters;
    * ``stream_error`` — after the items, an ``error`` event and the end of the body (no
      terminal event); ``fail_after`` — close the connection after N events;
    * ``delay`` — seconds before each event.
    """

    kind: str = "response"  # response | error | raw_events | raw_json
    output: tuple[dict[str, Any], ...] = ()
    status: str = "completed"
    incomplete_reason: str = "max_output_tokens"
    error: dict[str, Any] | None = None
    usage: Any = _DEFAULT
    http_status: int = 200
    body: Any = None
    headers: tuple[tuple[str, str], ...] = ()
    events: tuple[Any, ...] = ()
    stream_shape: str = "full"
    chunk_size: int | None = None
    stream_error: dict[str, Any] | None = None
    fail_after: int | None = None
    delay: float = 0.0

    @classmethod
    def items(cls, *output: dict[str, Any], **options: Any) -> Reply:
        return cls(output=tuple(output), **options)

    @classmethod
    def text(cls, text: str, reasoning_summary: str | None = None, **options: Any) -> Reply:
        items = [] if reasoning_summary is None else [reasoning(reasoning_summary)]
        status = options.get("status", "completed")
        items.append(message(text, status="incomplete" if status == "incomplete" else "completed"))
        return cls.items(*items, **options)

    @classmethod
    def tool_call(
        cls,
        name: str,
        arguments: str,
        *,
        call_id: str | None = None,
        reasoning_summary: str | None = None,
        **options: Any,
    ) -> Reply:
        items = [] if reasoning_summary is None else [reasoning(reasoning_summary)]
        items.append(function_call(name, arguments, call_id=call_id))
        return cls.items(*items, **options)

    @classmethod
    def error_reply(
        cls, status: int, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> Reply:
        return cls(
            kind="error",
            http_status=status,
            body=body if body is not None else _error_body(status, f"fake upstream error {status}"),
            headers=tuple((headers or {}).items()),
        )

    @classmethod
    def raw_events(cls, events: list[Any], **options: Any) -> Reply:
        """Exact SSE: dicts as ``event: <type>`` + ``data: <json>``, strings verbatim."""
        return cls(kind="raw_events", events=tuple(events), **options)

    @classmethod
    def raw_json(cls, body: Any, status: int = 200) -> Reply:
        return cls(kind="raw_json", body=body, http_status=status)

    def with_(self, **changes: Any) -> Reply:
        return replace(self, **changes)

    def wire_usage(self) -> dict[str, Any] | None:
        return responses_usage() if self.usage is _DEFAULT else self.usage


def _error_body(
    status: int, message: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    kinds = {400: "invalid_request_error", 401: "invalid_request_error", 404: "not_found_error"}
    etype = kinds.get(status, "rate_limit_error" if status == 429 else "server_error")
    if status == 429 and code is None:
        code = "rate_limit_exceeded"
    return {"error": {"message": message, "type": etype, "param": param, "code": code}}


class _Refused(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body)
        self.status, self.body = status, body


def _invalid(message: str, code: str, param: str | None = None) -> _Refused:
    return _Refused(400, _error_body(400, message, code, param))


ReplyLike = Reply | ChatReply | Callable[[Any], "Reply | ChatReply"]


class FakeResponses(FakeChat):
    """The fake provider. ``start()`` it, ``script()`` replies, read ``requests``, ``close()``."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__(host)
        self.stateful = False
        self.azure_key: str | None = None
        self.azure_deployments: set[str] | None = None
        self.issued: set[str] = set()  # encrypted_content blobs this fake made
        self.stored: dict[str, tuple[list[Any], list[Any]]] = {}  # id -> (input, output)
        self.effective_inputs: list[list[Any]] = []  # per accepted request: the whole input

    @property
    def root_url(self) -> str:
        """The server without ``/v1`` (an Azure resource endpoint)."""
        assert self.port is not None, "FakeResponses not started"
        return f"http://{self.host}:{self.port}"

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v1/responses", self._responses)
        router.add_post("/openai/v1/responses", self._azure_responses)
        router.add_post("/openai/responses", self._azure_responses)
        router.add_post("/openai/deployments/{deployment}/chat/completions", self._azure_chat)
        router.add_post("/openai/v1/chat/completions", self._azure_chat)
        super().add_routes(router)  # chat completions, models, and the catch-all last

    def script(self, *replies: Any) -> FakeResponses:
        super().script(*replies)
        return self

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self.stateful = False
            self.azure_key = None
            self.azure_deployments = None
            self.stored.clear()
            self.effective_inputs.clear()

    @property
    def responses_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/responses")]

    def _next(self, body: Any) -> Any:
        with self._lock:
            reply = self._script.popleft() if self._script else None
        if reply is not None and not isinstance(reply, Reply | ChatReply):
            reply = reply(body)
        return reply

    # -- Azure ------------------------------------------------------------------------------

    def _azure_refusal(self, request: web.Request, body: Any) -> web.Response | None:
        if self.azure_key is not None and request.headers.get("api-key") != self.azure_key:
            return web.json_response(
                {
                    "error": {
                        "code": "401",
                        "message": "Access denied due to invalid subscription key or wrong API "
                        "endpoint.",
                    }
                },
                status=401,
            )
        deployment = request.match_info.get("deployment")
        if deployment is not None and "api-version" not in request.query:
            return web.json_response(
                {"error": {"code": "404", "message": "Resource not found"}}, status=404
            )
        if deployment is None and isinstance(body, dict):
            deployment = body.get("model")
        known = self.azure_deployments
        if known is not None and deployment not in known:
            message = f"The API deployment {deployment} does not exist."
            return web.json_response(
                {"error": {"code": "DeploymentNotFound", "message": message}}, status=404
            )
        return None

    async def _azure_responses(self, request: web.Request) -> web.StreamResponse:
        rec = await self._record(request)
        refusal = self._azure_refusal(request, rec.body)
        return refusal or await self._answer(request, rec)

    async def _azure_chat(self, request: web.Request) -> web.StreamResponse:
        rec = await self._record(request)
        refusal = self._azure_refusal(request, rec.body)
        if refusal is not None:
            return refusal
        with self._lock:
            self.requests.remove(rec)  # _chat records it again
        return await self._chat(request)

    # -- Responses --------------------------------------------------------------------------

    async def _responses(self, request: web.Request) -> web.StreamResponse:
        rec = await self._record(request)
        return await self._answer(request, rec)

    async def _answer(self, request: web.Request, rec: RecordedRequest) -> web.StreamResponse:
        body = rec.body
        if not isinstance(body, dict):
            return web.json_response(_error_body(400, "body is not JSON"), status=400)
        try:
            full_input = self._check(body)
        except _Refused as e:
            return web.json_response(e.body, status=e.status)
        reply = self._next(body)
        if reply is None:
            with self._lock:
                self.unscripted.append(rec)
            err = _error_body(500, f"fake_responses: no scripted reply for {request.path}")
            err["error"]["code"] = "no_scripted_reply"
            return web.json_response(err, status=500)
        assert isinstance(reply, Reply), f"a Responses request got {reply!r}"
        if reply.kind in ("error", "raw_json"):
            headers = dict(reply.headers)
            return web.json_response(reply.body, status=reply.http_status, headers=headers)
        with self._lock:
            self.effective_inputs.append(full_input)
        if reply.kind == "raw_events":
            return await self._send_events(request, rec, reply, [_frame(e) for e in reply.events])
        resp = self._response(body, reply)
        if body.get("store", True) is not False and self.stateful:
            self.stored[resp["id"]] = (full_input, resp["output"])
        if not body.get("stream"):
            return web.json_response(resp)
        return await self._send_events(request, rec, reply, _events(body, reply, resp))

    def _check(self, body: dict[str, Any]) -> list[Any]:
        """Refuse what OpenAI would; return the whole input the model sees."""
        for key in body:
            if key.startswith("_"):
                raise _invalid(f"Unknown parameter: '{key}'.", "unknown_parameter", key)
        raw = body.get("input")
        items = [{"role": "user", "content": raw}] if isinstance(raw, str) else list(raw or [])
        for i, item in enumerate(items):
            self._check_item(item, i, body)
        prev = body.get("previous_response_id")
        if prev is None:
            return items
        if not self.stateful:
            raise _invalid(
                "previous_response_id is not supported by this server.",
                "unsupported_parameter",
                "previous_response_id",
            )
        if prev not in self.stored:
            raise _invalid(
                f"Previous response with id '{prev}' not found.",
                "previous_response_not_found",
                "previous_response_id",
            )
        before, output = self.stored[prev]
        return [*before, *output, *items]

    def _check_item(self, item: Any, i: int, body: dict[str, Any]) -> None:
        if not isinstance(item, dict):
            raise _invalid(f"Invalid input[{i}]: expected an object.", "invalid_type")
        for key in item:
            if key.startswith("_"):
                raise _invalid(
                    f"Unknown parameter: 'input[{i}].{key}'.", "unknown_parameter", f"input[{i}]"
                )
        if item.get("type") != "reasoning":
            return
        blob = item.get("encrypted_content")
        if blob is None and self.stateful and body.get("store") is not False:
            return  # a reference to a stored reasoning item
        if blob not in self.issued:
            raise _invalid(
                f"The encrypted content for item {item.get('id')} could not be verified.",
                "invalid_encrypted_content",
                f"input[{i}].encrypted_content",
            )

    def render(
        self, reply: Reply, body: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The Response object and the SSE events (as dicts) this fake would send for ``body``
        (default: asking for encrypted reasoning); no server needed."""
        body = body if body is not None else {"model": "m", "include": [ENCRYPTED]}
        resp = self._response(body, reply)
        return resp, [json.loads(f.split(b"data: ", 1)[1]) for f in _events(body, reply, resp)]

    def _response(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        include = body.get("include") or []
        output = []
        for item in reply.output:
            item = dict(item)
            if item["type"] == "reasoning" and ENCRYPTED in include:
                blob = f"gAAAAA-fake-{next(_counter)}-{secrets.token_urlsafe(24)}"
                self.issued.add(blob)
                item["encrypted_content"] = blob
            output.append(item)
        status = reply.status
        return {
            "id": f"resp_{_hex()}",
            "object": "response",
            "created_at": int(time.time()),
            "status": status,
            "background": False,
            "error": (reply.error or {"code": "server_error", "message": "fake failure"})
            if status == "failed"
            else None,
            "incomplete_details": {"reason": reply.incomplete_reason}
            if status == "incomplete"
            else None,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "model": body.get("model"),
            "output": output,
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "previous_response_id": body.get("previous_response_id"),
            "reasoning": body.get("reasoning") or {"effort": None, "summary": None},
            "store": body.get("store", True),
            "temperature": body.get("temperature", 1.0),
            "text": body.get("text") or {"format": {"type": "text"}},
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": body.get("tools", []),
            "top_p": body.get("top_p", 1.0),
            "truncation": body.get("truncation", "disabled"),
            "usage": reply.wire_usage(),
            "user": body.get("user"),
            "metadata": body.get("metadata") or {},
        }

    async def _send_events(
        self, request: web.Request, rec: RecordedRequest, reply: Reply, frames: list[bytes]
    ) -> web.StreamResponse:
        resp = web.StreamResponse(
            status=200, headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await resp.prepare(request)
        try:
            for sent, frame in enumerate(frames):
                if reply.delay:
                    await asyncio.sleep(reply.delay)
                if reply.fail_after is not None and sent >= reply.fail_after:
                    transport = request.transport
                    if transport is not None:
                        transport.abort()
                    return resp
                await resp.write(frame)
                rec.frames_sent = sent + 1
            await resp.write_eof()
        except ConnectionResetError:
            rec.closed_by_peer.set()
        return resp


# -- the SSE stream of a Response --------------------------------------------------------------


def _frame(event: Any) -> bytes:
    if isinstance(event, bytes):
        return event
    if isinstance(event, str):
        return event.encode()
    data = json.dumps(event, separators=(",", ":"))
    return f"event: {event.get('type')}\ndata: {data}\n\n".encode()


def _pieces(text: str, size: int | None) -> list[str]:
    if not text:
        return []
    if not size:
        return [text]
    return [text[i : i + size] for i in range(0, len(text), size)]


class _Stream:
    def __init__(self, chunk: int | None) -> None:
        self.chunk = chunk
        self.events: list[dict[str, Any]] = []

    def emit(self, kind: str, **fields: Any) -> None:
        self.events.append({"type": kind, "sequence_number": len(self.events), **fields})

    def deltas(self, kind: str, text: str, base: dict[str, Any], **extra: Any) -> None:
        for piece in _pieces(text, self.chunk):
            self.emit(kind, **base, delta=piece, obfuscation=secrets.token_hex(4), **extra)

    def item(self, index: int, item: dict[str, Any]) -> None:
        kind = item["type"]
        base = {"item_id": item["id"], "output_index": index}
        self.emit("response.output_item.added", output_index=index, item=_added(item))
        if kind == "message":
            for ci, part in enumerate(item["content"]):
                b = {**base, "content_index": ci}
                self.emit("response.content_part.added", **b, part={**part, "text": ""})
                self.deltas("response.output_text.delta", part["text"], b, logprobs=[])
                self.emit("response.output_text.done", **b, text=part["text"], logprobs=[])
                self.emit("response.content_part.done", **b, part=part)
        elif kind == "reasoning":
            for si, part in enumerate(item["summary"]):
                b = {**base, "summary_index": si}
                empty = {"type": "summary_text", "text": ""}
                self.emit("response.reasoning_summary_part.added", **b, part=empty)
                self.deltas("response.reasoning_summary_text.delta", part["text"], b)
                self.emit("response.reasoning_summary_text.done", **b, text=part["text"])
                self.emit("response.reasoning_summary_part.done", **b, part=part)
        elif kind == "function_call":
            self.deltas("response.function_call_arguments.delta", item["arguments"], base)
            self.emit("response.function_call_arguments.done", **base, arguments=item["arguments"])
        elif kind == "custom_tool_call":
            self.deltas("response.custom_tool_call_input.delta", item["input"], base)
            self.emit("response.custom_tool_call_input.done", **base, input=item["input"])
        self.emit("response.output_item.done", output_index=index, item=item)


def _added(item: dict[str, Any]) -> dict[str, Any]:
    added = {k: v for k, v in item.items() if k != "encrypted_content"}
    kind = item["type"]
    if kind == "message":
        added.update(content=[], status="in_progress")
    elif kind == "reasoning":
        added["summary"] = []
    elif kind == "function_call":
        added.update(arguments="", status="in_progress")
    elif kind == "custom_tool_call":
        added.update(input="", status="in_progress")
    return added


def _events(body: dict[str, Any], reply: Reply, resp: dict[str, Any]) -> list[bytes]:
    s = _Stream(reply.chunk_size)
    start = {**resp, "status": "in_progress", "output": [], "usage": None, "error": None}
    start["incomplete_details"] = None
    s.emit("response.created", response=start)
    s.emit("response.in_progress", response=start)
    shape = reply.stream_shape
    for index, item in enumerate(resp["output"]):
        if shape in ("full", "empty_terminal"):
            s.item(index, item)
        elif shape == "minimal":
            s.emit("response.output_item.done", output_index=index, item=item)
    if reply.stream_error is not None:
        err = {"code": None, "message": "stream broke", "param": None, **reply.stream_error}
        s.emit("error", **err)
        return [_frame(e) for e in s.events]
    final = dict(resp)
    if shape == "empty_terminal":
        final["output"] = []
    s.emit(f"response.{resp['status']}", response=final)
    return [_frame(e) for e in s.events]
