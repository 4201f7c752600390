"""Each front door of the matrix, driven by its official SDK, streamed.

A driver holds one conversation: ``ask`` sends a user message, ``answer_tools`` sends tool
outputs for the calls it got; both send the whole history back (the client's own record of the
assistant turns, reasoning included) and return what came back as a neutral ``Seen``.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai

from tests.e2e.matrix.model import WEATHER, Seen


class ResponsesDriver:
    name = "responses"

    def __init__(self, base_url: str, model: str) -> None:
        self.client = openai.OpenAI(base_url=base_url + "/v1", api_key="sk-m", max_retries=0)
        self.model = model
        self.history: list[Any] = []
        self.tools = [{"type": "function", "strict": False, **WEATHER}]

    def ask(self, text: str) -> Seen:
        self.history.append({"role": "user", "content": text})
        return self._turn()

    def answer_tools(self, outputs: dict[str, str]) -> Seen:
        self.history += [
            {"type": "function_call_output", "call_id": cid, "output": out}
            for cid, out in outputs.items()
        ]
        return self._turn()

    def _turn(self) -> Seen:
        seen = Seen()
        try:
            with self.client.responses.stream(
                model=self.model,
                input=self.history,
                tools=self.tools,  # type: ignore[arg-type]
                reasoning={"effort": "medium", "summary": "auto"},
            ) as stream:
                final = None
                for ev in stream:
                    if ev.type == "response.output_text.delta":
                        seen.text += ev.delta
                    elif ev.type == "response.reasoning_summary_text.delta":
                        seen.reasoning += ev.delta
                    elif ev.type in ("response.completed", "response.incomplete"):
                        # (the SDK's get_final_response() knows only response.completed)
                        final = ev.response
        except openai.APIStatusError as e:
            seen.finish, seen.error_status = "error", e.status_code
            return seen
        assert final is not None, "the stream ended without a terminal event"
        seen.model = final.model
        for item in final.output:
            self.history.append(item.model_dump(mode="json", exclude_none=True))
            if item.type == "function_call":
                seen.calls.append((item.call_id, item.name, item.arguments))
        if final.status == "incomplete":
            seen.finish = "length"
        else:
            seen.finish = "tool" if seen.calls else "stop"
        return seen


class ChatDriver:
    name = "chat"

    def __init__(self, base_url: str, model: str) -> None:
        self.client = openai.OpenAI(base_url=base_url + "/v1", api_key="sk-m", max_retries=0)
        self.model = model
        self.messages: list[dict[str, Any]] = []
        self.tools = [{"type": "function", "function": WEATHER}]

    def ask(self, text: str) -> Seen:
        self.messages.append({"role": "user", "content": text})
        return self._turn()

    def answer_tools(self, outputs: dict[str, str]) -> Seen:
        self.messages += [
            {"role": "tool", "tool_call_id": cid, "content": out} for cid, out in outputs.items()
        ]
        return self._turn()

    def _turn(self) -> Seen:
        seen = Seen()
        calls: dict[int, list[str]] = {}
        try:
            stream = self.client.chat.completions.create(
                model=self.model,
                messages=self.messages,
                tools=self.tools,  # type: ignore[arg-type]
                stream=True,
                stream_options={"include_usage": True},
                reasoning_effort="medium",
            )
            for chunk in stream:
                seen.model = chunk.model
                for choice in chunk.choices:
                    d = choice.delta
                    seen.text += d.content or ""
                    seen.reasoning += (d.model_extra or {}).get("reasoning_content") or ""
                    for tc in d.tool_calls or ():
                        slot = calls.setdefault(tc.index, ["", "", ""])
                        fn = tc.function
                        slot[0] = tc.id or slot[0]
                        slot[1] = (fn.name if fn and fn.name else "") or slot[1]
                        slot[2] += (fn.arguments if fn else "") or ""
                    if choice.finish_reason:
                        seen.finish = {"tool_calls": "tool", "length": "length"}.get(
                            choice.finish_reason, "stop"
                        )
        except openai.APIStatusError as e:
            seen.finish, seen.error_status = "error", e.status_code
            return seen
        seen.calls = [tuple(c) for _, c in sorted(calls.items())]  # type: ignore[misc]
        message: dict[str, Any] = {"role": "assistant", "content": seen.text}
        if seen.reasoning:
            message["reasoning_content"] = seen.reasoning
        if seen.calls:
            message["tool_calls"] = [
                {"id": cid, "type": "function", "function": {"name": n, "arguments": a}}
                for cid, n, a in seen.calls
            ]
        self.messages.append(message)
        return seen


class MessagesDriver:
    name = "messages"

    def __init__(self, base_url: str, model: str) -> None:
        self.client = anthropic.Anthropic(base_url=base_url, api_key="sk-m", max_retries=0)
        self.model = model
        self.messages: list[dict[str, Any]] = []
        self.tools = [
            {
                "name": WEATHER["name"],
                "description": WEATHER["description"],
                "input_schema": WEATHER["parameters"],
            }
        ]

    def ask(self, text: str) -> Seen:
        self.messages.append({"role": "user", "content": text})
        return self._turn()

    def answer_tools(self, outputs: dict[str, str]) -> Seen:
        self.messages.append(
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": cid, "content": out}
                    for cid, out in outputs.items()
                ],
            }
        )
        return self._turn()

    def _turn(self) -> Seen:
        seen = Seen()
        try:
            with self.client.messages.stream(
                model=self.model,
                max_tokens=4096,
                messages=self.messages,  # type: ignore[arg-type]
                tools=self.tools,  # type: ignore[arg-type]
                thinking={"type": "enabled", "budget_tokens": 2048},
            ) as stream:
                final = stream.get_final_message()
        except anthropic.APIStatusError as e:
            seen.finish, seen.error_status = "error", e.status_code
            return seen
        seen.model = final.model
        for block in final.content:
            if block.type == "text":
                seen.text += block.text
            elif block.type == "thinking":
                seen.reasoning += block.thinking
            elif block.type == "tool_use":
                seen.calls.append((block.id, block.name, json.dumps(block.input)))
        seen.finish = {"tool_use": "tool", "max_tokens": "length"}.get(
            final.stop_reason or "", "stop"
        )
        self.messages.append(
            {
                "role": "assistant",
                "content": [b.model_dump(mode="json", exclude_none=True) for b in final.content],
            }
        )
        return seen


DRIVERS = [ResponsesDriver, ChatDriver, MessagesDriver]
