"""A scripted fake Anthropic Messages API on loopback.

Like :mod:`tests.support.fake_chat`, the server runs an aiohttp app in its own thread and event
loop, so sync tests, async tests and a gateway subprocess can all talk to it. It speaks the
wire format of Anthropic's API reference (and of the ``anthropic`` SDK's types):

* ``POST /v1/messages`` answers with the next scripted :class:`Reply`: a ``message`` object, or
  (when the request says ``stream: true``) the SSE events ``message_start``,
  ``content_block_start`` / ``ping`` / ``content_block_delta`` (``text_delta``,
  ``thinking_delta``, ``signature_delta``, ``input_json_delta``) / ``content_block_stop``,
  ``message_delta`` and ``message_stop``, each framed as ``event: <type>`` + ``data: <json>``.
* ``POST /v1/messages/count_tokens`` → ``{"input_tokens": n}``; ``GET /v1/models`` → a model list.
* Errors use Anthropic's envelope ``{"type": "error", "error": {"type", "message"},
  "request_id"}``; a mid-stream failure is an ``event: error`` frame.

Before answering, a request is checked the way Anthropic checks it (``check_request``): the
``anthropic-version`` header and the key (``x-api-key``, or ``Authorization: Bearer`` as the
newest SDK sends it); ``max_tokens`` required; no unknown fields; strictly alternating roles;
non-empty text blocks; every ``tool_use`` answered by a ``tool_result`` first in the next user
turn and no ``tool_result`` without its ``tool_use``;
thinking budgets below ``max_tokens``; no ``temperature``/``top_k``/forced tool choice with
thinking; a tool-use turn continued with (budgeted) thinking must open with its thinking block;
thinking blocks must come back with a signature this server issued, over the same text. A
violation is a 400 ``invalid_request_error`` naming it, as Anthropic would send — so a gateway
bug shows up as the error a real upstream would give.

Nothing scripted → 500 ``api_error`` saying "no scripted reply".

Usage::

    fake = FakeAnthropic().start()
    fake.script(Reply.text("Hello"), Reply.tool_use([("get_weather", {"city": "Paris"})]))
    ... drive a client at fake.base_url ...
    fake.requests[0].body["messages"]
    fake.close()
"""

from __future__ import annotations

import asyncio
import collections
import copy
import json
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from aiohttp import web

from tests.support.fake_chat import RecordedRequest
from tests.support.loopback import LoopbackServer

__all__ = [
    "FakeAnthropic",
    "Reply",
    "anthropic_usage",
    "check_request",
    "error_body",
    "redacted_block",
    "text_block",
    "thinking_block",
    "tool_use_block",
]

_DEFAULT = object()
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
ERROR_MESSAGES = {
    429: "Number of request tokens has exceeded your per-minute rate limit.",
    529: "Overloaded",
}


def _b62(n: int) -> str:
    return "".join(secrets.choice(_B62) for _ in range(n))


def message_id() -> str:
    return f"msg_01{_b62(22)}"


def tool_id() -> str:
    return f"toolu_01{_b62(22)}"


def request_id() -> str:
    return f"req_011C{_b62(20)}"


def new_signature() -> str:
    """An opaque signature in the shape Anthropic sends (base64 of a protobuf)."""
    return "Eq" + secrets.token_urlsafe(180).replace("-", "+").replace("_", "/") + "=="


