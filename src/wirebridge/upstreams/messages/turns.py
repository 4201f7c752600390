"""Hub items → Anthropic ``system`` and ``messages`` (hub → wire), keeping Anthropic's rules.

* ``instructions`` and system/developer message items become ``system``: one string, or text
  blocks when any of them carries a ``cache_control`` mark (a Messages client's
  ``_cache_control``); a Messages client's own ``system`` blocks (``extra["system"]``, when its
  front door keeps them) are sent as they are.
* Roles strictly alternate: consecutive items of one role share one message, so consecutive tool
  calls become ``tool_use`` blocks of one assistant turn and their outputs ``tool_result``
  blocks of the next user turn, placed before anything else in it.
* A conversation that ends with assistant text (a prefill) has its trailing whitespace trimmed.
* Every ``tool_use`` is answered: a call without an output gets a placeholder ``tool_result``
  (``is_error``) rather than being dropped; an output whose call is not in the turn before it
  becomes a text block saying whose result it is.
* Reasoning items are replayed only when their provider data is of the ``anthropic`` family, as
  ``thinking`` (with its ``signature``) or ``redacted_thinking`` blocks, first in their turn
  (``{"redacted": data}`` as this package seals it; ``{"redacted_thinking": data}`` as the
  Messages front door keeps a client's block).
* Images: a ``data:`` URL → a base64 source, an http(s) URL → a url source. Files: a PDF → a
  base64 ``document``, plain text → a text ``document``, a URL → a url ``document``.

What Anthropic cannot take raises ``Untranslatable`` naming the item or part.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import Any

import orjson

from wirebridge.engine.compact import summary_text
from wirebridge.errors import InvalidRequest, Untranslatable
from wirebridge.hub.request import HubRequest, Item
from wirebridge.hub.seal import ProviderData
from wirebridge.hub.tools import wire_name
from wirebridge.upstreams.messages import FAMILY

Block = dict[str, Any]
Message = dict[str, Any]
System = str | list[Block] | None

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
NO_RESULT = "No result was provided for this tool call."
_ID_BAD = re.compile(r"[^a-zA-Z0-9_-]")
_DATA_URL = re.compile(r"^data:([^;,]+)((?:;[^;,]*)*?);base64,(.*)$", re.DOTALL)
_TEXT_KINDS = frozenset({"input_text", "output_text", "text", "summary_text"})
_THINKING = frozenset({"thinking", "redacted_thinking"})


def tool_id(call_id: str) -> str:
    """A call id as Anthropic accepts it (``^[a-zA-Z0-9_-]+$``); the same id maps the same way,
    so a ``tool_use`` and its ``tool_result`` still match."""
    return _ID_BAD.sub("_", call_id) or "call"


class TurnBuilder:
    """Folds blocks into alternating messages; ``finish`` pairs every tool_use with a result."""

    def __init__(self) -> None:
        self._system: list[Block] = []
        self._messages: list[Message] = []

    def system(self, block: Block) -> None:
        self._system.append(block)

    def add(self, role: str, block: Block) -> None:
        self._turn(role).append(block)

    def first(self, role: str, block: Block, kinds: frozenset[str]) -> None:
        """Add ``block`` after the blocks of ``kinds`` that open the turn, before the rest."""
        content = self._turn(role)
        at = 0
        while at < len(content) and content[at]["type"] in kinds:
            at += 1
        content.insert(at, block)

    def _turn(self, role: str) -> list[Block]:
        if not self._messages or self._messages[-1]["role"] != role:
            self._messages.append({"role": role, "content": []})
        content: list[Block] = self._messages[-1]["content"]
        return content

    def finish(self) -> tuple[System, list[Message]]:
        return self._system_value(), _trim_prefill(_pair_tool_results(self._messages))

    def _system_value(self) -> System:
        if not self._system:
            return None
        if any("cache_control" in b for b in self._system):
            return self._system
        return "\n\n".join(b["text"] for b in self._system)


def _pair_tool_results(messages: list[Message]) -> list[Message]:
    out: list[Message] = []
    for msg in messages:
        if msg["role"] == "user":
            asked = _tool_use_ids(out[-1]) if out else []
            msg = {**msg, "content": _answered(msg["content"], asked)}
        out.append(msg)
    if out and out[-1]["role"] == "assistant" and _tool_use_ids(out[-1]):
        out.append({"role": "user", "content": _answered([], _tool_use_ids(out[-1]))})
    return out


def _trim_prefill(messages: list[Message]) -> list[Message]:
    """A conversation ending with assistant text continues that text; Anthropic refuses it when
    it ends with whitespace, which says nothing, so it is trimmed."""
    if not messages or messages[-1]["role"] != "assistant":
        return messages
    content = list(messages[-1]["content"])
    if content and content[-1]["type"] == "text":
        text = content[-1]["text"].rstrip()
        content[-1:] = [{**content[-1], "text": text}] if text else []
    if not content:
        return messages[:-1]
    return [*messages[:-1], {**messages[-1], "content": content}]


def _tool_use_ids(msg: Message) -> list[str]:
    if msg["role"] != "assistant":
        return []
    return [b["id"] for b in msg["content"] if b["type"] == "tool_use"]


def _answered(content: list[Block], asked: list[str]) -> list[Block]:
    """Results for the calls ``asked`` first (placeholders for missing ones), then the rest."""
    results: dict[str, Block] = {}
    rest: list[Block] = []
    for block in content:
        if block["type"] != "tool_result":
            rest.append(block)
        elif block["tool_use_id"] in asked and block["tool_use_id"] not in results:
            results[block["tool_use_id"]] = block
        else:
            rest.extend(_orphan(block))
    placeholders = [
        {"type": "tool_result", "tool_use_id": i, "content": NO_RESULT, "is_error": True}
        for i in asked
        if i not in results
    ]
    return [*results.values(), *placeholders, *rest]


def _orphan(block: Block) -> list[Block]:
    """A tool_result whose call is not in the turn before it, as text the model can still read."""
    what = "Error result" if block.get("is_error") else "Result"
    head = f"{what} of tool call {block['tool_use_id']}:"
    content = block.get("content", "")
    if isinstance(content, str):
        return [{"type": "text", "text": f"{head} {content}" if content else head}]
    return [{"type": "text", "text": head}, *content]


# -- items -------------------------------------------------------------------------------------


def encode_turns(req: HubRequest) -> tuple[System, list[Message]]:
    tb = TurnBuilder()
    own_system = req.extra.get("system") if req.source == "messages" else None
    if isinstance(own_system, list) and own_system:
        for block in own_system:
            tb.system(block)
    elif isinstance(own_system, str) and own_system:
        tb.system({"type": "text", "text": own_system})
    elif req.instructions:
        tb.system({"type": "text", "text": req.instructions})
    for i, item in enumerate(req.input):
        kind = item.get("type", "message")
        encoder = _ITEMS.get(kind)
        if encoder is None:
            raise Untranslatable(
                f"Input item type '{kind}' cannot be sent to an Anthropic Messages upstream.",
                param=f"input[{i}]",
            )
        encoder(tb, item, f"input[{i}]")
    return tb.finish()


def _message(tb: TurnBuilder, item: Item, where: str) -> None:
    role = item.get("role")
    content = item.get("content")
    parts = [{"type": "input_text", "text": content}] if isinstance(content, str) else content
    for j, part in enumerate(parts or ()):
        at = f"{where}.content[{j}]"
        if role in ("system", "developer"):
            block = _text_block(part, at, role)
            if block is not None:
                tb.system(block)
        elif role == "assistant":
            block = _text_block(part, at, role)
            if block is not None:
                tb.add("assistant", block)
        else:
            block = user_block(part, at)
            if block is not None:
                tb.add("user", block)


def _function_call(tb: TurnBuilder, item: Item, where: str) -> None:
    tb.add("assistant", _tool_use(item, _arguments(item.get("arguments"), where)))


def _custom_call(tb: TurnBuilder, item: Item, where: str) -> None:
    raw = item.get("input")
    tb.add("assistant", _tool_use(item, {"input": raw if isinstance(raw, str) else ""}))


def _tool_use(item: Item, arguments: dict[str, Any]) -> Block:
    block: Block = {
        "type": "tool_use",
        "id": tool_id(item["call_id"]),
        "name": wire_name(item["name"], item.get("namespace")),
        "input": arguments,
    }
    _cache(item, block)
    return block


def _arguments(raw: Any, where: str) -> dict[str, Any]:
    if raw is None or raw == "":
        return {}
    try:
        value = orjson.loads(raw) if isinstance(raw, str) else raw
    except orjson.JSONDecodeError:
        raise Untranslatable(
            "A function_call's arguments are not valid JSON; an Anthropic upstream needs the "
            "call's input as a JSON object.",
            param=f"{where}.arguments",
        ) from None
    if not isinstance(value, dict):
        raise Untranslatable(
            "A function_call's arguments must be a JSON object for an Anthropic upstream.",
            param=f"{where}.arguments",
        )
    return value


def _call_output(tb: TurnBuilder, item: Item, where: str) -> None:
    block: Block = {"type": "tool_result", "tool_use_id": tool_id(item["call_id"])}
    is_error = item.get("_is_error") is True
    content = _result_content(item.get("output"), f"{where}.output")
    if is_error:
        content = _strip_error_prefix(content)
    if content:
        block["content"] = content
    if is_error:
        block["is_error"] = True
    _cache(item, block)
    tb.first("user", block, frozenset({"tool_result"}))


def _reasoning(tb: TurnBuilder, item: Item, where: str) -> None:
    block = thinking_block(item.get("_provider"))
    if block is not None:  # another family's reasoning, or a blob we did not seal: never sent
        tb.first("assistant", block, _THINKING)


def thinking_block(pd: ProviderData | None) -> Block | None:
    if pd is None or pd.family != FAMILY:
        return None
    data = pd.data
    redacted = data.get("redacted", data.get("redacted_thinking"))
    if isinstance(redacted, str) and redacted:
        return {"type": "redacted_thinking", "data": redacted}
    text, signature = data.get("thinking"), data.get("signature")
    if isinstance(text, str) and isinstance(signature, str) and signature:
        return {"type": "thinking", "thinking": text, "signature": signature}
    return None  # unsigned thinking: Anthropic would refuse it


def _compaction(tb: TurnBuilder, item: Item, where: str) -> None:
    text = summary_text(item)  # opened by the front door; the upstream sees the summary
    if text is None:
        raise Untranslatable(
            "A compaction item in the conversation could not be expanded into its summary; send "
            "the compaction item again as input.",
            param=where,
        )
    tb.add("user", {"type": "text", "text": text})


_ITEMS: dict[str, Callable[[TurnBuilder, Item, str], None]] = {
    "message": _message,
    "function_call": _function_call,
    "custom_tool_call": _custom_call,
    "function_call_output": _call_output,
    "custom_tool_call_output": _call_output,
    "reasoning": _reasoning,
    "compaction": _compaction,
}


# -- parts -------------------------------------------------------------------------------------


def _cache(source: dict[str, Any], block: Block) -> None:
    mark = source.get("_cache_control")
    if mark is not None:
        block["cache_control"] = mark


def _text_block(part: Any, where: str, role: str) -> Block | None:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind in _TEXT_KINDS:
        text = part.get("text")
    elif kind == "refusal":
        text = part.get("refusal")
    else:
        raise Untranslatable(
            f"Content part '{kind}' cannot be sent in a {role} message to an Anthropic upstream.",
            param=where,
        )
    if not isinstance(text, str) or not text:
        return None  # Anthropic refuses empty text blocks; an empty one says nothing
    block: Block = {"type": "text", "text": text}
    _cache(part, block)
    return block


def user_block(part: Any, where: str) -> Block | None:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind == "input_image":
        block = _image(part, where)
    elif kind == "input_file":
        block = _document(part, where)
    else:
        return _text_block(part, where, "user")
    _cache(part, block)
    return block


def _image(part: dict[str, Any], where: str) -> Block:
    url = part.get("image_url")
    if isinstance(url, dict):
        url = url.get("url")
    if not isinstance(url, str) or not url:
        raise Untranslatable(
            "input_image by file_id cannot be sent to an Anthropic upstream; send image_url "
            "(a data: URL or an https URL).",
            param=where,
        )
    if url.startswith(("https://", "http://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    media, data = _data_url(url, where)
    if media not in IMAGE_TYPES:
        raise Untranslatable(
            f"Image type '{media}' cannot be sent to an Anthropic upstream; it takes "
            f"{', '.join(sorted(IMAGE_TYPES))}.",
            param=where,
        )
    return {"type": "image", "source": {"type": "base64", "media_type": media, "data": data}}


def _document(part: dict[str, Any], where: str) -> Block:
    filename = part.get("filename") if isinstance(part.get("filename"), str) else None
    data, url = part.get("file_data"), part.get("file_url")
    if isinstance(data, str) and data:
        if data.startswith("data:"):
            media, payload = _data_url(data, where)
        else:  # bare base64: the file name says what it is
            media, payload = _media_of(filename), data
        source = _document_source(media, payload, where)
    elif isinstance(url, str) and url:
        source = {"type": "url", "url": url}
    else:
        raise Untranslatable(
            "input_file by file_id cannot be sent to an Anthropic upstream; send file_data "
            "(a base64 data: URL) or file_url.",
            param=where,
        )
    block: Block = {"type": "document", "source": source}
    if filename:
        block["title"] = filename
    return block


def _document_source(media: str, payload: str, where: str) -> dict[str, Any]:
    if media == "application/pdf":
        return {"type": "base64", "media_type": media, "data": payload}
    if media.startswith("text/"):
        try:
            text = base64.b64decode(payload, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise InvalidRequest(
                "input_file.file_data is not valid base64 text.", param=where
            ) from None
        return {"type": "text", "media_type": "text/plain", "data": text}
    raise Untranslatable(
        f"input_file of type '{media}' cannot be sent to an Anthropic upstream; it takes PDF "
        "and plain-text documents.",
        param=where,
    )


def _media_of(filename: str | None) -> str:
    name = (filename or "").lower()
    if name.endswith((".txt", ".md", ".csv")):
        return "text/plain"
    return "application/pdf" if name.endswith(".pdf") or not name else "application/octet-stream"


def _data_url(url: str, where: str) -> tuple[str, str]:
    m = _DATA_URL.match(url)
    if m is None:
        raise Untranslatable(
            "Only base64 data: URLs (data:<type>;base64,...) or http(s) URLs can be sent to an "
            "Anthropic upstream.",
            param=where,
        )
    return m.group(1).strip().lower(), m.group(3)


def _result_content(output: Any, where: str) -> str | list[Block]:
    if output is None:
        return ""
    if isinstance(output, str):
        return output
    blocks = []
    for k, part in enumerate(output if isinstance(output, list) else [output]):
        block = user_block(part, f"{where}[{k}]")
        if block is not None:
            blocks.append(block)
    return blocks


def _strip_error_prefix(content: str | list[Block]) -> str | list[Block]:
    """Undo the ``Error: `` a Messages front door writes for clients without an error flag:
    here ``is_error`` carries it."""
    if isinstance(content, str):
        return (
            content.removeprefix("Error:").removeprefix(" ")
            if content.startswith("Error:")
            else content
        )
    if content and content[0]["type"] == "text" and content[0]["text"].startswith("Error:"):
        text = content[0]["text"].removeprefix("Error:").removeprefix(" ")
        return [{**content[0], "text": text}, *content[1:]] if text else content[1:]
    return content
