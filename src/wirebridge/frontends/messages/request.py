"""Decode an Anthropic Messages request body into a ``HubRequest`` (wire → hub).

The request becomes a Responses-shaped request with ``source="messages"``:

* ``system`` (a string or text blocks) → ``instructions``; a ``role: "system"`` entry inside
  ``messages`` (Claude Code sends one) → a system message item where it stood.
* user content: ``text`` → ``input_text``, ``image`` → ``input_image`` (base64 as a ``data:``
  URL, or the URL), ``document`` → ``input_file`` (base64 PDF as ``file_data`` + ``filename``)
  or ``input_text`` (plain-text source); ``tool_result`` → ``function_call_output`` items, put
  before the rest of their message so they follow their calls.
* assistant content: ``text`` → ``output_text``, ``tool_use`` → ``function_call`` (``call_id``
  = id, arguments = the input as JSON), ``thinking`` / ``redacted_thinking`` → reasoning items.
  A thinking ``signature`` the gateway sealed opens to its ``ProviderData`` (``_provider``) and
  stays the item's ``encrypted_content``, so e.g. DeepSeek gets its ``reasoning_content`` back;
  any other signature is Anthropic's and travels only as ``_provider`` of family ``anthropic``,
  which no other upstream replays.
* ``cache_control`` marks are kept on hub parts and items as ``_cache_control`` (for an
  Anthropic upstream; others ignore them); on ``system`` blocks they are dropped.
* ``tools`` → function tools; Anthropic server tools (``web_search_20250305`` …) are dropped
  when their type, without the date suffix, is in ``server.drop_tool_types``, else refused.
* ``tool_choice``: auto → auto, any → required, tool → that function, none → none;
  ``disable_parallel_tool_use`` → ``parallel_tool_calls: false``.
* ``thinking``: disabled → effort ``none``; ``output_config.effort`` if given (``max`` →
  ``high``); else enabled by ``budget_tokens`` (< 4k low, < 16k medium, else high), adaptive →
  medium. ``max_tokens`` → ``max_output_tokens``, ``stop_sequences`` → ``stop``,
  ``metadata.user_id`` → ``user``, ``output_config.format`` (json_schema) → ``text.format``.
* Everything else (``top_k``, ``context_management``, ``thinking`` itself, …) is kept in
  ``extra``; ``mcp_servers`` cannot be served by the gateway and is refused.

Errors name the offending path (``messages[1].content[0].type``) in their message, since
Anthropic's error envelope has no ``param``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from wirebridge.errors import InvalidRequest, Untranslatable
from wirebridge.hub.request import HubRequest, Item
from wirebridge.hub.seal import ProviderData, Sealer
from wirebridge.hub.tools import ToolSet, build_toolset, echo_tools

ANTHROPIC_FAMILY = "anthropic"
Block = dict[str, Any]

# field -> (accepted types, human type name); None is always accepted.
_SCALARS: dict[str, tuple[tuple[type, ...], str]] = {
    "model": ((str,), "string"),
    "messages": ((list,), "array"),
    "system": ((str, list), "string or array"),
    "max_tokens": ((int,), "integer"),
    "stop_sequences": ((list,), "array"),
    "temperature": ((int, float), "number"),
    "top_p": ((int, float), "number"),
    "top_k": ((int,), "integer"),
    "stream": ((bool,), "boolean"),
    "metadata": ((dict,), "object"),
    "tools": ((list,), "array"),
    "tool_choice": ((dict,), "object"),
    "thinking": ((dict,), "object"),
    "output_config": ((dict,), "object"),
}
# Fields turned into hub fields; the rest of the body goes to ``extra``.
_TRANSLATED = frozenset(
    {"model", "messages", "system", "max_tokens", "stop_sequences", "temperature", "top_p"}
    | {"stream", "metadata", "tools", "tool_choice"}
)


def decode_request(
    body: dict[str, Any],
    sealer: Sealer,
    drop_tool_types: tuple[str, ...],
    dropped: list[str],
    *,
    require_max_tokens: bool = True,
) -> HubRequest:
    _check_types(body)
    model = body.get("model")
    if not model:
        raise InvalidRequest("model: Field required.", param="model")
    if body.get("messages") is None:
        raise InvalidRequest("messages: Field required.", param="messages")
    max_tokens = body.get("max_tokens")
    if max_tokens is None and require_max_tokens:
        raise InvalidRequest("max_tokens: Field required.", param="max_tokens")
    if max_tokens is not None and max_tokens < 1:
        raise InvalidRequest("max_tokens: must be at least 1.", param="max_tokens")
    if body.get("mcp_servers"):
        raise Untranslatable(
            "mcp_servers: the gateway cannot connect the model to MCP servers; "
            "run them in the client instead.",
            param="mcp_servers",
        )
    tools = decode_tools(body.get("tools") or [], drop_tool_types, dropped)
    req = HubRequest(
        model=model,
        input=decode_messages(body["messages"], sealer),
        instructions=decode_system(body.get("system")),
        tools=tools,
        tool_choice="auto",
        max_output_tokens=max_tokens,
        temperature=body.get("temperature"),
        top_p=body.get("top_p"),
        stop=_stop_sequences(body.get("stop_sequences")),
        user=_user(body.get("metadata")),
        reasoning=_reasoning(body.get("thinking"), body.get("output_config")),
        text=_text_format(body.get("output_config")),
        stream=bool(body.get("stream")),
        store=False,
        source="messages",
        extra={k: v for k, v in body.items() if k not in _TRANSLATED},
    )
    _tool_choice(req, body.get("tool_choice"))
    return req


def _check_types(body: dict[str, Any]) -> None:
    for name, (types, label) in _SCALARS.items():
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise InvalidRequest(
                f"{name}: Input should be a valid {label}.", param=name, code="invalid_type"
            )


# -- top-level fields --------------------------------------------------------------------------


def decode_system(system: Any) -> str | None:
    if system is None or isinstance(system, str):
        return system or None
    texts = []
    for i, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise InvalidRequest(f"system[{i}]: system blocks must be text blocks.")
        texts.append(_string(block, "text", f"system[{i}]"))
    return "\n\n".join(t for t in texts if t) or None


def _stop_sequences(stops: Any) -> list[str] | None:
    if not stops:
        return None
    if not all(isinstance(s, str) for s in stops):
        raise InvalidRequest("stop_sequences: every entry must be a string.")
    return list(stops)


def _user(metadata: Any) -> str | None:
    user = (metadata or {}).get("user_id")
    if user is not None and not isinstance(user, str):
        raise InvalidRequest("metadata.user_id: Input should be a valid string.")
    return user or None


_EFFORTS = {"low": "low", "medium": "medium", "high": "high", "max": "high"}


def _reasoning(thinking: Any, output_config: Any) -> dict[str, Any] | None:
    kind = (thinking or {}).get("type")
    if kind not in (None, "enabled", "adaptive", "disabled"):
        raise InvalidRequest(
            f"thinking.type: expected 'enabled', 'adaptive' or 'disabled', got {kind!r}."
        )
    if kind == "disabled":
        return {"effort": "none"}
    effort = (output_config or {}).get("effort")
    if effort is not None:
        if effort not in _EFFORTS:
            raise InvalidRequest(
                f"output_config.effort: expected one of {', '.join(_EFFORTS)}, got {effort!r}."
            )
        return {"effort": _EFFORTS[effort]}
    if kind == "adaptive":
        return {"effort": "medium"}
    if kind == "enabled":
        return {"effort": effort_for_budget(thinking.get("budget_tokens"))}
    return None


def effort_for_budget(budget: Any) -> str:
    if isinstance(budget, bool) or not isinstance(budget, int):
        raise InvalidRequest("thinking.budget_tokens: Field required (an integer).")
    if budget < 4096:
        return "low"
    if budget < 16384:
        return "medium"
    return "high"


def _text_format(output_config: Any) -> dict[str, Any] | None:
    fmt = (output_config or {}).get("format")
    if fmt is None:
        return None
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        raise Untranslatable("output_config.format: only type 'json_schema' is supported.")
    schema = fmt.get("schema")
    if not isinstance(schema, dict):
        raise InvalidRequest("output_config.format.schema: Field required (an object).")
    return {"format": {"type": "json_schema", "name": "output", "schema": schema, "strict": True}}


def _tool_choice(req: HubRequest, choice: Any) -> None:
    if choice is None:
        return
    kind = choice.get("type")
    if choice.get("disable_parallel_tool_use") is True:
        req.parallel_tool_calls = False
    if kind == "auto":
        req.tool_choice = "auto"
    elif kind == "any":
        req.tool_choice = "required"
    elif kind == "none":
        req.tool_choice = "none"
    elif kind == "tool":
        req.tool_choice = {"type": "function", "name": _string(choice, "name", "tool_choice")}
    else:
        raise InvalidRequest(
            f"tool_choice.type: expected 'auto', 'any', 'tool' or 'none', got {kind!r}."
        )


# -- tools -------------------------------------------------------------------------------------


def decode_tools(tools: list[Any], drop: tuple[str, ...], dropped: list[str]) -> ToolSet:
    functions = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise InvalidRequest(f"tools[{i}]: each tool must be an object.")
        kind = tool.get("type")
        if kind not in (None, "custom"):
            _server_tool(str(kind), i, drop, dropped)
            continue
        name = _string(tool, "name", f"tools[{i}]")
        schema = tool.get("input_schema")
        if not isinstance(schema, dict):
            raise InvalidRequest(f"tools[{i}].input_schema: Field required (an object).")
        fn: dict[str, Any] = {"type": "function", "name": name, "parameters": schema}
        if tool.get("description") is not None:
            fn["description"] = tool["description"]
        if isinstance(tool.get("strict"), bool):
            fn["strict"] = tool["strict"]
        functions.append(fn)
    ts = build_toolset(functions, drop, dropped)
    ts.declared = echo_tools(functions)
    return ts


def _server_tool(kind: str, i: int, drop: tuple[str, ...], dropped: list[str]) -> None:
    base, _, date = kind.rpartition("_")
    family = base if base and date.isdigit() else kind
    if kind in drop or family in drop:
        dropped.append(kind)
        return
    raise Untranslatable(
        f"tools[{i}].type: the Anthropic server tool '{kind}' cannot run on this model's "
        f"upstream; remove it, or add '{family}' to server.drop_tool_types to drop it silently.",
        param=f"tools[{i}].type",
    )


# -- messages ----------------------------------------------------------------------------------


def decode_messages(messages: list[Any], sealer: Sealer) -> list[Item]:
    items: list[Item] = []
    for i, msg in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(msg, dict):
            raise InvalidRequest(f"{where}: each message must be an object.")
        role = msg.get("role")
        content = msg.get("content")
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        if not isinstance(content, list):
            raise InvalidRequest(f"{where}.content: expected a string or an array of blocks.")
        if role == "user":
            _user_message(content, where, items)
        elif role == "assistant":
            _assistant_message(content, where, sealer, items)
        elif role == "system":
            parts = [_text_part(b, f"{where}.content[{j}]") for j, b in enumerate(content)]
            if parts:
                items.append({"type": "message", "role": "system", "content": parts})
        else:
            raise InvalidRequest(
                f"{where}.role: expected 'user' or 'assistant', got {role!r}.", param="role"
            )
    return items


def _user_message(content: list[Any], where: str, items: list[Item]) -> None:
    outputs: list[Item] = []
    parts: list[dict[str, Any]] = []
    for j, block in enumerate(content):
        at = f"{where}.content[{j}]"
        kind = _block_type(block, at)
        if kind == "tool_result":
            outputs.append(_tool_result(block, at))
            continue
        decoder = _USER_BLOCKS.get(kind)
        if decoder is None:
            raise Untranslatable(f"{at}.type: content block '{kind}' is not supported here.")
        parts.append(decoder(block, at))
    items.extend(outputs)  # tool outputs first: they answer the calls just before them
    if parts:
        items.append({"type": "message", "role": "user", "content": parts})


def _assistant_message(content: list[Any], where: str, sealer: Sealer, items: list[Item]) -> None:
    texts: list[dict[str, Any]] = []

    def flush() -> None:
        if texts:
            items.append({"type": "message", "role": "assistant", "content": list(texts)})
            texts.clear()

    for j, block in enumerate(content):
        at = f"{where}.content[{j}]"
        kind = _block_type(block, at)
        if kind == "text":
            part = {"type": "output_text", "text": _string(block, "text", at), "annotations": []}
            _keep_cache_control(block, part)
            texts.append(part)
            continue
        flush()
        if kind == "tool_use":
            items.append(_tool_use(block, at))
        elif kind in ("thinking", "redacted_thinking"):
            items.append(_thinking(block, kind, at, sealer))
        else:
            raise Untranslatable(f"{at}.type: content block '{kind}' is not supported here.")
    flush()


def _block_type(block: Any, at: str) -> str:
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        raise InvalidRequest(f"{at}: each content block must be an object with a 'type'.")
    return str(block["type"])


def _string(block: dict[str, Any], key: str, at: str) -> str:
    value = block.get(key)
    if not isinstance(value, str):
        raise InvalidRequest(f"{at}.{key}: Field required (a string).")
    return value


def _keep_cache_control(block: Block, target: dict[str, Any]) -> None:
    if block.get("cache_control") is not None:
        target["_cache_control"] = block["cache_control"]


# -- blocks ------------------------------------------------------------------------------------


def _text_part(block: Any, at: str) -> dict[str, Any]:
    if _block_type(block, at) != "text":
        raise Untranslatable(f"{at}.type: system messages may only hold text blocks.")
    part = {"type": "input_text", "text": _string(block, "text", at)}
    _keep_cache_control(block, part)
    return part


def _image(block: Block, at: str) -> dict[str, Any]:
    source = _source(block, at)
    kind = source.get("type")
    if kind == "base64":
        media = _string(source, "media_type", f"{at}.source")
        url = f"data:{media};base64,{_string(source, 'data', f'{at}.source')}"
    elif kind == "url":
        url = _string(source, "url", f"{at}.source")
    else:
        raise Untranslatable(
            f"{at}.source.type: image source '{kind}' is not supported; send base64 or url."
        )
    part = {"type": "input_image", "image_url": url, "detail": "auto"}
    _keep_cache_control(block, part)
    return part


def _document(block: Block, at: str) -> dict[str, Any]:
    source = _source(block, at)
    kind = source.get("type")
    title = block.get("title") if isinstance(block.get("title"), str) else None
    part: dict[str, Any]
    if kind == "base64":
        media = _string(source, "media_type", f"{at}.source")
        data = _string(source, "data", f"{at}.source")
        name = title or ("document.pdf" if media == "application/pdf" else "document")
        part = {"type": "input_file", "file_data": f"data:{media};base64,{data}", "filename": name}
    elif kind == "url":
        part = {"type": "input_file", "file_url": _string(source, "url", f"{at}.source")}
    elif kind == "text":
        text = _string(source, "data", f"{at}.source")
        part = {"type": "input_text", "text": f"{title}\n\n{text}" if title else text}
    elif kind == "content":
        inner = source.get("content")
        blocks = [{"type": "text", "text": inner}] if isinstance(inner, str) else inner or []
        texts = [_text_part(b, f"{at}.source.content[{k}]")["text"] for k, b in enumerate(blocks)]
        part = {"type": "input_text", "text": "\n".join(texts)}
    else:
        raise Untranslatable(f"{at}.source.type: document source '{kind}' is not supported.")
    _keep_cache_control(block, part)
    return part


def _source(block: Block, at: str) -> dict[str, Any]:
    source = block.get("source")
    if not isinstance(source, dict):
        raise InvalidRequest(f"{at}.source: Field required (an object).")
    return source


def _user_text(block: Block, at: str) -> dict[str, Any]:
    part = {"type": "input_text", "text": _string(block, "text", at)}
    _keep_cache_control(block, part)
    return part


def _search_result(block: Block, at: str) -> dict[str, Any]:
    inner = block.get("content") or []
    texts = [_string(b, "text", f"{at}.content[{k}]") for k, b in enumerate(inner)]
    head = " — ".join(str(block[k]) for k in ("title", "source") if block.get(k))
    return {"type": "input_text", "text": "\n".join([head, *texts]) if head else "\n".join(texts)}


_USER_BLOCKS: dict[str, Callable[[Block, str], dict[str, Any]]] = {
    "text": _user_text,
    "image": _image,
    "document": _document,
    "search_result": _search_result,
}


def _tool_result(block: Block, at: str) -> Item:
    call_id = _string(block, "tool_use_id", at)
    content = block.get("content")
    parts: list[dict[str, Any]] = []
    if isinstance(content, str):
        parts.append({"type": "input_text", "text": content})
    elif isinstance(content, list):
        for k, inner in enumerate(content):
            parts.append(_tool_result_part(inner, f"{at}.content[{k}]"))
    elif content is not None:
        raise InvalidRequest(f"{at}.content: expected a string or an array of blocks.")
    is_error = block.get("is_error") is True
    if is_error:  # the chat protocol has no error flag: the model reads it in the text
        if parts and parts[0]["type"] == "input_text":
            parts[0] = {**parts[0], "text": "Error: " + parts[0]["text"]}
        else:
            parts.insert(0, {"type": "input_text", "text": "Error:"})
    item: Item = {"type": "function_call_output", "call_id": call_id, "output": _output(parts)}
    if is_error:
        item["_is_error"] = True
    _keep_cache_control(block, item)
    return item


def _tool_result_part(block: Any, at: str) -> dict[str, Any]:
    kind = _block_type(block, at)
    if kind == "tool_reference":  # a deferred tool a tool search found
        return {"type": "input_text", "text": f"Tool loaded: {_string(block, 'tool_name', at)}"}
    decoder = _USER_BLOCKS.get(kind)
    if decoder is None:
        raise Untranslatable(f"{at}.type: content block '{kind}' is not supported in tool_result.")
    return decoder(block, at)


def _output(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    if all(p["type"] == "input_text" for p in parts):
        return "\n".join(p["text"] for p in parts)
    return parts


def _tool_use(block: Block, at: str) -> Item:
    call_id = _string(block, "id", at)
    name = _string(block, "name", at)
    arguments = block.get("input", {})
    if not isinstance(arguments, dict):
        raise InvalidRequest(f"{at}.input: Input should be an object.")
    item: Item = {
        "type": "function_call",
        "call_id": call_id,
        "name": name,
        "arguments": orjson.dumps(arguments).decode(),
    }
    _keep_cache_control(block, item)
    return item


def _thinking(block: Block, kind: str, at: str, sealer: Sealer) -> Item:
    if kind == "redacted_thinking":
        redacted = {"redacted_thinking": _string(block, "data", at)}
        return {
            "type": "reasoning",
            "summary": [],
            "_provider": ProviderData(ANTHROPIC_FAMILY, redacted),
        }
    text = _string(block, "thinking", at)
    signature = block.get("signature")
    summary = [{"type": "summary_text", "text": text}] if text else []
    sealed = sealer.open(signature)
    if sealed is not None:
        return {
            "type": "reasoning",
            "summary": summary,
            "encrypted_content": signature,
            "_provider": sealed,
        }
    # Anthropic's own signature (or none): only an Anthropic upstream may ever see it.
    data = {"thinking": text, "signature": signature if isinstance(signature, str) else ""}
    pd = ProviderData(ANTHROPIC_FAMILY, data)
    return {"type": "reasoning", "summary": summary, "_provider": pd}
