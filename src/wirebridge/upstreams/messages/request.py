"""Encode a ``HubRequest`` as an Anthropic ``POST /v1/messages`` body (hub → wire).

``system`` and ``messages`` come from ``turns.py``. The rest:

* ``max_output_tokens`` → ``max_tokens``, which Anthropic requires: the ``anthropic.max_tokens``
  setting (8192) when the client set none.
* tools → ``{name, description, input_schema}``; a custom (freeform) tool becomes the same
  one-string-argument shim the chat encoder uses, and its call comes back unwrapped. A request
  without tools whose history holds tool calls declares the tools used there, with
  ``tool_choice: none`` (Anthropic refuses tool blocks without tools).
  ``tool_choice``: auto → auto, required → any, a function → tool, none → none;
  ``parallel_tool_calls: false`` → ``disable_parallel_tool_use``.
* reasoning effort → ``thinking`` (see the package docstring for the modes); ``max_tokens`` is
  raised above the budget when it is not. Anthropic refuses thinking with a forced tool choice,
  and budgeted thinking on a tool-use turn whose assistant message does not open with the
  thinking it was made with (history from another model); the effort is then not asked for.
  ``temperature`` and ``top_k`` are not sent with thinking (Anthropic refuses them).
* ``stop`` → ``stop_sequences``; ``temperature`` (capped at Anthropic's 1.0) and ``top_p``;
  ``user`` (or ``safety_identifier``) → ``metadata.user_id``; ``text.format`` json_schema →
  ``output_config.format``; ``service_tier`` auto/priority → auto, default/flex → standard_only.
* A Messages client's fields the hub does not model (``top_k``, ``thinking`` as it sent it,
  ``output_config``, ``context_management``, …) are sent back unchanged; the ``anthropic-beta``
  values its front door keeps in ``extra["_anthropic_beta"]`` go out as a header (``adapter``).
* Sampling hints an Anthropic model has no use for (``seed``, ``prompt_cache_key``,
  ``truncation``, ``max_tool_calls``, ``reasoning.summary``) are not sent; features it cannot
  give (log probabilities, presence/frequency penalties, json_object output, whitespace-only
  stop sequences) raise ``Untranslatable``.
"""

from __future__ import annotations

from typing import Any

from wirebridge.errors import Untranslatable
from wirebridge.hub.request import HubRequest, refuse_openai_objects
from wirebridge.hub.tools import HubTool, ToolSet, wire_name
from wirebridge.upstreams.chat.request import encode_tool as chat_tool
from wirebridge.upstreams.messages import DEFAULT_SETTINGS, AnthropicSettings
from wirebridge.upstreams.messages.turns import Message, encode_turns

Body = dict[str, Any]

BUDGETS = {"low": 2048, "medium": 8192, "high": 24576, "xhigh": 32768}
ADAPTIVE_EFFORTS = {"low": "low", "medium": "medium", "high": "high", "xhigh": "max"}
NO_THINKING = frozenset({"none", "minimal"})
ANSWER_ROOM = 4096  # tokens left for the answer when max_tokens is raised above a budget
SERVICE_TIERS = {
    "auto": "auto",
    "priority": "auto",
    "default": "standard_only",
    "flex": "standard_only",
}
# Hub fields a Messages client's extra must not override (the encoder owns them).
_OWNED = frozenset({"model", "messages", "system", "max_tokens", "stream", "tools"})


def encode_request(
    req: HubRequest,
    upstream_model: str,
    stream: bool,
    settings: AnthropicSettings = DEFAULT_SETTINGS,
) -> Body:
    _refuse_untranslatable(req)
    system, messages = encode_turns(req)
    body: Body = {"model": upstream_model}
    if system is not None:
        body["system"] = system
    body["messages"] = messages
    body["max_tokens"] = (
        req.max_output_tokens if req.max_output_tokens is not None else settings.max_tokens
    )
    if stream:
        body["stream"] = True
    if req.tools:
        body["tools"] = [encode_tool(t) for t in req.tools.tools]
        choice = encode_tool_choice(req.tool_choice, req.parallel_tool_calls, req.tools)
        if choice is not None:
            body["tool_choice"] = choice
    else:
        _tools_of_history(body, messages)
    _encode_params(req, body)
    _encode_thinking(req, body, messages, settings)
    if req.source == "messages":
        # A Messages client's fields the hub does not model reach Anthropic as it sent them.
        for k, v in req.extra.items():
            if k not in _OWNED and not k.startswith("_"):
                body[k] = v
    _drop_refused_with_thinking(body)
    return body


def _tools_of_history(body: Body, messages: list[Message]) -> None:
    """Anthropic refuses tool_use/tool_result blocks in a request that declares no tools: the
    tools the history used are declared (with any input) and none may be called."""
    names = {b["name"] for m in messages for b in m["content"] if b["type"] == "tool_use"}
    if names or any(b["type"] == "tool_result" for m in messages for b in m["content"]):
        names = names or {"tool"}
        body["tools"] = [{"name": n, "input_schema": {"type": "object"}} for n in sorted(names)]
        body["tool_choice"] = {"type": "none"}


