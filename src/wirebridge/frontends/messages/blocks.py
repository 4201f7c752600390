"""Anthropic Messages content blocks → hub parts and items (wire → hub).

One decoder per block type, kept apart from the message loop in ``request.py`` so that adding a
block type touches only this file:

* user blocks → input parts: ``text`` → ``input_text``, ``image`` → ``input_image`` (base64 as
  a ``data:`` URL, or the URL), ``document`` → ``input_file`` (base64 PDF as ``file_data`` +
  ``filename``, or a URL) or ``input_text`` (plain-text or content source), ``search_result`` →
  ``input_text``;
* ``tool_result`` → a ``function_call_output`` item (``is_error`` becomes an ``Error:`` prefix,
  since the chat protocol has no error flag);
* ``tool_use`` → a ``function_call`` item (arguments = the input as JSON);
* ``thinking`` / ``redacted_thinking`` → reasoning items: a signature the gateway sealed opens
  to its ``ProviderData``; any other signature is Anthropic's and travels only as ``_provider``
  of family ``anthropic``.

``cache_control`` marks are kept as ``_cache_control``. The small field helpers
(``block_type``, ``require_string``, ``keep_cache_control``) are shared with ``request.py`` and
``options.py`` so every error names its path the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from wirebridge.errors import InvalidRequest, Untranslatable
from wirebridge.hub.request import Item
from wirebridge.hub.seal import ProviderData, Sealer

ANTHROPIC_FAMILY = "anthropic"
Block = dict[str, Any]


# -- field helpers -----------------------------------------------------------------------------


def block_type(block: Any, at: str) -> str:
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        raise InvalidRequest(f"{at}: each content block must be an object with a 'type'.")
    return str(block["type"])


def require_string(block: dict[str, Any], key: str, at: str) -> str:
    value = block.get(key)
    if not isinstance(value, str):
        raise InvalidRequest(f"{at}.{key}: Field required (a string).")
    return value


def keep_cache_control(block: Block, target: dict[str, Any]) -> None:
    if block.get("cache_control") is not None:
        target["_cache_control"] = block["cache_control"]


# -- user blocks → input parts -----------------------------------------------------------------


def text_part(block: Any, at: str) -> dict[str, Any]:
    """A text block of a ``system`` message (only text is allowed there)."""
    if block_type(block, at) != "text":
        raise Untranslatable(f"{at}.type: system messages may only hold text blocks.")
    part = {"type": "input_text", "text": require_string(block, "text", at)}
    keep_cache_control(block, part)
    return part


def output_text_part(block: Block, at: str) -> dict[str, Any]:
    """An assistant ``text`` block."""
    part = {"type": "output_text", "text": require_string(block, "text", at), "annotations": []}
    keep_cache_control(block, part)
    return part


def _image(block: Block, at: str) -> dict[str, Any]:
    source = _source(block, at)
    kind = source.get("type")
    if kind == "base64":
        media = require_string(source, "media_type", f"{at}.source")
        url = f"data:{media};base64,{require_string(source, 'data', f'{at}.source')}"
    elif kind == "url":
        url = require_string(source, "url", f"{at}.source")
    else:
        raise Untranslatable(
            f"{at}.source.type: image source '{kind}' is not supported; send base64 or url."
        )
    part = {"type": "input_image", "image_url": url, "detail": "auto"}
    keep_cache_control(block, part)
    return part


def _document(block: Block, at: str) -> dict[str, Any]:
    source = _source(block, at)
    kind = source.get("type")
    title = block.get("title") if isinstance(block.get("title"), str) else None
    part: dict[str, Any]
    if kind == "base64":
        media = require_string(source, "media_type", f"{at}.source")
        data = require_string(source, "data", f"{at}.source")
        name = title or ("document.pdf" if media == "application/pdf" else "document")
        part = {"type": "input_file", "file_data": f"data:{media};base64,{data}", "filename": name}
    elif kind == "url":
        part = {"type": "input_file", "file_url": require_string(source, "url", f"{at}.source")}
    elif kind == "text":
        text = require_string(source, "data", f"{at}.source")
        part = {"type": "input_text", "text": f"{title}\n\n{text}" if title else text}
    elif kind == "content":
        inner = source.get("content")
        blocks = [{"type": "text", "text": inner}] if isinstance(inner, str) else inner or []
        texts = [text_part(b, f"{at}.source.content[{k}]")["text"] for k, b in enumerate(blocks)]
        part = {"type": "input_text", "text": "\n".join(texts)}
    else:
        raise Untranslatable(f"{at}.source.type: document source '{kind}' is not supported.")
    keep_cache_control(block, part)
    return part


def _source(block: Block, at: str) -> dict[str, Any]:
    source = block.get("source")
    if not isinstance(source, dict):
        raise InvalidRequest(f"{at}.source: Field required (an object).")
    return source


def _user_text(block: Block, at: str) -> dict[str, Any]:
    part = {"type": "input_text", "text": require_string(block, "text", at)}
    keep_cache_control(block, part)
    return part


def _search_result(block: Block, at: str) -> dict[str, Any]:
    inner = block.get("content") or []
    texts = [require_string(b, "text", f"{at}.content[{k}]") for k, b in enumerate(inner)]
    head = " — ".join(str(block[k]) for k in ("title", "source") if block.get(k))
    return {"type": "input_text", "text": "\n".join([head, *texts]) if head else "\n".join(texts)}


USER_BLOCKS: dict[str, Callable[[Block, str], dict[str, Any]]] = {
    "text": _user_text,
    "image": _image,
    "document": _document,
    "search_result": _search_result,
}


# -- tool results and calls --------------------------------------------------------------------


def tool_result(block: Block, at: str) -> Item:
    call_id = require_string(block, "tool_use_id", at)
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
    keep_cache_control(block, item)
    return item


def _tool_result_part(block: Any, at: str) -> dict[str, Any]:
    kind = block_type(block, at)
    if kind == "tool_reference":  # a deferred tool a tool search found
        return {
            "type": "input_text",
            "text": f"Tool loaded: {require_string(block, 'tool_name', at)}",
        }
    decoder = USER_BLOCKS.get(kind)
    if decoder is None:
        raise Untranslatable(f"{at}.type: content block '{kind}' is not supported in tool_result.")
    return decoder(block, at)


def _output(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    if all(p["type"] == "input_text" for p in parts):
        return "\n".join(p["text"] for p in parts)
    return parts


def tool_use(block: Block, at: str) -> Item:
    call_id = require_string(block, "id", at)
    name = require_string(block, "name", at)
    arguments = block.get("input", {})
    if not isinstance(arguments, dict):
        raise InvalidRequest(f"{at}.input: Input should be an object.")
    item: Item = {
        "type": "function_call",
        "call_id": call_id,
        "name": name,
        "arguments": orjson.dumps(arguments).decode(),
    }
    keep_cache_control(block, item)
    return item


# -- thinking ----------------------------------------------------------------------------------


def thinking(block: Block, kind: str, at: str, sealer: Sealer) -> Item:
    if kind == "redacted_thinking":
        redacted = {"redacted_thinking": require_string(block, "data", at)}
        return {
            "type": "reasoning",
            "summary": [],
            "_provider": ProviderData(ANTHROPIC_FAMILY, redacted),
        }
    text = require_string(block, "thinking", at)
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
