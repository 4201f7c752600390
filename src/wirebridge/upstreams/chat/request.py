"""Encode a ``HubRequest`` as a Chat Completions request body (hub → wire).

Items become messages: system/developer text and ``instructions`` merge into one leading system
message; an assistant turn gathers its text, its tool calls and the reasoning it came with (only
when that reasoning was produced by this provider family); tool outputs become ``tool`` messages.
Anything the chat protocol cannot carry raises ``Untranslatable`` naming it.
"""

from __future__ import annotations

from typing import Any

import orjson

from wirebridge.errors import Untranslatable
from wirebridge.hub.compaction import summary_text
from wirebridge.hub.request import HubRequest, Item, refuse_openai_objects
from wirebridge.hub.seal import ProviderData
from wirebridge.hub.tools import HubTool, ToolSet, wire_name
from wirebridge.providers.profiles import Profile
from wirebridge.upstreams.chat.messages import MessageBuilder

Body = dict[str, Any]


def encode_request(req: HubRequest, upstream_model: str, profile: Profile, stream: bool) -> Body:
    refuse_openai_objects(req, "This model's upstream speaks Chat Completions and cannot use it.")
    body: Body = {"model": upstream_model, "messages": encode_messages(req, profile)}
    if stream:
        body["stream"] = True
        if profile.stream_usage:
            body["stream_options"] = {"include_usage": True}
    if req.tools:
        body["tools"] = [encode_tool(t) for t in req.tools.tools]
        choice = encode_tool_choice(req.tool_choice, req.tools)
        if choice is not None:
            body["tool_choice"] = choice
    if req.max_output_tokens is not None:
        body[profile.max_tokens_field] = req.max_output_tokens
    _encode_sampling(req, body, profile)
    _encode_reasoning(req, body, profile)
    fmt = encode_response_format(req.text_format)
    if fmt is not None:
        body["response_format"] = fmt
    allowed = profile.params
    out = {k: v for k, v in body.items() if k in _ALWAYS or k in allowed}
    if req.source == "chat":
        # A chat client's fields the hub does not model reach a chat upstream unchanged.
        for k, v in req.extra.items():
            out.setdefault(k, v)
    return out


_ALWAYS = frozenset(
    {
        "model",
        "messages",
        "stream",
        "stream_options",
        "tools",
        "tool_choice",
        "max_tokens",
        "max_completion_tokens",
        "reasoning_effort",
        "thinking",
        "reasoning",
    }
)


def _encode_sampling(req: HubRequest, body: Body, profile: Profile) -> None:
    for name in (
        "temperature",
        "top_p",
        "stop",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "service_tier",
    ):
        value = getattr(req, name)
        if value is not None:
            body[name] = value
    if req.top_logprobs is not None:
        body["logprobs"] = True
        body["top_logprobs"] = req.top_logprobs
    if req.parallel_tool_calls is not None and req.tools:
        body["parallel_tool_calls"] = req.parallel_tool_calls
    if req.user or req.safety_identifier:
        body["user"] = req.user or req.safety_identifier
    if req.safety_identifier:
        body["safety_identifier"] = req.safety_identifier
    if req.metadata:
        body["metadata"] = req.metadata
    if req.prompt_cache_key:
        body["prompt_cache_key"] = req.prompt_cache_key


def _encode_reasoning(req: HubRequest, body: Body, profile: Profile) -> None:
    effort = req.effort
    if effort is None:
        return
    style = profile.reasoning_request
    if style == "reasoning_effort":
        body["reasoning_effort"] = effort
    elif style == "thinking":
        body["thinking"] = {"type": "disabled" if effort in ("none", "minimal") else "enabled"}
    elif style == "reasoning_object":
        body["reasoning"] = {"effort": effort}


def encode_response_format(fmt: dict[str, Any] | None) -> dict[str, Any] | None:
    if fmt is None:
        return None
    kind = fmt.get("type")
    if kind == "json_schema":
        schema = {k: fmt[k] for k in ("name", "schema", "strict", "description") if k in fmt}
        return {"type": "json_schema", "json_schema": schema}
    if kind == "json_object":
        return {"type": "json_object"}
    if kind in ("text", None):
        return None
    raise Untranslatable(f"text.format type '{kind}' is not supported.", param="text.format")


