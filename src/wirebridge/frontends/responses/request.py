"""Decode a Responses API request body into a ``HubRequest`` (wire → hub).

Validation is of what the hub uses, once; items keep their wire shape. Reasoning items the
gateway sealed are opened here so upstream encoders see the provider data, not the blob.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from wirebridge.errors import InvalidRequest, MalformedJSON, Untranslatable
from wirebridge.frontends.fields import Scalars, check_types
from wirebridge.hub.compaction import open_summary
from wirebridge.hub.request import HubRequest, Item
from wirebridge.hub.seal import Sealer
from wirebridge.hub.tools import ToolSet, build_toolset, echo_tools

_ITEM_TYPES = frozenset(
    {
        "message",
        "function_call",
        "function_call_output",
        "custom_tool_call",
        "custom_tool_call_output",
        "reasoning",
        "additional_tools",
        "item_reference",
        "compaction",
    }
)
_ROLES = frozenset({"user", "assistant", "system", "developer"})

# field -> (accepted types, human type name); None is always accepted.
_SCALARS: Scalars = {
    "instructions": ((str,), "string"),
    "parallel_tool_calls": ((bool,), "boolean"),
    "max_output_tokens": ((int,), "integer"),
    "temperature": ((int, float), "number"),
    "top_p": ((int, float), "number"),
    "top_logprobs": ((int,), "integer"),
    "seed": ((int,), "integer"),
    "user": ((str,), "string"),
    "safety_identifier": ((str,), "string"),
    "metadata": ((dict,), "object"),
    "text": ((dict,), "object"),
    "reasoning": ((dict,), "object"),
    "stream": ((bool,), "boolean"),
    "store": ((bool,), "boolean"),
    "background": ((bool,), "boolean"),
    "include": ((list,), "array"),
    "previous_response_id": ((str,), "string"),
    "prompt_cache_key": ((str,), "string"),
    "presence_penalty": ((int, float), "number"),
    "frequency_penalty": ((int, float), "number"),
    "max_tool_calls": ((int,), "integer"),
    "service_tier": ((str,), "string"),
    "truncation": ((str,), "string"),
    "tools": ((list,), "array"),
    "stop": ((str, list), "string or array"),
}


def parse_json_object(body: bytes) -> dict[str, Any]:
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise MalformedJSON(f"The request body is not valid JSON: {e}") from None
    if not isinstance(obj, dict):
        raise MalformedJSON("The request body must be a JSON object.")
    return obj


def decode_request(
    body: dict[str, Any], sealer: Sealer, drop_tool_types: tuple[str, ...], dropped: list[str]
) -> HubRequest:
    check_types(body, _SCALARS)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("Missing required parameter: 'model'.", param="model")
    tools = build_toolset(body.get("tools") or [], drop_tool_types, dropped)
    items = _decode_input(body.get("input"), sealer, tools, drop_tool_types, dropped)
    known = _SCALARS.keys() | {"model", "input", "tool_choice"}
    req = HubRequest(
        model=model,
        input=items,
        tools=tools,
        tool_choice=body.get("tool_choice"),
        extra={k: v for k, v in body.items() if k not in known},
    )
    for name in _SCALARS:
        if name != "tools" and (value := body.get(name)) is not None:
            setattr(req, name, value)
    tools.declared = echo_tools(body.get("tools") or [])
    return req


def _decode_input(
    raw: Any, sealer: Sealer, tools: ToolSet, drop: tuple[str, ...], dropped: list[str]
) -> list[Item]:
    if isinstance(raw, str):
        return [{"type": "message", "role": "user", "content": raw}]
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InvalidRequest(
            "Invalid type for 'input': expected string or array.",
            param="input",
            code="invalid_type",
        )
    items: list[Item] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise InvalidRequest("Each input item must be an object.", param=f"input[{i}]")
        kind = item.get("type")
        if kind is None and "role" in item:  # EasyInputMessage has no type
            item["type"] = kind = "message"
        if kind not in _ITEM_TYPES:
            raise Untranslatable(f"Input item type '{kind}' is not supported.", param=f"input[{i}]")
        _DECODERS.get(kind, _keep)(item, i, sealer)
        if kind == "additional_tools":
            build_toolset(item.get("tools") or [], drop, dropped, into=tools)
            continue
        items.append(item)
    return items


def _keep(item: Item, i: int, sealer: Sealer) -> None:
    return None


def _message(item: Item, i: int, sealer: Sealer) -> None:
    if item.get("role") not in _ROLES:
        raise InvalidRequest(
            f"Invalid role {item.get('role')!r}; expected one of user, assistant, system, "
            "developer.",
            param=f"input[{i}].role",
        )
    content = item.get("content")
    if not isinstance(content, (str, list)):
        raise InvalidRequest(
            "Message content must be a string or an array of parts.", param=f"input[{i}].content"
        )


def _reasoning(item: Item, i: int, sealer: Sealer) -> None:
    pd = sealer.open(item.get("encrypted_content"))
    if pd is not None:
        item["_provider"] = pd


def _call(item: Item, i: int, sealer: Sealer) -> None:
    if not isinstance(item.get("call_id"), str) or not isinstance(item.get("name"), str):
        raise InvalidRequest(
            "Tool call items need string 'call_id' and 'name'.", param=f"input[{i}]"
        )


def _call_output(item: Item, i: int, sealer: Sealer) -> None:
    if not isinstance(item.get("call_id"), str):
        raise InvalidRequest("Tool output items need a string 'call_id'.", param=f"input[{i}]")


def _compaction(item: Item, i: int, sealer: Sealer) -> None:
    pd = sealer.open(item.get("encrypted_content"))
    if open_summary(pd) is None:
        raise InvalidRequest(
            f"Compaction item input[{i}] cannot be opened: its encrypted_content was not made by "
            "this gateway's /v1/responses/compact (or the gateway's secret key changed).",
            param=f"input[{i}].encrypted_content",
            code="invalid_encrypted_content",
        )
    item["_provider"] = pd


def _reference(item: Item, i: int, sealer: Sealer) -> None:
    raise Untranslatable(
        "Input item type 'item_reference' needs a stored response; this gateway has none for it.",
        param=f"input[{i}]",
    )


_DECODERS: dict[str, Callable[[Item, int, Sealer], None]] = {
    "message": _message,
    "reasoning": _reasoning,
    "function_call": _call,
    "custom_tool_call": _call,
    "function_call_output": _call_output,
    "custom_tool_call_output": _call_output,
    "item_reference": _reference,
    "compaction": _compaction,
}
