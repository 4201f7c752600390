"""``claude:`` — Claude model names mapped onto configured models: the config section and the
resolution rules of ``engine/model_map.py``, one row each."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from wirebridge.config import ConfigError, ModelRoute, load_config
from wirebridge.config.model import ClaudeAlias, ClaudeModels, Config
from wirebridge.engine.model_map import ModelMap, claude_tier, resolve_model

BASE = """\
providers:
  deepseek: {base_url: http://up/v1, profile: deepseek}
models:
  - {model: fast, provider: deepseek, downstream_model: deepseek-chat}
aliases:
  quick: fast
"""


def load(tmp_path: Path, claude: str) -> Config:
    path = tmp_path / "config.yaml"
    path.write_text(BASE + textwrap.dedent(claude), encoding="utf-8")
    return load_config(path, env={})


def test_full_section(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """\
        claude:
          big: deepseek@deepseek-reasoner
          middle: fast
          small: quick
          aliases:
            - {match: "^claude-3-5-haiku", model: deepseek@deepseek-chat}
        """,
    )
    assert config.claude == ClaudeModels(
        big="deepseek@deepseek-reasoner",
        middle="fast",
        small="quick",
        aliases=(ClaudeAlias("^claude-3-5-haiku", "deepseek@deepseek-chat"),),
    )


def test_absent_section_maps_nothing(tmp_path: Path) -> None:
    assert load(tmp_path, "").claude == ClaudeModels()


ERRORS = [
    pytest.param("claude: [big]", "claude", "must be a mapping", id="not_mapping"),
    pytest.param("claude: {huge: fast}", "claude.huge", "unknown key", id="unknown_key"),
    pytest.param("claude: {bigg: fast}", "claude.bigg", "did you mean 'big'", id="typo"),
    pytest.param("claude: {big: nope}", "claude.big", "neither a model", id="unknown_target"),
    pytest.param(
        "claude: {small: other@x}", "claude.small", "neither a model", id="unknown_provider"
    ),
    pytest.param("claude: {middle: 5}", "claude.middle", "must be a string", id="not_string"),
    pytest.param("claude: {aliases: {a: b}}", "claude.aliases", "must be a list", id="aliases"),
    pytest.param(
        "claude: {aliases: [{match: '(', model: fast}]}",
        "claude.aliases[0].match",
        "not a valid regular expression",
        id="bad_regex",
    ),
    pytest.param(
        "claude: {aliases: [{match: x}]}",
        "claude.aliases[0].model",
        "required",
        id="alias_without_model",
    ),
    pytest.param(
        "claude: {aliases: [{match: x, model: fast, extra: 1}]}",
        "claude.aliases[0].extra",
        "unknown key",
        id="alias_unknown_key",
    ),
    pytest.param(
        "claude: {aliases: [{match: x, model: gone}]}",
        "claude.aliases[0].model",
        "neither a model",
        id="alias_unknown_target",
    ),
]


@pytest.mark.parametrize(("text", "key_path", "fragment"), ERRORS)
def test_errors_name_the_key_path(tmp_path: Path, text: str, key_path: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text + "\n")
    assert caught.value.key_path == key_path
    assert fragment in caught.value.message


# -- resolution --------------------------------------------------------------------------------

ALL_TIERS = ClaudeModels(big="BIG", middle="MID", small="SMALL")
CONFIG = Config(
    models={"fast": ModelRoute("fast", "deepseek", "deepseek-chat")},
    aliases={"claude-sonnet-custom": "fast"},
)

RESOLVE = [
    pytest.param(ALL_TIERS, "claude-opus-4-8", "BIG", id="opus_is_big"),
    pytest.param(ALL_TIERS, "claude-sonnet-4-6", "MID", id="sonnet_is_middle"),
    pytest.param(ALL_TIERS, "claude-haiku-4-5-20251001", "SMALL", id="haiku_is_small"),
    pytest.param(ALL_TIERS, "claude-3-5-haiku-latest", "SMALL", id="old_haiku_name"),
    pytest.param(ALL_TIERS, "Claude-Opus-5-5", "BIG", id="case_insensitive"),
    pytest.param(ALL_TIERS, "opus", "BIG", id="bare_tier_word"),
    pytest.param(ALL_TIERS, "claude-next", "MID", id="other_claude_name_is_middle"),
    pytest.param(ALL_TIERS, "gpt-5.5", "gpt-5.5", id="non_claude_name_unchanged"),
    pytest.param(ALL_TIERS, "fast", "fast", id="configured_model_unchanged"),
    pytest.param(ALL_TIERS, "claude-sonnet-custom", "claude-sonnet-custom", id="alias_wins"),
    pytest.param(ALL_TIERS, "deepseek@claude-opus", "deepseek@claude-opus", id="provider_at"),
    pytest.param(ClaudeModels(big="BIG"), "claude-haiku-4-5", "BIG", id="small_falls_to_big"),
    pytest.param(
        ClaudeModels(middle="MID", big="BIG"), "claude-haiku-4-5", "MID", id="small_to_middle"
    ),
    pytest.param(ClaudeModels(small="S", big="B"), "claude-sonnet", "B", id="middle_to_big"),
    pytest.param(ClaudeModels(small="S"), "claude-opus", "S", id="big_to_small_last"),
    pytest.param(ClaudeModels(middle="M"), "claude-opus", "M", id="big_to_middle"),
    pytest.param(ClaudeModels(), "claude-opus-4-8", "claude-opus-4-8", id="no_tiers_unchanged"),
    pytest.param(
        ClaudeModels(big="BIG", aliases=(ClaudeAlias("^claude-3-5-haiku", "OLD"),)),
        "claude-3-5-haiku-20241022",
        "OLD",
        id="regex_alias_first",
    ),
    pytest.param(
        ClaudeModels(aliases=(ClaudeAlias("sonnet", "A"), ClaudeAlias("claude", "B"))),
        "claude-sonnet-4",
        "A",
        id="first_matching_alias_wins",
    ),
    pytest.param(
        ClaudeModels(aliases=(ClaudeAlias("^fast$", "OTHER"),)),
        "fast",
        "OTHER",
        id="aliases_before_configured_names",
    ),
]


@pytest.mark.parametrize(("claude", "name", "expected"), RESOLVE)
def test_resolution(claude: ClaudeModels, name: str, expected: str) -> None:
    assert ModelMap(claude).resolve(name, CONFIG) == expected


def test_resolve_model_reads_the_config_section() -> None:
    config = Config(claude=ClaudeModels(small="SMALL"))
    assert resolve_model("claude-haiku-4-5", config) == "SMALL"
    assert resolve_model("claude-haiku-4-5", Config()) == "claude-haiku-4-5"


@pytest.mark.parametrize(
    ("name", "tier"),
    [("claude-opus-4-1", "big"), ("sonnet", "middle"), ("claude-x", "middle"), ("gpt", None)],
)
def test_claude_tier(name: str, tier: str | None) -> None:
    assert claude_tier(name) == tier
