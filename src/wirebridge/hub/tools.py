"""Client tools, flattened to one namespace the upstream can address.

Responses tools come as flat ``function`` tools, freeform ``custom`` tools (Codex's
``apply_patch``), and ``namespace`` groups of either (also inside ``additional_tools`` input
items). Upstreams that only know functions see each one as a function with a unique wire name;
``ToolSet.by_wire_name`` maps a call back to what the client declared, so a custom tool's call
returns as ``custom_tool_call`` and a namespaced one carries its ``namespace``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

from wirebridge.errors import InvalidRequest, Untranslatable

_WIRE_NAME_BAD = re.compile(r"[^a-zA-Z0-9_-]")


# Not frozen: a frozen dataclass sets each field through object.__setattr__, which made building
# Claude Code's 24 tools cost 60 µs a turn on the benchmark VM; nothing mutates a HubTool.
@dataclass(slots=True)
class HubTool:
    kind: str  # "function" | "custom"
    name: str  # as the client declared it
    wire_name: str  # unique name an upstream sees
    namespace: str | None = None
    description: str | None = None
    parameters: dict[str, Any] | None = None  # functions
    strict: bool | None = None
    format: dict[str, Any] | None = None  # custom: {"type": "text"} or a grammar


@dataclass(slots=True)
class ToolSet:
    tools: list[HubTool] = field(default_factory=list)
    by_wire_name: dict[str, HubTool] = field(default_factory=dict)
    declared: list[dict[str, Any]] = field(default_factory=list)  # as sent, echoed on the Response

    def add(self, tool: HubTool) -> None:
        if tool.wire_name in self.by_wire_name:
            return  # Codex may declare a tool both up front and in additional_tools
        self.tools.append(tool)
        self.by_wire_name[tool.wire_name] = tool

    def find(self, name: str, namespace: str | None = None) -> HubTool | None:
        return self.by_wire_name.get(wire_name(name, namespace))

    def __bool__(self) -> bool:
        return bool(self.tools)


@functools.lru_cache(maxsize=4096)  # clients send the same tools every turn
def wire_name(name: str, namespace: str | None) -> str:
    full = f"{namespace}__{name}" if namespace else name
    return _WIRE_NAME_BAD.sub("_", full)[:64]


def build_toolset(
    tools: list[Any], drop_types: tuple[str, ...], dropped: list[str], into: ToolSet | None = None
) -> ToolSet:
    """Flatten declared tools; types in ``drop_types`` are skipped and listed in ``dropped``."""
    ts = into if into is not None else ToolSet()
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise InvalidRequest("Each tool must be an object.", param=f"tools[{i}]")
        _add_tool(ts, tool, None, drop_types, dropped, f"tools[{i}]")
    return ts


def _add_tool(
    ts: ToolSet,
    tool: dict[str, Any],
    namespace: str | None,
    drop_types: tuple[str, ...],
    dropped: list[str],
    param: str,
) -> None:
    kind = tool.get("type")
    if kind == "namespace":
        ns = _req_name(tool, param)
        for j, inner in enumerate(tool.get("tools") or []):
            if isinstance(inner, dict):
                _add_tool(ts, inner, ns, drop_types, dropped, f"{param}.tools[{j}]")
        return
    if kind in ("function", "custom"):
        name = _req_name(tool, param)
        ts.add(
            HubTool(
                kind=kind,
                name=name,
                wire_name=wire_name(name, namespace),
                namespace=namespace,
                description=tool.get("description"),
                parameters=tool.get("parameters") if kind == "function" else None,
                strict=tool.get("strict"),
                format=tool.get("format") if kind == "custom" else None,
            )
        )
        return
    if kind in drop_types:
        dropped.append(str(kind))
        return
    raise Untranslatable(
        f"Tool type '{kind}' is not supported by this model's upstream; remove it or add it to "
        "server.drop_tool_types to drop it silently.",
        param=f"{param}.type",
    )


def _req_name(tool: dict[str, Any], param: str) -> str:
    name = tool.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidRequest("Tool is missing a string 'name'.", param=f"{param}.name")
    return name


def echo_tools(tools: list[Any]) -> list[Any]:
    """The tools as a Response echoes them: function tools with every field the schema lists."""
    return [_echo_function(t) if t.get("type") == "function" else t for t in tools]


def _echo_function(tool: dict[str, Any]) -> dict[str, Any]:
    return {
        **tool,
        "description": tool.get("description"),
        "parameters": tool.get("parameters"),
        "strict": bool(tool.get("strict", False)),
    }
