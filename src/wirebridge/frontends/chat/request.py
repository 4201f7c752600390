"""Decode a Chat Completions request body into a ``HubRequest`` (wire → hub).

Messages become Responses input items, in order:

* ``system`` / ``developer`` → a message item of that role (text parts as ``input_text``);
* ``user`` → a message item: ``text`` → ``input_text``, ``image_url`` → ``input_image``,
  ``file`` → ``input_file``, ``input_audio`` kept as an ``input_audio`` part (only a chat
  upstream can take it; ``bind_route`` refuses it for the others);
* ``assistant`` → a reasoning item for its ``reasoning_content`` (given the route's provider
  family by ``bind_route``, so it is replayed to that family), a message item for its text and
  refusal, a ``function_call`` item per tool call (legacy ``function_call`` too);
* ``tool`` → ``function_call_output``; legacy ``function`` → ``function_call_output`` paired by
  name with the legacy call before it.

Nested function tools (and legacy ``functions``) become flat Responses function tools. Fields the
hub does not model stay in ``HubRequest.extra`` and reach a chat upstream unchanged.

This module checks the body's types and assembles the request; the messages are decoded in
``messages.py``, tools, tool choice and parameters in ``options.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wirebridge.errors import InvalidRequest, Untranslatable
from wirebridge.frontends.chat.messages import decode_messages
from wirebridge.frontends.chat.options import apply_params, declared_tools, tool_choice
from wirebridge.frontends.fields import Scalars, check_types
from wirebridge.hub.request import HubRequest
from wirebridge.hub.seal import ProviderData
from wirebridge.hub.tools import build_toolset, echo_tools

# field -> (accepted types, human type name); None is always accepted.
_SCALARS: Scalars = {
    "messages": ((list,), "array"),
    "temperature": ((int, float), "number"),
    "top_p": ((int, float), "number"),
    "presence_penalty": ((int, float), "number"),
    "frequency_penalty": ((int, float), "number"),
    "max_tokens": ((int,), "integer"),
    "max_completion_tokens": ((int,), "integer"),
    "n": ((int,), "integer"),
    "seed": ((int,), "integer"),
    "top_logprobs": ((int,), "integer"),
    "logprobs": ((bool,), "boolean"),
    "stream": ((bool,), "boolean"),
    "parallel_tool_calls": ((bool,), "boolean"),
    "user": ((str,), "string"),
    "safety_identifier": ((str,), "string"),
    "prompt_cache_key": ((str,), "string"),
    "service_tier": ((str,), "string"),
    "reasoning_effort": ((str,), "string"),
    "metadata": ((dict,), "object"),
    "response_format": ((dict,), "object"),
    "stream_options": ((dict,), "object"),
    "tools": ((list,), "array"),
    "functions": ((list,), "array"),
    "stop": ((str, list), "string or array"),
    "tool_choice": ((str, dict), "string or object"),
    "function_call": ((str, dict), "string or object"),
}
# Copied onto the HubRequest as they are.
_DIRECT = (
    "temperature",
    "top_p",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "stop",
    "parallel_tool_calls",
    "user",
    "safety_identifier",
    "prompt_cache_key",
    "service_tier",
    "metadata",
    "stream",
)
_KNOWN = frozenset({"model", *_SCALARS})


@dataclass(frozen=True, slots=True)
class ChatOptions:
    """What the answer's shape depends on, beyond the hub request."""

    include_usage: bool = False  # stream_options.include_usage: a trailing usage chunk
    logprobs: bool = False  # choices[0].logprobs filled in
    legacy_functions: bool = False  # declared `functions`: answer with `function_call`


def decode_request(body: dict[str, Any]) -> tuple[HubRequest, ChatOptions]:
    check_types(body, _SCALARS)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("Missing required parameter: 'model'.", param="model")
    n = body.get("n")
    if n is not None and n != 1:
        raise Untranslatable(
            f"'n' = {n} is not supported: this gateway carries one choice per completion. "
            "Send n separate requests instead.",
            param="n",
        )
    declared = declared_tools(body)
    req = HubRequest(
        model=model,
        input=decode_messages(body.get("messages")),
        tool_choice=tool_choice(body),
        store=False,  # a chat completion is not a stored Response
        source="chat",
        extra={k: v for k, v in body.items() if k not in _KNOWN},
    )
    req.tools = build_toolset(declared, (), [])
    req.tools.declared = echo_tools(declared)
    for name in _DIRECT:
        if (value := body.get(name)) is not None:
            setattr(req, name, value)
    apply_params(body, req)
    legacy = bool(body.get("functions")) and not body.get("tools")
    if legacy and req.parallel_tool_calls is None:
        req.parallel_tool_calls = False  # a legacy function_call answer holds one call
    options = ChatOptions(
        include_usage=bool((body.get("stream_options") or {}).get("include_usage")),
        logprobs=body.get("logprobs") is True,
        legacy_functions=legacy,
    )
    return req, options


def bind_route(req: HubRequest, api: str, family: str) -> None:
    """What depends on the chosen upstream: ``reasoning_content`` the client replays belongs to
    the provider family it is talking to; ``input_audio`` only a chat upstream can take."""
    for i, item in enumerate(req.input):
        kind = item.get("type")
        if kind == "reasoning":
            text = "".join(p.get("text", "") for p in item.get("summary") or ())
            item["_provider"] = ProviderData(family, {"reasoning_content": text})
        elif api != "chat" and kind == "message" and _has_audio(item.get("content")):
            raise Untranslatable(
                f"input_audio parts are only supported when the model's upstream speaks Chat "
                f"Completions; this model's upstream speaks '{api}'.",
                param=f"messages[{i}].content",
            )


def _has_audio(content: Any) -> bool:
    return isinstance(content, list) and any(p.get("type") == "input_audio" for p in content)
