"""A YAML config file → ``Config``.

Two shapes are accepted, and may be mixed. The minimal one, which users of another proxy already
have, puts an inline provider under each model (named by its ``name`` key, else by the model)::

    models:
      - model: gpt-5.5
        provider: {base_url: http://127.0.0.1:9100/v1, api_key: $KEY, downstream_model: x}

The richer one declares ``providers:`` by name, points models at them, and adds ``aliases:``.
Every string value is ``$VAR``-expanded first (see ``env.expand_tree``); then the tree is read
strictly: unknown keys, wrong types and dangling references are errors with their key path,
because a config that half-works is harder to debug than one that refuses to load.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import yaml

from wirebridge.config.env import config_from_env, expand_tree
from wirebridge.config.errors import ConfigError, Where
from wirebridge.config.model import Config, ProviderConfig
from wirebridge.config.profiles import parse_profiles
from wirebridge.config.routes import _aliases, _check_fallbacks, _claude, _models, _providers
from wirebridge.config.server import _server, _store
from wirebridge.config.values import (
    check_keys,
    mapping,
)
from wirebridge.providers.profiles import PROFILES, Profile

_TOP_KEYS = ("server", "store", "profiles", "providers", "models", "aliases", "claude")


def load_config(path: str | Path | None, env: Mapping[str, str] | None = None) -> Config:
    """Read ``path``, or build the config from the environment when there is no file.

    ``env`` (default ``os.environ``) feeds ``$VAR`` expansion, or is the whole config without a
    file. An empty mapping means an empty environment, not "use ``os.environ``".
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    if path is None:
        return config_from_env(environ)
    file = str(path)
    tree = expand_tree(_read_yaml(Path(path), file), environ, Where(file))
    base_dir = Path(path).absolute().parent  # relative key_file stays put if the cwd changes
    return config_from_tree(tree, Where(file), base_dir=base_dir, source=file)


def config_from_tree(tree: object, at: Where, base_dir: Path, source: str | None) -> Config:
    """A parsed, already expanded YAML tree → ``Config``; ``None`` (an empty file) is valid."""
    data = mapping(tree, at)
    check_keys(data, at, _TOP_KEYS)
    server = _server(data.get("server"), at.key("server"), base_dir)
    store = _store(data.get("store"), at.key("store"), base_dir)
    profiles = parse_profiles(data.get("profiles") or {}, at.key("profiles"))
    providers = _providers(data.get("providers"), at.key("providers"))
    _check_profiles(providers, profiles, at.key("providers"))
    defined_at = {name: at.key("providers").key(name).path for name in providers}
    models = _models(data.get("models"), at.key("models"), providers, defined_at)
    aliases = _aliases(data.get("aliases"), at.key("aliases"), models, providers)
    _check_fallbacks(data.get("models"), at.key("models"), models, aliases, providers)
    return Config(
        server=server,
        store=store,
        profiles=profiles,
        providers=providers,
        models=models,
        aliases=aliases,
        claude=_claude(data.get("claude"), at.key("claude"), models, aliases, providers),
        source=source,
    )


def _check_profiles(
    providers: Mapping[str, ProviderConfig], profiles: Mapping[str, Profile], at: Where
) -> None:
    for name, p in providers.items():
        if p.profile not in profiles and p.profile not in PROFILES:
            known = ", ".join([*PROFILES, *profiles])
            raise (
                at.key(name)
                .key("profile")
                .error(
                    f"unknown profile {p.profile!r}; known: {known} (or define it under profiles:)"
                )
            )


class _StrictLoader(yaml.SafeLoader):
    """``yaml.safe_load``, except that a key given twice in one mapping is an error: YAML's
    last-one-wins would silently drop the first ``api_key:`` of a copy-pasted block."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[object, object]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # "<<: *base" keys may legitimately be overridden
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:
                continue  # unhashable key: the base class reports it
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r}",
                    key_node.start_mark,
                )
            seen.add(key)
        result: dict[object, object] = super().construct_mapping(node, deep=deep)
        return result


def _read_yaml(path: Path, file: str) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(file, "", "file not found") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(file, "", f"not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(file, "", f"cannot read file: {exc.strerror or exc}") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "syntax error"
        raise ConfigError(file, "", f"invalid YAML{where}: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(file, "", f"invalid YAML: {exc}") from None
