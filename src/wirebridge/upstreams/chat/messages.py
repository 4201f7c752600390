"""Assemble Chat Completions messages from hub items, one assistant turn at a time."""

from __future__ import annotations

from typing import Any

from wirebridge.errors import Untranslatable
from wirebridge.hub.request import Item
from wirebridge.hub.tools import ToolSet

Message = dict[str, Any]


class MessageBuilder:
    """Folds items into messages: consecutive assistant items share one assistant message."""

    def __init__(self, tools: ToolSet) -> None:
        self._tools = tools
        self._system: list[str] = []
        self._messages: list[Message] = []
        self._turn: Message | None = None  # the assistant message being gathered
        self._pending_user: list[dict[str, Any]] = []  # images returned by tools

    def system(self, text: str) -> None:
        self._system.append(text)

    def message(self, item: Item) -> None:
        role = item.get("role")
        content = item.get("content")
        if role in ("system", "developer"):
            self._system.append(_text_only(content, role))
        elif role == "assistant":
            turn = self._assistant()
            text = _text_only(content, role)
            turn["content"] = (turn.get("content") or "") + text
        else:
            self._close_turn()
            self._flush_pending_user()
            self._messages.append({"role": "user", "content": _user_content(content)})

    def reasoning(self, text: str) -> None:
        if self._turn is not None and "reasoning_content" in self._turn:
            self._close_turn()
        self._assistant()["reasoning_content"] = text

    def tool_call(self, call_id: str, name: str, arguments: str) -> None:
        call = {
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": arguments},
        }
        self._assistant().setdefault("tool_calls", []).append(call)

    def tool_output(self, call_id: str, output: Any) -> None:
        self._close_turn()
        text, extra = _tool_output(output)
        self._messages.append({"role": "tool", "tool_call_id": call_id, "content": text})
        self._pending_user.extend(extra)

    def finish(self) -> list[Message]:
        self._close_turn()
        self._flush_pending_user()
        if self._system:
            return [{"role": "system", "content": "\n\n".join(self._system)}, *self._messages]
        return self._messages

    def _assistant(self) -> Message:
        if self._turn is None:
            self._flush_pending_user()
            self._turn = {"role": "assistant", "content": None}
        return self._turn

    def _close_turn(self) -> None:
        turn, self._turn = self._turn, None
        if turn is not None:
            if turn.get("content") is None:
                turn["content"] = ""
            self._messages.append(turn)

    def _flush_pending_user(self) -> None:
        # Tool messages cannot hold images, and nothing may sit between an assistant's tool calls
        # and their results: images a tool returned follow as one user message after them.
        if self._pending_user:
            parts, self._pending_user = self._pending_user, []
            self._messages.append({"role": "user", "content": parts})


def _text_only(content: Any, role: str) -> str:
    if isinstance(content, str):
        return content
    out = []
    for part in content or ():
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_text", "output_text", "text", "summary_text"):
            out.append(part.get("text") or "")
        elif kind == "refusal":
            out.append(part.get("refusal") or "")
        else:
            raise Untranslatable(f"Content part '{kind}' is not supported in a {role} message.")
    return "".join(out)


def _user_content(content: Any) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    parts = [_user_part(p) for p in content or ()]
    if all(p["type"] == "text" for p in parts):
        return "\n".join(p["text"] for p in parts)
    return parts


def _user_part(part: Any) -> dict[str, Any]:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind in ("input_text", "output_text", "text"):
        return {"type": "text", "text": part.get("text") or ""}
    if kind == "input_image":
        url = part.get("image_url")
        if not url:
            raise Untranslatable(
                "input_image by file_id is not supported for this upstream; send image_url "
                "(a data: URL or https URL)."
            )
        image = {"url": url}
        if part.get("detail"):
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if kind == "input_file":
        file = {k: part[k] for k in ("file_id", "file_data", "filename") if part.get(k)}
        if "file_url" in part and not file:
            raise Untranslatable("input_file by file_url is not supported for this upstream.")
        return {"type": "file", "file": file}
    if kind == "input_audio":
        return {"type": "input_audio", "input_audio": part.get("input_audio") or {}}
    raise Untranslatable(f"Content part '{kind}' is not supported in a user message.")


def _tool_output(output: Any) -> tuple[str, list[dict[str, Any]]]:
    if isinstance(output, str):
        return output, []
    if output is None:
        return "", []
    texts: list[str] = []
    extra: list[dict[str, Any]] = []
    for part in output if isinstance(output, list) else [output]:
        converted = _user_part(part)
        if converted["type"] == "text":
            texts.append(converted["text"])
        else:
            extra.append(converted)
    return "\n".join(texts), extra
