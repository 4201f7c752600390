"""Encode a ``HubRequest`` as a Responses API request body (hub → wire).

The hub is already Responses-shaped, so this is mostly pass-through:

* a Responses client's fields the hub does not model (``HubRequest.extra``) go back unchanged;
  fields another protocol's client sent in ``extra`` are that protocol's, and stay behind;
* input items keep their wire shape, minus the gateway's private ``_`` keys (on copies — the
  caller's dicts are never touched);
* a reasoning item is sent only when its blob is this upstream's own: the gateway sealed it
  (``_provider``) under this upstream's family while relaying it, and it is unwrapped to the
  upstream's original ``encrypted_content`` and item id. Reasoning of any other family (DeepSeek
  text, Anthropic signatures, another provider's blobs) and blobs the gateway did not seal are
  dropped, never sent;
* a compaction item the gateway made becomes the user message with its summary;
* tools are what the front door kept (``server.drop_tool_types`` applies here too): function
  tools rebuilt from the hub's tools, custom and namespace tools as the client declared them,
  and tools from ``additional_tools`` items declared up front.

State: by default the gateway keeps the conversation (it has already expanded
``previous_response_id`` into ``input`` from its own store), so the whole input goes with
``store: false`` and no ``previous_response_id``. A ``stateful`` upstream gets ``store`` as the
client set it and, when the engine says where the new items start and which upstream response
the conversation continues (``req.extra["_new_items_from"]`` and
``req.extra["_upstream_previous_id"]``), only the new items with that ``previous_response_id``.
"""

from __future__ import annotations

from typing import Any

from wirebridge.errors import Untranslatable
from wirebridge.hub.compaction import summary_text
from wirebridge.hub.request import HubRequest, Item
from wirebridge.hub.seal import ProviderData
from wirebridge.hub.tools import HubTool, ToolSet, wire_name

Body = dict[str, Any]

# Hub fields sent as they are when set (the Responses API's own names).
_PASSED = (
    "instructions",
    "tool_choice",
    "parallel_tool_calls",
    "max_output_tokens",
    "temperature",
    "top_p",
    "top_logprobs",
    "user",
    "safety_identifier",
    "metadata",
    "text",
    "reasoning",
    "prompt_cache_key",
    "presence_penalty",
    "frequency_penalty",
    "max_tool_calls",
    "service_tier",
    "truncation",
)
# Hub fields only other protocols have: what the Responses API cannot express.
_NOT_IN_RESPONSES = {"stop": "stop sequences", "seed": "seed"}
ENCRYPTED_REASONING = "reasoning.encrypted_content"
OUTPUT_LOGPROBS = "message.output_text.logprobs"
NEW_ITEMS_FROM = "_new_items_from"
UPSTREAM_PREVIOUS_ID = "_upstream_previous_id"


def encode_request(
    req: HubRequest, upstream_model: str, stream: bool, *, family: str, stateful: bool = False
) -> Body:
    body: Body = {}
    if req.source == "responses":
        body.update((k, v) for k, v in req.extra.items() if not k.startswith("_"))
    _other_fields(req, body)
    body["model"] = upstream_model
    items, previous = _conversation(req, stateful)
    body["input"] = encode_input(items, family)
    tools = encode_tools(req.tools)
    if tools:
        body["tools"] = tools
    for name in _PASSED:
        value = getattr(req, name)
        if value is not None:
            body[name] = value
    include = _include(req)
    if include:
        body["include"] = include
    body["stream"] = stream
    if not stream:
        body.pop("stream_options", None)  # the upstream refuses it without stream: true
    body["store"] = req.store if stateful else False
    if previous is not None:
        body["previous_response_id"] = previous
    else:
        body.pop("previous_response_id", None)
    return body


def _other_fields(req: HubRequest, body: Body) -> None:
    """Fields the Responses API lacks: a Responses client's go to the upstream to judge; another
    protocol's client learns that this upstream cannot honour them."""
    for name, label in _NOT_IN_RESPONSES.items():
        value = getattr(req, name)
        if value is None:
            continue
        if req.source == "responses":
            body[name] = value
        else:
            raise Untranslatable(
                f"This model's upstream speaks the Responses API, which has no {label}; "
                f"remove '{name}' from the request.",
                param=name,
            )


def _conversation(req: HubRequest, stateful: bool) -> tuple[list[Item], str | None]:
    """The items to send and the upstream ``previous_response_id`` they continue, if any."""
    if stateful:
        start = req.extra.get(NEW_ITEMS_FROM)
        previous = req.extra.get(UPSTREAM_PREVIOUS_ID)
        if isinstance(start, int) and 0 <= start <= len(req.input) and isinstance(previous, str):
            return req.input[start:], previous
    return req.input, None


