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
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wirebridge.errors import InvalidRequest, Untranslatable
from wirebridge.hub import ids
from wirebridge.hub.request import HubRequest, Item
from wirebridge.hub.seal import ProviderData
from wirebridge.hub.tools import build_toolset, echo_tools

# field -> (accepted types, human type name); None is always accepted.
_SCALARS: dict[str, tuple[tuple[type, ...], str]] = {
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
_CHOICES = frozenset({"none", "auto", "required"})


@dataclass(frozen=True, slots=True)
class ChatOptions:
    """What the answer's shape depends on, beyond the hub request."""

    include_usage: bool = False  # stream_options.include_usage: a trailing usage chunk
    logprobs: bool = False  # choices[0].logprobs filled in
    legacy_functions: bool = False  # declared `functions`: answer with `function_call`


def decode_request(body: dict[str, Any]) -> tuple[HubRequest, ChatOptions]:
    _check_types(body)
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
    declared = _tools(body)
    req = HubRequest(
        model=model,
        input=_Messages().decode(body.get("messages")),
        tool_choice=_tool_choice(body),
        store=False,  # a chat completion is not a stored Response
        source="chat",
        extra={k: v for k, v in body.items() if k not in _KNOWN},
    )
    req.tools = build_toolset(declared, (), [])
    req.tools.declared = echo_tools(declared)
    for name in _DIRECT:
        if (value := body.get(name)) is not None:
            setattr(req, name, value)
    _params(body, req)
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


def _check_types(body: dict[str, Any]) -> None:
    for name, (types, label) in _SCALARS.items():
        value = body.get(name)
        if value is None:
            continue
        # bool is an int in Python; a JSON true is not a valid integer or number here.
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise InvalidRequest(
                f"Invalid type for '{name}': expected {label}, got {_json_type(value)}.",
                param=name,
                code="invalid_type",
            )


def _json_type(v: object) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(
        type(v), "null" if v is None else "number"
    )


def _params(body: dict[str, Any], req: HubRequest) -> None:
    limit = body.get("max_completion_tokens")
    req.max_output_tokens = limit if limit is not None else body.get("max_tokens")
    if body.get("logprobs") is True:
        req.top_logprobs = body.get("top_logprobs") or 0
    if (effort := body.get("reasoning_effort")) is not None:
        req.reasoning = {"effort": effort}
    if (fmt := body.get("response_format")) is not None:
        req.text = {"format": _response_format(fmt)}


def _response_format(fmt: dict[str, Any]) -> dict[str, Any]:
    kind = fmt.get("type")
    if kind == "json_schema":
        spec = fmt.get("json_schema")
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise InvalidRequest(
                "response_format of type 'json_schema' needs a 'json_schema' object with a "
                "string 'name'.",
                param="response_format.json_schema",
            )
        keep = ("name", "schema", "strict", "description")
        return {"type": "json_schema", **{k: spec[k] for k in keep if k in spec}}
    if kind in ("json_object", "text"):
        return {"type": kind}
    raise Untranslatable(
        f"response_format type '{kind}' is not supported.", param="response_format.type"
    )


# -- tools -------------------------------------------------------------------------------------


def _tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Declared tools as flat Responses function tools."""
    flat = []
    for i, tool in enumerate(body.get("tools") or ()):
        param = f"tools[{i}]"
        if not isinstance(tool, dict):
            raise InvalidRequest("Each tool must be an object.", param=param)
        kind = tool.get("type")
        if kind != "function":
            raise Untranslatable(
                f"Tool type '{kind}' is not supported on /v1/chat/completions by this gateway; "
                "declare function tools (custom tools work on /v1/responses).",
                param=f"{param}.type",
            )
        flat.append(_flat_function(tool.get("function"), f"{param}.function"))
    for i, fn in enumerate(body.get("functions") or ()):
        flat.append(_flat_function(fn, f"functions[{i}]"))
    return flat


def _flat_function(fn: Any, param: str) -> dict[str, Any]:
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
        raise InvalidRequest("A function tool needs an object with a string 'name'.", param=param)
    keep = ("name", "description", "parameters", "strict")
    return {"type": "function", **{k: fn[k] for k in keep if fn.get(k) is not None}}


def _tool_choice(body: dict[str, Any]) -> Any:
    choice = body.get("tool_choice")
    param = "tool_choice"
    if choice is None:
        choice, param = body.get("function_call"), "function_call"
        if isinstance(choice, dict):  # legacy {"name": ...}
            choice = {"type": "function", "function": choice}
    if choice is None:
        return "auto"
    if isinstance(choice, str):
        if choice not in _CHOICES:
            raise InvalidRequest(
                f"Invalid value for '{param}': {choice!r}; expected none, auto or required.",
                param=param,
            )
        return choice
    kind = choice.get("type")
    if kind == "function":
        return {"type": "function", "name": _choice_name(choice.get("function"), param)}
    if kind == "allowed_tools":
        allowed = choice.get("allowed_tools") or {}
        tools = [
            {"type": "function", "name": _choice_name(t.get("function"), param)}
            for t in allowed.get("tools") or ()
            if isinstance(t, dict)
        ]
        return {"type": "allowed_tools", "mode": allowed.get("mode", "auto"), "tools": tools}
    raise Untranslatable(f"{param} type '{kind}' is not supported.", param=f"{param}.type")


def _choice_name(fn: Any, param: str) -> str:
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
        raise InvalidRequest(f"{param} names a function without a string 'name'.", param=param)
    return fn["name"]


# -- messages ----------------------------------------------------------------------------------


class _Messages:
    """Chat messages → hub items; remembers legacy function calls to pair their results."""

    def __init__(self) -> None:
        self.items: list[Item] = []
        self._legacy: dict[str, list[str]] = {}  # function name -> call ids not yet answered

    def decode(self, messages: Any) -> list[Item]:
        if not messages:
            raise InvalidRequest(
                "'messages' must be a non-empty array of messages.", param="messages"
            )
        for i, msg in enumerate(messages):
            if not isinstance(msg, dict):
                raise InvalidRequest("Each message must be an object.", param=f"messages[{i}]")
            role = msg.get("role")
            handler = _ROLES.get(role) if isinstance(role, str) else None
            if handler is None:
                raise InvalidRequest(
                    f"Invalid role {role!r}; expected one of system, developer, user, assistant, "
                    "tool, function.",
                    param=f"messages[{i}].role",
                )
            handler(self, msg, f"messages[{i}]")
        return self.items

    def system(self, msg: dict[str, Any], param: str) -> None:
        content = _content(msg.get("content"), param, _text_part)
        self.items.append({"type": "message", "role": msg["role"], "content": content})

    def user(self, msg: dict[str, Any], param: str) -> None:
        content = _content(msg.get("content"), param, _user_part)
        self.items.append({"type": "message", "role": "user", "content": content})

    def assistant(self, msg: dict[str, Any], param: str) -> None:
        reasoning = msg.get("reasoning_content")
        if isinstance(reasoning, str) and reasoning:
            summary = [{"type": "summary_text", "text": reasoning}]
            self.items.append({"type": "reasoning", "summary": summary})
        parts = _assistant_parts(msg, param)
        calls = msg.get("tool_calls") or []
        if not isinstance(calls, list):
            raise InvalidRequest("'tool_calls' must be an array.", param=f"{param}.tool_calls")
        legacy = msg.get("function_call")
        if parts or not (calls or legacy):
            self.items.append({"type": "message", "role": "assistant", "content": parts})
        for j, tc in enumerate(calls):
            self.items.append(_tool_call(tc, f"{param}.tool_calls[{j}]"))
        if legacy is not None:
            call_id = ids.new_id("call")
            fn = _function(legacy, f"{param}.function_call")
            self._legacy.setdefault(fn["name"], []).append(call_id)
            self.items.append({"type": "function_call", "call_id": call_id, **fn})

    def tool(self, msg: dict[str, Any], param: str) -> None:
        call_id = msg.get("tool_call_id")
        if not isinstance(call_id, str) or not call_id:
            raise InvalidRequest(
                "A tool message needs a string 'tool_call_id'.", param=f"{param}.tool_call_id"
            )
        output = _content(msg.get("content"), param, _text_part)
        self.items.append({"type": "function_call_output", "call_id": call_id, "output": output})

    def function(self, msg: dict[str, Any], param: str) -> None:
        name = msg.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidRequest("A function message needs a string 'name'.", param=f"{param}.name")
        waiting = self._legacy.get(name)
        call_id = waiting.pop(0) if waiting else ids.new_id("call")
        output = _content(msg.get("content"), param, _text_part)
        self.items.append({"type": "function_call_output", "call_id": call_id, "output": output})


_ROLES: dict[str, Callable[[_Messages, dict[str, Any], str], None]] = {
    "system": _Messages.system,
    "developer": _Messages.system,
    "user": _Messages.user,
    "assistant": _Messages.assistant,
    "tool": _Messages.tool,
    "function": _Messages.function,
}


def _content(
    content: Any, param: str, part: Callable[[Any, str], dict[str, Any]]
) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    if content is None:
        return ""
    if not isinstance(content, list):
        raise InvalidRequest(
            "Message content must be a string or an array of parts.", param=f"{param}.content"
        )
    return [part(p, f"{param}.content[{j}]") for j, p in enumerate(content)]


def _part_type(part: Any, param: str) -> str:
    if not isinstance(part, dict) or not isinstance(part.get("type"), str):
        raise InvalidRequest("Each content part must be an object with a 'type'.", param=param)
    kind: str = part["type"]
    return kind


def _text_part(part: Any, param: str) -> dict[str, Any]:
    kind = _part_type(part, param)
    if kind != "text":
        raise Untranslatable(f"Content part '{kind}' is not supported here.", param=param)
    return {"type": "input_text", "text": _str(part, "text", param)}


def _user_part(part: Any, param: str) -> dict[str, Any]:
    kind = _part_type(part, param)
    if kind == "text":
        return {"type": "input_text", "text": _str(part, "text", param)}
    if kind == "image_url":
        image = part.get("image_url")
        image = {"url": image} if isinstance(image, str) else image
        if not isinstance(image, dict) or not isinstance(image.get("url"), str):
            raise InvalidRequest("image_url needs a string 'url'.", param=f"{param}.image_url")
        out = {"type": "input_image", "image_url": image["url"]}
        if image.get("detail"):
            out["detail"] = image["detail"]
        return out
    if kind == "input_audio":
        audio = part.get("input_audio")
        if not isinstance(audio, dict):
            raise InvalidRequest("input_audio must be an object.", param=f"{param}.input_audio")
        return {"type": "input_audio", "input_audio": audio}
    if kind == "file":
        file = part.get("file")
        if not isinstance(file, dict):
            raise InvalidRequest("file must be an object.", param=f"{param}.file")
        keep = ("file_id", "file_data", "filename")
        return {"type": "input_file", **{k: file[k] for k in keep if file.get(k)}}
    raise Untranslatable(f"Content part '{kind}' is not supported in a user message.", param=param)


def _assistant_parts(msg: dict[str, Any], param: str) -> list[dict[str, Any]]:
    content = msg.get("content")
    parts: list[dict[str, Any]] = []
    if isinstance(content, str):
        if content:
            parts.append(_output_text(content))
    elif isinstance(content, list):
        for j, part in enumerate(content):
            p = f"{param}.content[{j}]"
            kind = _part_type(part, p)
            if kind == "text":
                parts.append(_output_text(_str(part, "text", p)))
            elif kind == "refusal":
                parts.append({"type": "refusal", "refusal": _str(part, "refusal", p)})
            else:
                raise Untranslatable(
                    f"Content part '{kind}' is not supported in an assistant message.", param=p
                )
    elif content is not None:
        raise InvalidRequest(
            "Message content must be a string or an array of parts.", param=f"{param}.content"
        )
    refusal = msg.get("refusal")
    if isinstance(refusal, str) and refusal:
        parts.append({"type": "refusal", "refusal": refusal})
    return parts


def _output_text(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": []}


def _tool_call(tc: Any, param: str) -> Item:
    if not isinstance(tc, dict) or not isinstance(tc.get("id"), str):
        raise InvalidRequest("A tool call needs a string 'id'.", param=param)
    if tc.get("type") == "custom":
        custom = tc.get("custom")
        if not isinstance(custom, dict) or not isinstance(custom.get("name"), str):
            raise InvalidRequest("A custom tool call needs 'custom.name'.", param=param)
        return {
            "type": "custom_tool_call",
            "call_id": tc["id"],
            "name": custom["name"],
            "input": custom.get("input") or "",
        }
    return {"type": "function_call", "call_id": tc["id"], **_function(tc.get("function"), param)}


def _function(fn: Any, param: str) -> dict[str, str]:
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
        raise InvalidRequest("A function call needs 'function.name'.", param=param)
    args = fn.get("arguments")
    return {"name": fn["name"], "arguments": args if isinstance(args, str) else "{}"}


def _str(part: dict[str, Any], key: str, param: str) -> str:
    value = part.get(key)
    if not isinstance(value, str):
        raise InvalidRequest(f"'{key}' must be a string.", param=f"{param}.{key}")
    return value