def _refuse_untranslatable(req: HubRequest) -> None:
    refuse_openai_objects(req, "This model's upstream speaks Anthropic Messages and cannot use it.")
    if req.top_logprobs or (req.source == "chat" and req.top_logprobs is not None):
        raise Untranslatable(
            "Log probabilities are not available from an Anthropic upstream.",
            param="top_logprobs",
        )
    for name in ("presence_penalty", "frequency_penalty"):
        if getattr(req, name):
            raise Untranslatable(f"'{name}' is not supported by an Anthropic upstream.", param=name)


# -- tools -------------------------------------------------------------------------------------


def encode_tool(tool: HubTool) -> dict[str, Any]:
    fn = chat_tool(tool)["function"]  # the same custom-tool shim the chat upstream gets
    out: dict[str, Any] = {"name": fn["name"]}
    if fn.get("description"):
        out["description"] = fn["description"]
    schema = fn.get("parameters") or {}
    out["input_schema"] = schema if schema.get("type") == "object" else {"type": "object", **schema}
    return out


def encode_tool_choice(choice: Any, parallel: bool | None, tools: ToolSet) -> Any:
    out: dict[str, Any] | None
    if choice is None or choice == "auto":
        out = {"type": "auto"} if parallel is False else None
    elif choice == "required":
        out = {"type": "any"}
    elif choice == "none":
        return {"type": "none"}
    elif isinstance(choice, dict) and choice.get("type") in ("function", "custom"):
        out = {"type": "tool", "name": wire_name(str(choice.get("name")), choice.get("namespace"))}
    elif isinstance(choice, dict) and choice.get("type") == "allowed_tools":
        out = {"type": "any" if choice.get("mode") == "required" else "auto"}
    else:
        raise Untranslatable(
            f"tool_choice {choice!r} cannot be sent to an Anthropic upstream.", param="tool_choice"
        )
    if out is not None and parallel is False:
        out["disable_parallel_tool_use"] = True
    return out


# -- parameters --------------------------------------------------------------------------------


def _encode_params(req: HubRequest, body: Body) -> None:
    if req.stop:
        stops = [req.stop] if isinstance(req.stop, str) else list(req.stop)
        if not all(isinstance(s, str) and s.strip() for s in stops):
            raise Untranslatable(
                "An Anthropic upstream refuses stop sequences that are empty or only whitespace "
                "(such as a newline).",
                param="stop",
            )
        body["stop_sequences"] = stops
    if req.temperature is not None:
        body["temperature"] = min(float(req.temperature), 1.0)
    if req.top_p is not None:
        body["top_p"] = req.top_p
    user = req.user or req.safety_identifier
    if user:
        body["metadata"] = {"user_id": user}
    tier = SERVICE_TIERS.get(req.service_tier or "")
    if tier is not None:
        body["service_tier"] = tier
    fmt = req.text_format
    kind = fmt.get("type") if fmt else None
    if kind == "json_schema" and fmt is not None:
        body["output_config"] = {"format": {"type": "json_schema", "schema": fmt.get("schema")}}
    elif kind not in (None, "text"):
        raise Untranslatable(
            f"text.format type '{kind}' cannot be sent to an Anthropic upstream; use json_schema.",
            param="text.format",
        )


def _encode_thinking(
    req: HubRequest, body: Body, messages: list[Message], settings: AnthropicSettings
) -> None:
    if req.source == "messages" and "thinking" in req.extra:
        return  # the client's own thinking goes out as it is (with its other fields)
    effort = req.effort
    if effort is None or effort in NO_THINKING or settings.thinking == "off":
        return
    if effort not in BUDGETS:
        raise Untranslatable(
            f"reasoning.effort '{effort}' cannot be sent to an Anthropic upstream.",
            param="reasoning.effort",
        )
    if body.get("tool_choice", {}).get("type") in ("any", "tool"):
        return
    if settings.thinking == "adaptive":  # (the model may think or not on any turn)
        body["thinking"] = {"type": "adaptive"}
        body.setdefault("output_config", {})["effort"] = ADAPTIVE_EFFORTS[effort]
        return
    if _tool_turn_without_thinking(messages):
        return
    budget = BUDGETS[effort]
    body["thinking"] = {"type": "enabled", "budget_tokens": budget}
    if body["max_tokens"] <= budget:
        body["max_tokens"] = budget + min(body["max_tokens"], ANSWER_ROOM)


def _tool_turn_without_thinking(messages: list[Message]) -> bool:
    """Whether the request continues a tool-use turn whose assistant message does not open with
    a thinking block: Anthropic refuses thinking for it."""
    if len(messages) < 2 or messages[-1]["role"] != "user":
        return False
    results = any(b["type"] == "tool_result" for b in messages[-1]["content"])
    opening = messages[-2]["content"][0]["type"] if messages[-2]["content"] else None
    return results and opening not in ("thinking", "redacted_thinking")


def _drop_refused_with_thinking(body: Body) -> None:
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive"):
        body.pop("temperature", None)
        body.pop("top_k", None)