def _include(req: HubRequest) -> list[str]:
    include = list(req.include)
    # The gateway replays reasoning itself (store: false): ask for the blob whenever the
    # client asked for reasoning, as only reasoning models accept that.
    if req.reasoning is not None and ENCRYPTED_REASONING not in include:
        include.append(ENCRYPTED_REASONING)
    if (
        req.source != "responses"
        and req.top_logprobs is not None
        and OUTPUT_LOGPROBS not in include
    ):
        include.append(OUTPUT_LOGPROBS)  # a chat client's logprobs: true
    return include


# -- input -------------------------------------------------------------------------------------


def encode_input(items: list[Item], family: str) -> list[Item]:
    out: list[Item] = []
    for i, item in enumerate(items):
        kind = item.get("type")
        if kind == "reasoning":
            sent = _reasoning(item, family)
            if sent is not None:
                out.append(sent)
        elif kind == "compaction":
            out.append(_compaction(item, i))
        else:
            out.append(_public(item))
    return out


def _public(item: Item) -> Item:
    """``item`` without the gateway's private keys (a copy only when it has some)."""
    if any(k.startswith("_") for k in item):
        return {k: v for k, v in item.items() if not k.startswith("_")}
    return item


def _reasoning(item: Item, family: str) -> Item | None:
    pd = item.get("_provider")
    if not isinstance(pd, ProviderData) or pd.family != family:
        return None  # another family's reasoning, or a blob the gateway did not seal
    blob = pd.data.get("encrypted_content")
    if not isinstance(blob, str):
        return None
    out = _public(item)
    out = {**out, "encrypted_content": blob}
    original_id = pd.data.get("id")
    if isinstance(original_id, str) and original_id:
        out["id"] = original_id
    return out


def _compaction(item: Item, i: int) -> Item:
    text = summary_text(item)  # opened by the front door; the upstream sees the summary
    if text is None:
        raise Untranslatable(
            "A compaction item in the conversation could not be expanded into its summary; "
            "send the compaction item again as input.",
            param=f"input[{i}]",
        )
    return {"type": "message", "role": "user", "content": text}


# -- tools -------------------------------------------------------------------------------------


def encode_tools(tools: ToolSet) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    covered: set[str] = set()  # wire names of tools already in ``out``
    for tool in tools.declared:
        kind = tool.get("type")
        if kind == "function":
            hub = tools.find(str(tool.get("name")))
            if hub is not None:
                out.append(_function(hub))
                covered.add(hub.wire_name)
        elif kind == "custom":
            out.append(tool)
            covered.add(wire_name(str(tool.get("name")), None))
        elif kind == "namespace":
            inner = [t for t in tool.get("tools") or () if _kept(t, tools, tool.get("name"))]
            out.append({**tool, "tools": inner})
            covered.update(wire_name(str(t.get("name")), tool.get("name")) for t in inner)
        # any other type was dropped by the front door (server.drop_tool_types)
    out.extend(_undeclared(tools, covered))
    return out


def _kept(tool: Any, tools: ToolSet, namespace: Any) -> bool:
    return isinstance(tool, dict) and tools.find(str(tool.get("name")), namespace) is not None


def _undeclared(tools: ToolSet, covered: set[str]) -> list[dict[str, Any]]:
    """Tools that came in ``additional_tools`` input items, declared up front."""
    out: list[dict[str, Any]] = []
    namespaces: dict[str, dict[str, Any]] = {}
    for hub in tools.tools:
        if hub.wire_name in covered:
            continue
        encoded = _function(hub) if hub.kind == "function" else _custom(hub)
        if hub.namespace is None:
            out.append(encoded)
            continue
        group = namespaces.get(hub.namespace)
        if group is None:
            group = namespaces[hub.namespace] = {
                "type": "namespace",
                "name": hub.namespace,
                "tools": [],
            }
            out.append(group)
        group["tools"].append(encoded)
    return out


def _function(tool: HubTool) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "function", "name": tool.name}
    if tool.description is not None:
        out["description"] = tool.description
    out["parameters"] = tool.parameters or {"type": "object", "properties": {}}
    if tool.strict is not None:
        out["strict"] = tool.strict
    return out


def _custom(tool: HubTool) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "custom", "name": tool.name}
    if tool.description is not None:
        out["description"] = tool.description
    if tool.format is not None:
        out["format"] = tool.format
    return out
