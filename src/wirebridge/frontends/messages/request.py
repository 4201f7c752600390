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

This module checks the body and assembles the request and its message items; the content
blocks are decoded in ``blocks.py`` and the other options (tools, tool choice, thinking, output
format, …) in ``options.py``.

Errors name the offending path (``messages[1].content[0].type``) in their message, since
Anthropic's error envelope has no ``param``.
"""

from __future__ import annotations

from typing import Any

from wirebridge.errors import InvalidRequest, Untranslatable
from wirebridge.frontends.fields import Scalars, check_types
from wirebridge.frontends.messages import blocks, options
from wirebridge.frontends.messages.blocks import block_type
from wirebridge.hub.request import HubRequest, Item
from wirebridge.hub.seal import Sealer

# field -> (accepted types, human type name); None is always accepted.
_SCALARS: Scalars = {
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
    _check_body(body, require_max_tokens)
    tools = options.decode_tools(body.get("tools") or [], drop_tool_types, dropped)
    req = HubRequest(
        model=body["model"],
        input=decode_messages(body["messages"], sealer),
        instructions=options.decode_system(body.get("system")),
        tools=tools,
        tool_choice="auto",
        max_output_tokens=body.get("max_tokens"),
        temperature=body.get("temperature"),
        top_p=body.get("top_p"),
        stop=options.stop_sequences(body.get("stop_sequences")),
        user=options.user(body.get("metadata")),
        reasoning=options.reasoning(body.get("thinking"), body.get("output_config")),
        text=options.text_format(body.get("output_config")),
        stream=bool(body.get("stream")),
        store=False,
        source="messages",
        extra={k: v for k, v in body.items() if k not in _TRANSLATED},
    )
    options.apply_tool_choice(req, body.get("tool_choice"))
    return req


def _check_body(body: dict[str, Any], require_max_tokens: bool) -> None:
    """Refuse a body whose required fields are missing or whose scalars have the wrong type."""
    check_types(body, _SCALARS, _anthropic_message)
    if not body.get("model"):
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


def _anthropic_message(name: str, label: str, value: object) -> str:
    return f"{name}: Input should be a valid {label}."


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
            parts = [blocks.text_part(b, f"{where}.content[{j}]") for j, b in enumerate(content)]
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
        kind = block_type(block, at)
        if kind == "tool_result":
            outputs.append(blocks.tool_result(block, at))
            continue
        decoder = blocks.USER_BLOCKS.get(kind)
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
        kind = block_type(block, at)
        if kind == "text":
            texts.append(blocks.output_text_part(block, at))
            continue
        flush()
        if kind == "tool_use":
            items.append(blocks.tool_use(block, at))
        elif kind in ("thinking", "redacted_thinking"):
            items.append(blocks.thinking(block, kind, at, sealer))
        else:
            raise Untranslatable(f"{at}.type: content block '{kind}' is not supported here.")
    flush()