def encode_tool(tool: HubTool) -> dict[str, Any]:
    fn: dict[str, Any] = {"name": tool.wire_name}
    if tool.kind == "custom":
        fn["description"] = _custom_description(tool)
        fn["parameters"] = {
            "type": "object",
            "properties": {"input": {"type": "string", "description": "The raw tool input."}},
            "required": ["input"],
            "additionalProperties": False,
        }
        return {"type": "function", "function": fn}
    if tool.description:
        fn["description"] = tool.description
    fn["parameters"] = tool.parameters or {"type": "object", "properties": {}}
    if tool.strict is not None:
        fn["strict"] = tool.strict
    return {"type": "function", "function": fn}


def _custom_description(tool: HubTool) -> str:
    desc = tool.description or ""
    fmt = tool.format or {}
    if fmt.get("type") == "grammar" and fmt.get("definition"):
        desc += (
            f"\n\nPass the raw tool input as the string argument `input`; it must match this "
            f"{fmt.get('syntax', 'lark')} grammar:\n{fmt['definition']}"
        )
    else:
        desc += "\n\nPass the raw tool input as the string argument `input`."
    return desc.strip()


def encode_tool_choice(choice: Any, tools: ToolSet) -> Any:
    if choice is None or isinstance(choice, str):
        return choice
    if not isinstance(choice, dict):
        raise Untranslatable("tool_choice must be a string or an object.", param="tool_choice")
    kind = choice.get("type")
    if kind in ("function", "custom"):
        name = wire_name(str(choice.get("name")), choice.get("namespace"))
        return {"type": "function", "function": {"name": name}}
    if kind == "allowed_tools":
        return "required" if choice.get("mode") == "required" else "auto"
    raise Untranslatable(f"tool_choice type '{kind}' is not supported.", param="tool_choice")


def encode_messages(req: HubRequest, profile: Profile) -> list[dict[str, Any]]:
    mb = MessageBuilder(req.tools)
    if req.instructions:
        mb.system(req.instructions)
    for i, item in enumerate(req.input):
        kind = item.get("type", "message")
        encoder = _ITEM_ENCODERS.get(kind)
        if encoder is None:
            raise Untranslatable(
                f"Input item type '{kind}' cannot be sent to a Chat Completions upstream.",
                param=f"input[{i}]",
            )
        encoder(mb, item, profile)
    return mb.finish()


def _enc_message(mb: MessageBuilder, item: Item, profile: Profile) -> None:
    mb.message(item)


def _enc_function_call(mb: MessageBuilder, item: Item, profile: Profile) -> None:
    mb.tool_call(
        item["call_id"],
        wire_name(item["name"], item.get("namespace")),
        item.get("arguments") or "{}",
    )


def _enc_custom_call(mb: MessageBuilder, item: Item, profile: Profile) -> None:
    args = orjson.dumps({"input": item.get("input", "")}).decode()
    mb.tool_call(item["call_id"], wire_name(item["name"], item.get("namespace")), args)


def _enc_call_output(mb: MessageBuilder, item: Item, profile: Profile) -> None:
    mb.tool_output(item["call_id"], item.get("output"))


def _enc_reasoning(mb: MessageBuilder, item: Item, profile: Profile) -> None:
    pd: ProviderData | None = item.get("_provider")
    if pd is None or pd.family != profile.family or not profile.replay_reasoning:
        return  # another family's reasoning, or a blob we did not seal: never forwarded
    text = pd.data.get("reasoning_content")
    if isinstance(text, str):
        mb.reasoning(text)


def _enc_compaction(mb: MessageBuilder, item: Item, profile: Profile) -> None:
    text = summary_text(item)  # opened by the front door; the upstream sees the summary
    if text is None:
        raise Untranslatable(
            "A compaction item in the conversation could not be expanded into its summary; send "
            "the compaction item again as input."
        )
    mb.message({"role": "user", "content": text})


_ITEM_ENCODERS = {
    "message": _enc_message,
    "function_call": _enc_function_call,
    "custom_tool_call": _enc_custom_call,
    "function_call_output": _enc_call_output,
    "custom_tool_call_output": _enc_call_output,
    "reasoning": _enc_reasoning,
    "compaction": _enc_compaction,
}
