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

Here are the turn assembly (``TurnBuilder``) and one encoder per item type; content parts become
blocks in ``blocks.py`` (images, documents, tool output content, thinking blocks).

What Anthropic cannot take raises ``Untranslatable`` naming the item or part.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson

from wirebridge.errors import Untranslatable
from wirebridge.hub.compaction import summary_text
from wirebridge.hub.request import HubRequest, Item
from wirebridge.hub.tools import wire_name
from wirebridge.upstreams.messages.blocks import (
    Block,
    copy_cache_control,
    result_content,
    strip_error_prefix,
    text_block,
    thinking_block,
    user_block,
)

Message = dict[str, Any]
System = str | list[Block] | None

NO_RESULT = "No result was provided for this tool call."
_ID_BAD = re.compile(r"[^a-zA-Z0-9_-]")
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
            block = text_block(part, at, role)
            if block is not None:
                tb.system(block)
        elif role == "assistant":
            block = text_block(part, at, role)
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
    copy_cache_control(item, block)
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
    content = result_content(item.get("output"), f"{where}.output")
    if is_error:
        content = strip_error_prefix(content)
    if content:
        block["content"] = content
    if is_error:
        block["is_error"] = True
    copy_cache_control(item, block)
    tb.first("user", block, frozenset({"tool_result"}))


def _reasoning(tb: TurnBuilder, item: Item, where: str) -> None:
    block = thinking_block(item.get("_provider"))
    if block is not None:  # another family's reasoning, or a blob we did not seal: never sent
        tb.first("assistant", block, _THINKING)


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
