"""Chat Completions tools, tool choice and parameters → hub request fields (wire → hub).

* ``tools`` (nested function tools) and legacy ``functions`` → flat Responses function tools;
  other tool types are refused.
* ``tool_choice`` (or legacy ``function_call``) → a Responses tool choice, ``allowed_tools``
  included.
* ``max_completion_tokens`` / ``max_tokens``, ``logprobs`` / ``top_logprobs``,
  ``reasoning_effort`` and ``response_format`` → their hub fields.

Kept apart from ``request.py`` (validation and assembly) and ``messages.py`` (the conversation).
"""

from __future__ import annotations

from typing import Any

from wirebridge.errors import InvalidRequest, Untranslatable
from wirebridge.hub.request import HubRequest

_CHOICES = frozenset({"none", "auto", "required"})


def apply_params(body: dict[str, Any], req: HubRequest) -> None:
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


def declared_tools(body: dict[str, Any]) -> list[dict[str, Any]]:
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


def tool_choice(body: dict[str, Any]) -> Any:
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
