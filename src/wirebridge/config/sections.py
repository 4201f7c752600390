"""Settings only one kind of upstream understands, as named sections of a provider.

A provider may carry, next to its common keys, sections such as ``azure:`` or ``chatgpt:``.
Each section name maps to the function that parses it (``(raw, at) -> typed settings``) and
the ``api`` values it is allowed with; the parsed object lands in ``ProviderConfig.sections``
under its name. Adding an upstream kind's settings is a row here, not a change to the loader.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wirebridge.config.errors import Where


@dataclass(frozen=True, slots=True)
class Section:
    parse: Callable[[object, Where], Any]
    apis: tuple[str, ...]  # the provider apis this section applies to


SECTIONS: dict[str, Section] = {}

# Base URLs an api defaults to when a provider gives none.
DEFAULT_BASE_URLS: dict[str, str] = {}


def register(name: str, section: Section) -> None:
    SECTIONS[name] = section


# The upstream packages that register sections and default base URLs when imported.
_BUILTIN = (
    "wirebridge.upstreams.azure",
    "wirebridge.upstreams.responses",
    "wirebridge.upstreams.messages",
    "wirebridge.upstreams.codex",
)
_loaded = False


def builtin() -> dict[str, Section]:
    """Every section, the built-in upstreams' included, whatever was imported so far. Loaded on
    first use: the upstream packages import the config package, so not at import time."""
    global _loaded
    if not _loaded:
        _loaded = True
        for module in _BUILTIN:
            importlib.import_module(module)
    return SECTIONS
