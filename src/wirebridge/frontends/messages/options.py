"""Anthropic Messages request options → hub request fields (wire → hub).

The top-level knobs that are not conversation content, each decoded by one small function:

* ``tools`` → function tools; Anthropic server tools (``web_search_20250305`` …) are dropped
  when their type, without the date suffix, is in ``server.drop_tool_types``, else refused.
* ``tool_choice``: auto → auto, any → required, tool → that function, none → none;
  ``disable_parallel_tool_use`` → ``parallel_tool_calls: false``.
* ``thinking`` / ``output_config.effort`` → ``reasoning.effort`` (``max`` → ``high``; a
  ``budget_tokens`` < 4k → low, < 16k → medium, else high; adaptive → medium; disabled → none).
* ``output_config.format`` (json_schema) → ``text.format``, ``stop_sequences`` → ``stop``,
  ``metadata.user_id`` → ``user``, ``system`` → ``instructions``.

Kept apart from ``request.py`` (validation and assembly) and ``blocks.py`` (content blocks).
"""

from __future__ import annotations

from typing import Any

from wirebridge.errors import InvalidRequest, Untranslatable
from wirebridge.frontends.messages.blocks import require_string
from wirebridge.hub.request import HubRequest
from wirebridge.hub.tools import HubTool, ToolSet, wire_name

# -- simple fields -----------------------------------------------------------------------------


def decode_system(system: Any) -> str | None:
    if system is None or isinstance(system, str):
        return system or None
    texts = []
    for i, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise InvalidRequest(f"system[{i}]: system blocks must be text blocks.")
        texts.append(require_string(block, "text", f"system[{i}]"))
    return "\n\n".join(t for t in texts if t) or None


def stop_sequences(stops: Any) -> list[str] | None:
    if not stops:
        return None
    if not all(isinstance(s, str) for s in stops):
        raise InvalidRequest("stop_sequences: every entry must be a string.")
    return list(stops)


def user(metadata: Any) -> str | None:
    user_id = (metadata or {}).get("user_id")
    if user_id is not None and not isinstance(user_id, str):
        raise InvalidRequest("metadata.user_id: Input should be a valid string.")
    return user_id or None


def text_format(output_config: Any) -> dict[str, Any] | None:
    fmt = (output_config or {}).get("format")
    if fmt is None:
        return None
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        raise Untranslatable("output_config.format: only type 'json_schema' is supported.")
    schema = fmt.get("schema")
    if not isinstance(schema, dict):
        raise InvalidRequest("output_config.format.schema: Field required (an object).")
    return {"format": {"type": "json_schema", "name": "output", "schema": schema, "strict": True}}


# -- thinking ----------------------------------------------------------------------------------

_EFFORTS = {"low": "low", "medium": "medium", "high": "high", "max": "high"}


def reasoning(thinking: Any, output_config: Any) -> dict[str, Any] | None:
    kind = (thinking or {}).get("type")
    if kind not in (None, "enabled", "adaptive", "disabled"):
        raise InvalidRequest(
            f"thinking.type: expected 'enabled', 'adaptive' or 'disabled', got {kind!r}."
        )
    if kind == "disabled":
        return {"effort": "none"}
    effort = (output_config or {}).get("effort")
    if effort is not None:
        if effort not in _EFFORTS:
            raise InvalidRequest(
                f"output_config.effort: expected one of {', '.join(_EFFORTS)}, got {effort!r}."
            )
        return {"effort": _EFFORTS[effort]}
    if kind == "adaptive":
        return {"effort": "medium"}
    if kind == "enabled":
        return {"effort": effort_for_budget(thinking.get("budget_tokens"))}
    return None


def effort_for_budget(budget: Any) -> str:
    if isinstance(budget, bool) or not isinstance(budget, int):
        raise InvalidRequest("thinking.budget_tokens: Field required (an integer).")
    if budget < 4096:
        return "low"
    if budget < 16384:
        return "medium"
    return "high"


# -- tools -------------------------------------------------------------------------------------


def apply_tool_choice(req: HubRequest, choice: Any) -> None:
    if choice is None:
        return
    kind = choice.get("type")
    if choice.get("disable_parallel_tool_use") is True:
        req.parallel_tool_calls = False
    if kind == "auto":
        req.tool_choice = "auto"
    elif kind == "any":
        req.tool_choice = "required"
    elif kind == "none":
        req.tool_choice = "none"
    elif kind == "tool":
        name = require_string(choice, "name", "tool_choice")
        req.tool_choice = {"type": "function", "name": name}
    else:
        raise InvalidRequest(
            f"tool_choice.type: expected 'auto', 'any', 'tool' or 'none', got {kind!r}."
        )


def decode_tools(tools: list[Any], drop: tuple[str, ...], dropped: list[str]) -> ToolSet:
    """Anthropic tools as function tools: each one's hub tool and, already in the form a
    Response echoes, its declaration (built here at once: Claude Code sends two dozen tools
    every turn, and going through Responses-shaped dicts first cost as much again)."""
    ts = ToolSet()
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise InvalidRequest(f"tools[{i}]: each tool must be an object.")
        kind = tool.get("type")
        if kind not in (None, "custom"):
            _server_tool(str(kind), i, drop, dropped)
            continue
        name = tool.get("name")
        if not isinstance(name, str):  # (require_string's check, without a path built per tool)
            raise InvalidRequest(f"tools[{i}].name: Field required (a string).")
        schema = tool.get("input_schema")
        if not isinstance(schema, dict):
            raise InvalidRequest(f"tools[{i}].input_schema: Field required (an object).")
        description = tool.get("description")
        strict = tool.get("strict")
        if not isinstance(strict, bool):
            strict = None
        ts.add(HubTool("function", name, wire_name(name, None), None, description, schema, strict))
        ts.declared.append(
            {
                "type": "function",
                "name": name,
                "parameters": schema,
                "description": description,
                "strict": bool(strict),
            }
        )
    return ts


def _server_tool(kind: str, i: int, drop: tuple[str, ...], dropped: list[str]) -> None:
    base, _, date = kind.rpartition("_")
    family = base if base and date.isdigit() else kind
    if kind in drop or family in drop:
        dropped.append(kind)
        return
    raise Untranslatable(
        f"tools[{i}].type: the Anthropic server tool '{kind}' cannot run on this model's "
        f"upstream; remove it, or add '{family}' to server.drop_tool_types to drop it silently.",
        param=f"tools[{i}].type",
    )
