"""Chat Completions ``messages`` → Responses input items (wire → hub).

One handler per role, in order:

* ``system`` / ``developer`` → a message item of that role (text parts as ``input_text``);
* ``user`` → a message item: ``text`` → ``input_text``, ``image_url`` → ``input_image``,
  ``file`` → ``input_file``, ``input_audio`` kept as an ``input_audio`` part (only a chat
  upstream can take it; ``request.bind_route`` refuses it for the others);
* ``assistant`` → a reasoning item for its ``reasoning_content``, a message item for its text
  and refusal, a ``function_call`` item per tool call (legacy ``function_call`` too);
* ``tool`` → ``function_call_output``; legacy ``function`` → ``function_call_output`` paired by
  name with the legacy call before it.

Kept apart from ``request.py`` (validation and assembly) and ``options.py`` (tools, tool choice
and sampling/format parameters) because the conversation is the one part of the body that grows
a case per content type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wirebridge.errors import InvalidRequest, Untranslatable
from wirebridge.hub import ids
from wirebridge.hub.request import Item


def decode_messages(messages: Any) -> list[Item]:
    """The chat ``messages`` array as hub input items."""
    return _Messages().decode(messages)


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