def anthropic_usage(
    input_tokens: int = 12, output_tokens: int = 7, *, cache_read: int = 0, cache_write: int = 0
) -> dict[str, Any]:
    """A ``usage`` object in the wire shape of a ``message``."""
    return {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": cache_write,
        "cache_read_input_tokens": cache_read,
        "cache_creation": {
            "ephemeral_5m_input_tokens": cache_write,
            "ephemeral_1h_input_tokens": 0,
        },
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def error_body(status: int, message: str | None = None, etype: str | None = None) -> dict[str, Any]:
    kind = etype or ERROR_TYPES.get(status, "api_error")
    text = message or ERROR_MESSAGES.get(status) or f"fake_anthropic: error {status}"
    return {"type": "error", "error": {"type": kind, "message": text}, "request_id": request_id()}


# -- content blocks ------------------------------------------------------------------------------


def text_block(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def thinking_block(thinking: str, signature: str | None = None) -> dict[str, Any]:
    return {"type": "thinking", "thinking": thinking, "signature": signature or new_signature()}


def redacted_block(data: str | None = None) -> dict[str, Any]:
    return {"type": "redacted_thinking", "data": data or "EmwK" + secrets.token_urlsafe(96)}


def tool_use_block(name: str, input: dict[str, Any], id: str | None = None) -> dict[str, Any]:
    return {"type": "tool_use", "id": id or tool_id(), "name": name, "input": input}


def _fragments(text: str, size: int | None) -> list[str]:
    if not text:
        return []
    if not size or size <= 0:
        return [text]
    return [text[i : i + size] for i in range(0, len(text), size)]


@dataclass(frozen=True)
class Reply:
    """One scripted answer. Build with the classmethods, tweak with :meth:`with_`.

    Options of every kind:

    * ``chunk_size`` — split text, thinking and tool input JSON into fragments of N characters;
    * ``delay`` — seconds to sleep before each SSE frame;
    * ``fail_after`` — close the connection abruptly after N frames (a JSON request: before any
      byte of the answer);
    * ``stream_error`` / ``stream_error_after`` — an ``event: error`` frame (e.g.
      ``{"type": "overloaded_error", "message": "Overloaded"}``) after N frames (default: after
      the content blocks, before ``message_delta``), then the end of the body; a JSON request
      gets a 529/500 with that error instead;
    * ``ping`` — send a ``ping`` after the first block starts, as Anthropic does (default on).
    """

    kind: str = "message"  # message | error | raw_events | raw_json
    blocks: tuple[dict[str, Any], ...] = ()
    stop_reason: str | None = "end_turn"
    stop_sequence: str | None = None
    stop_details: dict[str, Any] | None = None
    usage: Any = _DEFAULT
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    events: tuple[Any, ...] = ()
    model: str | None = None
    chunk_size: int | None = None
    delay: float = 0.0
    fail_after: int | None = None
    stream_error: dict[str, Any] | None = None
    stream_error_after: int | None = None
    ping: bool = True

    # -- builders ---------------------------------------------------------------------------

    @classmethod
    def of(cls, *blocks: dict[str, Any], stop_reason: str = "end_turn", **options: Any) -> Reply:
        """A message of these content blocks."""
        return cls(blocks=tuple(blocks), stop_reason=stop_reason, **options)

    @classmethod
    def text(cls, text: str, thinking: str | None = None, **options: Any) -> Reply:
        blocks = [thinking_block(thinking)] if thinking is not None else []
        return cls.of(*blocks, text_block(text), **options)

    @classmethod
    def tool_use(
        cls,
        calls: list[tuple[str, dict[str, Any]]] | list[tuple[str, str, dict[str, Any]]],
        text: str | None = None,
        thinking: str | None = None,
        **options: Any,
    ) -> Reply:
        """Tool calls ``[(name, input), ...]`` or ``[(id, name, input), ...]``, after optional
        thinking and text, with ``stop_reason: tool_use``."""
        blocks = [thinking_block(thinking)] if thinking is not None else []
        if text is not None:
            blocks.append(text_block(text))
        for call in calls:
            if len(call) == 2:
                name, inp = call
                blocks.append(tool_use_block(name, inp))
            else:
                cid, name, inp = call
                blocks.append(tool_use_block(name, inp, cid))
        options.setdefault("stop_reason", "tool_use")
        return cls.of(*blocks, **options)

    @classmethod
    def error(
        cls,
        status: int,
        message: str | None = None,
        etype: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """An HTTP error in Anthropic's envelope, before any byte of a body."""
        return cls(
            kind="error",
            status=status,
            body=error_body(status, message, etype),
            headers={"request-id": request_id(), **(headers or {})},
        )

    @classmethod
    def overloaded(cls) -> Reply:
        return cls.error(529)

    @classmethod
    def rate_limited(cls, retry_after: str = "7") -> Reply:
        return cls.error(429, headers={"retry-after": retry_after})

    @classmethod
    def raw_events(cls, events: list[Any], **options: Any) -> Reply:
        """Exact SSE: dicts are framed as ``event: <type>`` + ``data: <json>``, str/bytes
        verbatim. A non-streaming request gets a 500."""
        return cls(kind="raw_events", events=tuple(events), **options)

    @classmethod
    def raw_json(cls, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
        return cls(kind="raw_json", body=body, status=status, headers=dict(headers or {}))

    def with_(self, **changes: Any) -> Reply:
        return replace(self, **changes)

    # -- wire rendering ---------------------------------------------------------------------

    def wire_usage(self) -> dict[str, Any]:
        return anthropic_usage() if self.usage is _DEFAULT else dict(self.usage)

    def message(self, model: str, msg_id: str) -> dict[str, Any]:
        """The ``message`` object of a non-streaming answer."""
        return {
            "id": msg_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [copy.deepcopy(b) for b in self.blocks],
            "stop_reason": self.stop_reason,
            "stop_sequence": self.stop_sequence,
            "stop_details": self.stop_details,
            "usage": self.wire_usage(),
        }

    def stream_events(self, model: str, msg_id: str) -> list[dict[str, Any]]:
        """The events of a streamed answer, in order, without any stream error."""
        usage = self.wire_usage()
        start = {**self.message(model, msg_id), "content": [], "stop_reason": None}
        start.update(stop_sequence=None, stop_details=None)
        start["usage"] = {**usage, "output_tokens": min(1, usage.get("output_tokens", 1))}
        events: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
        for index, block in enumerate(self.blocks):
            events += self._block_events(index, block)
            if index == 0 and self.ping:
                events.insert(2, {"type": "ping"})
        events.append(
            {
                "type": "message_delta",
                "delta": {
                    "stop_reason": self.stop_reason,
                    "stop_sequence": self.stop_sequence,
                    "stop_details": self.stop_details,
                },
                "usage": {"output_tokens": usage.get("output_tokens", 0)},
            }
        )
        events.append({"type": "message_stop"})
        return events

    def _block_events(self, index: int, block: dict[str, Any]) -> list[dict[str, Any]]:
        kind = block["type"]
        deltas: list[dict[str, Any]] = []
        if kind == "text":
            shell: dict[str, Any] = {"type": "text", "text": ""}
            deltas = [
                {"type": "text_delta", "text": f}
                for f in _fragments(block["text"], self.chunk_size)
            ]
        elif kind == "thinking":
            shell = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [
                {"type": "thinking_delta", "thinking": f}
                for f in _fragments(block["thinking"], self.chunk_size)
            ]
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
        elif kind == "tool_use":
            shell = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            raw = json.dumps(block["input"], separators=(",", ":"), ensure_ascii=False)
            deltas = [{"type": "input_json_delta", "partial_json": ""}]  # Anthropic opens with ""
            deltas += [
                {"type": "input_json_delta", "partial_json": f}
                for f in _fragments(raw, self.chunk_size)
            ]
        else:  # redacted_thinking and anything else arrive whole in their start event
            shell = copy.deepcopy(block)
        out: list[dict[str, Any]] = [
            {"type": "content_block_start", "index": index, "content_block": shell}
        ]
        out += [{"type": "content_block_delta", "index": index, "delta": d} for d in deltas]
        out.append({"type": "content_block_stop", "index": index})
        return out

    def frames(self, model: str, msg_id: str) -> list[bytes]:
        if self.kind == "raw_events":
            return [sse_frame(e) for e in self.events]
        events = self.stream_events(model, msg_id)
        if self.stream_error is not None:
            after = self.stream_error_after
            if after is None:
                after = next(n for n, e in enumerate(events) if e["type"] == "message_delta")
            events = [*events[:after], {"type": "error", "error": dict(self.stream_error)}]
        return [sse_frame(e) for e in events]


def sse_frame(event: Any) -> bytes:
    if isinstance(event, bytes):
        return event
    if isinstance(event, str):
        return event.encode()
    data = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    return f"event: {event['type']}\ndata: {data}\n\n".encode()


# -- request checks (what Anthropic refuses) -----------------------------------------------------

TOP_LEVEL = frozenset(
    {
        *("model", "messages", "max_tokens", "system", "metadata", "stop_sequences", "stream"),
        *("temperature", "top_p", "top_k", "tools", "tool_choice", "thinking", "service_tier"),
        *("container", "context_management", "output_config", "mcp_servers", "inference_geo"),
    }
)
_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
_ID = re.compile(r"^[a-zA-Z0-9_-]+$")
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
USER_BLOCKS = frozenset({"text", "image", "document", "tool_result", "search_result"})
ASSISTANT_BLOCKS = frozenset({"text", "thinking", "redacted_thinking", "tool_use"})


class Refused(Exception):
    """What Anthropic would answer with a 400."""


def check_request(body: Any, issued: dict[str, str] | None = None) -> None:
    """Raise ``Refused`` with Anthropic's message for what it would refuse. ``issued`` maps the
    signatures (and redacted data) this server gave out to their thinking text."""
    if not isinstance(body, dict):
        raise Refused("The request body is not valid JSON.")
    for key in body:
        if key not in TOP_LEVEL:
            raise Refused(f"{key}: Extra inputs are not permitted")
    if not isinstance(body.get("model"), str):
        raise Refused("model: Field required")
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise Refused("max_tokens: Field required")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise Refused("messages: at least one message is required")
    _check_system(body.get("system"))
    names = _check_tools(body.get("tools"))
    _check_messages(messages, issued)
    if names is None and any(
        b.get("type") in ("tool_use", "tool_result") for m in messages for b in _blocks(m)
    ):
        raise Refused(
            "Requests which include `tool_use` or `tool_result` blocks must define tools."
        )
    _check_params(body, names or set())


def _blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return content if isinstance(content, list) else []


def _check_system(system: Any) -> None:
    if system is None or isinstance(system, str):
        return
    if not isinstance(system, list):
        raise Refused("system: Input should be a valid string or list")
    for i, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text" or not block.get("text"):
            raise Refused(f"system.{i}: system blocks must be non-empty text blocks")


def _check_tools(tools: Any) -> set[str] | None:
    if tools is None:
        return None
    names = set()
    for i, tool in enumerate(tools):
        extra = set(tool) - {"name", "description", "input_schema", "cache_control", "type"}
        if extra:
            raise Refused(f"tools.{i}.{sorted(extra)[0]}: Extra inputs are not permitted")
        if not isinstance(tool.get("name"), str) or not _NAME.match(tool["name"]):
            raise Refused(
                f"tools.{i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'"
            )
        schema = tool.get("input_schema")
        if not isinstance(schema, dict) or schema.get("type") != "object":
            raise Refused(f"tools.{i}.custom.input_schema.type: Input should be 'object'")
        names.add(tool["name"])
    return names


def _check_messages(messages: list[Any], issued: dict[str, str] | None) -> None:
    previous_role = None
    asked: list[str] = []
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict) or msg.get("role") not in ("user", "assistant"):
            raise Refused(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        role = msg["role"]
        if role == previous_role:
            raise Refused(
                f'messages: roles must alternate between "user" and "assistant", but found '
                f'multiple "{role}" roles in a row'
            )
        blocks = _blocks(msg)
        if not blocks:
            raise Refused(f"messages.{i}: all messages must have non-empty content")
        allowed = USER_BLOCKS if role == "user" else ASSISTANT_BLOCKS
        for j, block in enumerate(blocks):
            kind = block.get("type") if isinstance(block, dict) else None
            if kind not in allowed:
                raise Refused(
                    f"messages.{i}.content.{j}.type: '{kind}' is not valid in a {role} message"
                )
            _check_block(block, f"messages.{i}.content.{j}", issued)
        if role == "user":
            _check_results(blocks, asked, i)
            asked = []
        else:
            if asked:
                raise Refused(_unanswered(asked))
            asked = [b["id"] for b in blocks if b["type"] == "tool_use"]
        previous_role = role
    if asked:
        raise Refused(_unanswered(asked))


def _unanswered(ids: list[str]) -> str:
    return (
        f"messages: `tool_use` ids were found without `tool_result` blocks immediately after: "
        f"{', '.join(ids)}. Each `tool_use` block must have a corresponding `tool_result` block "
        "in the next message."
    )


def _check_results(blocks: list[dict[str, Any]], asked: list[str], i: int) -> None:
    seen_other = False
    answered = set()
    for j, block in enumerate(blocks):
        if block["type"] != "tool_result":
            seen_other = True
            continue
        if seen_other:
            raise Refused(
                f"messages.{i}.content.{j}: tool_result blocks must come before any other "
                "content in a user message"
            )
        if block.get("tool_use_id") not in asked:
            raise Refused(
                f"messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` "
                f"blocks: {block.get('tool_use_id')}. Each `tool_result` block must have a "
                "corresponding `tool_use` block in the previous message."
            )
        answered.add(block["tool_use_id"])
    missing = [a for a in asked if a not in answered]
    if missing:
        raise Refused(_unanswered(missing))


def _check_block(block: dict[str, Any], at: str, issued: dict[str, str] | None) -> None:
    kind = block["type"]
    if kind == "text" and (not isinstance(block.get("text"), str) or not block["text"]):
        raise Refused(f"{at}: text content blocks must be non-empty")
    if kind == "image":
        source = block.get("source") or {}
        if source.get("type") == "base64" and source.get("media_type") not in IMAGE_TYPES:
            raise Refused(f"{at}.source.media_type: Input should be one of {sorted(IMAGE_TYPES)}")
        if source.get("type") not in ("base64", "url"):
            raise Refused(f"{at}.source.type: Input should be 'base64' or 'url'")
    if kind == "tool_use":
        if not isinstance(block.get("id"), str) or not _ID.match(block["id"]):
            raise Refused(f"{at}.id: String should match pattern '^[a-zA-Z0-9_-]+$'")
        if not isinstance(block.get("input"), dict):
            raise Refused(f"{at}.input: Input should be a valid dictionary")
    if kind == "tool_result":
        if not isinstance(block.get("tool_use_id"), str) or not _ID.match(block["tool_use_id"]):
            raise Refused(f"{at}.tool_use_id: String should match pattern '^[a-zA-Z0-9_-]+$'")
        content = block.get("content")
        for k, inner in enumerate(content if isinstance(content, list) else ()):
            if inner.get("type") not in ("text", "image", "document", "search_result"):
                raise Refused(f"{at}.content.{k}.type: invalid tool_result content block")
            _check_block(inner, f"{at}.content.{k}", issued)
    if kind == "thinking":
        signature = block.get("signature")
        if not isinstance(signature, str) or not signature:
            raise Refused(f"{at}.signature: Field required")
        if issued is not None and issued.get(signature) != block.get("thinking"):
            raise Refused(f"{at}: Invalid `signature` in `thinking` block")
    if kind == "redacted_thinking" and issued is not None and block.get("data") not in issued:
        raise Refused(f"{at}: Invalid `data` in `redacted_thinking` block")


def _check_params(body: dict[str, Any], names: set[str]) -> None:
    temperature, top_p = body.get("temperature"), body.get("top_p")
    if temperature is not None and not 0 <= temperature <= 1:
        raise Refused("temperature: Input should be less than or equal to 1")
    if top_p is not None and not 0 <= top_p <= 1:
        raise Refused("top_p: Input should be less than or equal to 1")
    metadata = body.get("metadata")
    if metadata is not None and (set(metadata) - {"user_id"}):
        raise Refused(
            f"metadata.{sorted(set(metadata) - {'user_id'})[0]}: Extra inputs are not permitted"
        )
    choice = body.get("tool_choice")
    if choice is not None:
        if choice.get("type") not in ("auto", "any", "tool", "none"):
            raise Refused("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
        if choice["type"] == "tool" and choice.get("name") not in names:
            raise Refused(f"tool_choice.name: tool '{choice.get('name')}' is not defined")
    stops = body.get("stop_sequences")
    if stops is not None and not all(isinstance(s, str) and s.strip() for s in stops):
        raise Refused("stop_sequences: each stop sequence must contain non-whitespace")
    _check_thinking(body)


def _check_thinking(body: dict[str, Any]) -> None:
    thinking = body.get("thinking")
    if thinking is None or thinking.get("type") == "disabled":
        return
    kind = thinking.get("type")
    if kind == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or budget < 1024:
            raise Refused(
                "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
            )
        if budget >= body["max_tokens"]:
            raise Refused(
                "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our "
                "documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
                "#max-tokens-and-context-window-size"
            )
    elif kind != "adaptive":
        raise Refused("thinking.type: Input should be 'enabled', 'adaptive' or 'disabled'")
    if body.get("temperature") not in (None, 1, 1.0):
        raise Refused("`temperature` may only be set to 1 when thinking is enabled.")
    if body.get("top_k") is not None:
        raise Refused("`top_k` must be unset when thinking is enabled.")
    if (body.get("tool_choice") or {}).get("type") in ("any", "tool"):
        raise Refused("Thinking may not be enabled when tool_choice forces tool use.")
    messages = body["messages"]
    last = messages[-1]
    if (
        kind == "enabled"
        and len(messages) >= 2
        and any(b.get("type") == "tool_result" for b in _blocks(last))
    ):
        opening = _blocks(messages[-2])[0].get("type")
        if opening not in ("thinking", "redacted_thinking"):
            raise Refused(
                f"messages.{len(messages) - 2}.content.0.type: Expected `thinking` or "
                f"`redacted_thinking`, but found `{opening}`. When `thinking` is enabled, a final "
                "`assistant` message must start with a thinking block (preceeding the lastmost set "
                "of `tool_use` and `tool_result` blocks)."
            )


# -- the server --------------------------------------------------------------------------------


class FakeAnthropic(LoopbackServer):
    """The fake API. ``start()`` it, ``script()`` replies, read ``requests``, ``close()``.

    ``api_key``: the ``x-api-key`` it accepts (None: any). ``strict``: refuse what Anthropic
    refuses (``check_request``); tests of malformed traffic may turn it off.
    """

    def __init__(
        self, api_key: str | None = "sk-ant-upstream-test", host: str = "127.0.0.1"
    ) -> None:
        self.host = host
        self.api_key = api_key
        self.strict = True
        self.port: int | None = None
        self.requests: list[RecordedRequest] = []
        self.refused: list[tuple[RecordedRequest, str]] = []  # what check_request refused
        self.issued: dict[str, str] = {}  # signature (or redacted data) -> its thinking text
        self.models = ["claude-sonnet-4-5-20250929"]
        self._script: collections.deque[Reply | Callable[[Any], Reply]] = collections.deque()
        self._lock = threading.Lock()

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        assert self.port is not None, "FakeAnthropic not started"
        return f"http://{self.host}:{self.port}/v1"

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v1/messages", self._messages)
        router.add_post("/v1/messages/count_tokens", self._count_tokens)
        router.add_get("/v1/models", self._models)
        router.add_route("*", "/{tail:.*}", self._other)

    # -- script -----------------------------------------------------------------------------

    def script(self, *replies: Reply | Callable[[Any], Reply]) -> FakeAnthropic:
        """Queue replies; each messages request consumes the next one, in order. A callable gets
        the request's parsed body and returns the Reply."""
        with self._lock:
            self._script.extend(replies)
        return self

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self.requests.clear()
            self.refused.clear()
            self.strict = True

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._script)

    @property
    def message_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == "/v1/messages"]

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

    def _issue(self, reply: Reply) -> None:
        with self._lock:
            for block in reply.blocks:
                if block["type"] == "thinking":
                    self.issued[block["signature"]] = block["thinking"]
                elif block["type"] == "redacted_thinking":
                    self.issued[block["data"]] = ""

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
        )
        with self._lock:
            self.requests.append(rec)
        return rec

    def _refusal(self, rec: RecordedRequest) -> web.Response | None:
        if rec.headers.get("anthropic-version") is None:
            return _error(400, "anthropic-version: header is required")
        bearer = rec.headers.get("authorization", "").removeprefix("Bearer ")
        if self.api_key is not None and self.api_key not in (rec.headers.get("x-api-key"), bearer):
            return _error(401, "invalid x-api-key")
        if not self.strict:
            return None
        try:
            check_request(rec.body, self.issued)
        except Refused as e:
            with self._lock:
                self.refused.append((rec, str(e)))
            return _error(400, str(e))
        return None

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        rec = await self._record(request)
        refused = self._refusal(rec)
        if refused is not None:
            return refused
        reply = self._next(rec.body)
        if reply is None:
            return _error(
                500, f"fake_anthropic: no scripted reply for {request.method} {request.path}"
            )
        if reply.kind in ("error", "raw_json"):
            return web.json_response(reply.body, status=reply.status, headers=reply.headers)
        self._issue(reply)
        model = reply.model or rec.body.get("model") or self.models[0]
        msg_id = message_id()
        headers = {"request-id": request_id(), "anthropic-organization-id": "fake-org"}
        if not rec.body.get("stream"):
            return await self._json(request, reply, model, msg_id, headers)
        return await self._sse(request, reply, rec, reply.frames(model, msg_id), headers)

    async def _json(
        self, request: web.Request, reply: Reply, model: str, msg_id: str, headers: dict[str, str]
    ) -> web.StreamResponse:
        if reply.fail_after is not None:
            _abort(request)
            return web.Response()  # never sent: the transport is gone
        if reply.kind == "raw_events":
            return _error(500, "fake_anthropic: raw_events scripted for a non-stream request")
        if reply.stream_error is not None:
            kind = reply.stream_error.get("type", "api_error")
            status = next((s for s, t in ERROR_TYPES.items() if t == kind), 500)
            return _error(status, reply.stream_error.get("message"), kind)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        return web.json_response(reply.message(model, msg_id), headers=headers)

    async def _sse(
        self,
        request: web.Request,
        reply: Reply,
        rec: RecordedRequest,
        frames: list[bytes],
        headers: dict[str, str],
    ) -> web.StreamResponse:
        resp = web.StreamResponse(
            status=200,
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                **headers,
            },
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
            rec.closed_by_peer.set()
        return resp

    async def _count_tokens(self, request: web.Request) -> web.Response:
        rec = await self._record(request)
        body = rec.body if isinstance(rec.body, dict) else {}
        text = json.dumps([body.get("system"), body.get("messages"), body.get("tools")])
        return web.json_response({"input_tokens": max(1, len(text) // 4)})

    async def _models(self, request: web.Request) -> web.Response:
        await self._record(request)
        data = [
            {"type": "model", "id": m, "display_name": m, "created_at": "2025-09-29T00:00:00Z"}
            for m in self.models
        ]
        return web.json_response(
            {
                "data": data,
                "has_more": False,
                "first_id": self.models[0],
                "last_id": self.models[-1],
            }
        )

    async def _other(self, request: web.Request) -> web.Response:
        await self._record(request)
        return _error(404, f"fake_anthropic: no route {request.method} {request.path}")


def _error(status: int, message: str | None = None, etype: str | None = None) -> web.Response:
    return web.json_response(
        error_body(status, message, etype), status=status, headers={"request-id": request_id()}
    )


def _abort(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()
