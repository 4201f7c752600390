"""The one accumulator: folds hub events into the final Response object.

Streamed and non-streamed answers, the store and usage accounting all read the Response built
here, so they cannot disagree. Every field the Responses schema lists is present with a
schema-valid value even when the client did not set it (strict clients validate this).
"""

from __future__ import annotations

import time
from typing import Any

from wirebridge.hub.request import HubRequest

Event = dict[str, Any]
TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})


class ResponseBuilder:
    def __init__(self, response_id: str, req: HubRequest, model: str | None = None) -> None:
        self.id = response_id
        self.req = req
        self.model = model or req.model
        self.created_at = int(time.time())
        self._done: dict[int, dict[str, Any]] = {}
        self.response: dict[str, Any] | None = None  # the final Response, once terminal

    def snapshot(self, status: str = "in_progress") -> dict[str, Any]:
        return self._response(status, [])

    def feed(self, event: Event) -> Event:
        """Record ``event``; a partial terminal event is completed with the full Response."""
        kind = event["type"]
        if kind == "response.output_item.done":
            self._done[event["output_index"]] = event["item"]
        elif kind in TERMINAL:
            event = {"type": kind, "response": self.finish(event["response"])}
        return event

    def finish(self, partial: dict[str, Any]) -> dict[str, Any]:
        status = partial.get("status", "completed")
        output = [self._done[i] for i in sorted(self._done)]
        resp = self._response(status, output)
        resp["incomplete_details"] = partial.get("incomplete_details")
        resp["usage"] = partial.get("usage")
        resp["error"] = partial.get("error")
        if status == "completed":
            resp["completed_at"] = int(time.time())
        self.response = resp
        return resp

    def failed(self, code: str, message: str) -> Event:
        """A terminal ``response.failed`` event for an error raised outside the decoder."""
        return self.feed(
            {
                "type": "response.failed",
                "response": {"status": "failed", "error": {"code": code, "message": message}},
            }
        )

    def _response(self, status: str, output: list[dict[str, Any]]) -> dict[str, Any]:
        r = self.req
        text = dict(r.text) if r.text else {}
        text["format"] = _echo_format(text.get("format"))
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "completed_at": None,
            "status": status,
            "background": r.background,
            "error": None,
            "incomplete_details": None,
            "instructions": r.instructions,
            "max_output_tokens": r.max_output_tokens,
            "max_tool_calls": r.max_tool_calls,
            "model": self.model,
            "output": output,
            "parallel_tool_calls": r.parallel_tool_calls
            if r.parallel_tool_calls is not None
            else True,
            "previous_response_id": r.previous_response_id,
            "prompt_cache_key": r.prompt_cache_key,
            "reasoning": _echo_reasoning(r.reasoning),
            "safety_identifier": r.safety_identifier,
            "service_tier": r.service_tier or "default",
            "store": r.store,
            "temperature": r.temperature if r.temperature is not None else 1.0,
            "text": text,
            "tool_choice": r.tool_choice if r.tool_choice is not None else "auto",
            "tools": r.tools.declared,
            "top_logprobs": r.top_logprobs or 0,
            "top_p": r.top_p if r.top_p is not None else 1.0,
            "presence_penalty": r.presence_penalty or 0.0,
            "frequency_penalty": r.frequency_penalty or 0.0,
            "truncation": r.truncation or "disabled",
            "usage": None,
            "user": r.user,
            "metadata": r.metadata or {},
        }


def _echo_format(fmt: Any) -> dict[str, Any]:
    if not isinstance(fmt, dict):
        return {"type": "text"}
    if fmt.get("type") == "json_schema":
        return {
            **fmt,
            "description": fmt.get("description"),
            "schema": fmt.get("schema"),
            "strict": bool(fmt.get("strict", False)),
        }
    return fmt


def _echo_reasoning(reasoning: Any) -> dict[str, Any] | None:
    if not isinstance(reasoning, dict):
        return None
    return {**reasoning, "effort": reasoning.get("effort"), "summary": reasoning.get("summary")}
