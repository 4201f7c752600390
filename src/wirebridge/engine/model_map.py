"""Claude model names → the models that serve them, before the router sees the name.

Claude Code asks for whatever Anthropic model it was built with (``claude-opus-4-8``,
``claude-haiku-4-5-20251001`` for small chores, …). The ``claude:`` config section maps those
names onto configured models with the big / middle / small convention::

    claude:
      big: deepseek@deepseek-reasoner      # "opus" names
      middle: deepseek@deepseek-chat       # "sonnet" names, and other claude-* names
      small: deepseek@deepseek-chat        # "haiku" names
      aliases:                             # tried first, in order; re.search on the name
        - {match: "^claude-3-5-haiku", model: fast-model}

A name resolves, in order:

1. the first ``aliases`` entry whose ``match`` regex is found in it;
2. unchanged when it is a configured model, an alias or ``provider@model`` (the router's job);
3. a name that contains ``claude`` (or is just ``opus`` / ``sonnet`` / ``haiku``) goes to its
   tier by the word in it (``opus`` → big, ``sonnet`` → middle, ``haiku`` → small; neither →
   middle). A tier left out falls back to the nearest one configured: big → middle → small,
   middle → big → small, small → middle → big;
4. otherwise unchanged, so the router reports an unknown model as usual.

With no ``claude:`` section only step 2 and 4 apply: names pass through unchanged.
"""

from __future__ import annotations

import functools
import re

from wirebridge.config.model import ClaudeModels, Config

_TIER_WORDS = (("haiku", "small"), ("sonnet", "middle"), ("opus", "big"))
_FALLBACK = {
    "big": ("big", "middle", "small"),
    "middle": ("middle", "big", "small"),
    "small": ("small", "middle", "big"),
}


class ModelMap:
    def __init__(self, claude: ClaudeModels) -> None:
        self._rules = [(re.compile(a.match), a.model) for a in claude.aliases]
        self._tiers = {"big": claude.big, "middle": claude.middle, "small": claude.small}

    def resolve(self, name: str, config: Config) -> str:
        """The model name the router should resolve for ``name``."""
        for pattern, target in self._rules:
            if pattern.search(name):
                return target
        if name in config.models or name in config.aliases or "@" in name:
            return name
        tier = claude_tier(name)
        if tier is None:
            return name
        for candidate in _FALLBACK[tier]:
            mapped = self._tiers[candidate]
            if mapped is not None:
                return mapped
        return name


def claude_tier(name: str) -> str | None:
    """``big`` / ``middle`` / ``small`` for a Claude model name, None for any other name."""
    lowered = name.lower()
    if lowered in ("opus", "sonnet", "haiku") or "claude" in lowered:
        for word, tier in _TIER_WORDS:
            if word in lowered:
                return tier
        return "middle"
    return None


@functools.lru_cache(maxsize=8)
def _map_for(claude: ClaudeModels) -> ModelMap:
    return ModelMap(claude)


def resolve_model(name: str, config: Config) -> str:
    """``name`` mapped by ``config.claude`` (the compiled map is cached per config section)."""
    return _map_for(config.claude).resolve(name, config)
