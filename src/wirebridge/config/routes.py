"""The ``providers:``, ``models:``, ``aliases:`` and ``claude:`` sections of a config file.

References between them (a model's provider, an alias's target, a fallback) are checked after
every section is read, so order in the file does not matter."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

from wirebridge.config.errors import Where
from wirebridge.config.model import (
    ClaudeAlias,
    ClaudeModels,
    ModelRoute,
    ProviderConfig,
)
from wirebridge.config.sections import DEFAULT_BASE_URLS, builtin
from wirebridge.config.values import (
    NO_NAMES,
    check_keys,
    choice,
    http_url,
    integer,
    mapping,
    names,
    non_negative,
    optional,
    optional_string,
    positive_number,
    sequence,
    string,
)

APIS = ("chat", "responses", "messages", "chatgpt")  # upstream protocols a provider may speak


_PROVIDER_KEYS = (
    *("api", "base_url", "api_key", "profile", "headers", "timeout"),
    *("api_keys", "retries", "connect_timeout", "total_timeout", "cooldown", "proxy"),
)


_UPSTREAM_KEYS = ("downstream_model", "upstream_model")  # synonyms


_INLINE_PROVIDER_KEYS = (*_PROVIDER_KEYS, "name", *_UPSTREAM_KEYS)


_MODEL_KEYS = ("model", "provider", *_UPSTREAM_KEYS, "targets", "fallbacks", "balance")


_TARGET_KEYS = ("provider", *_UPSTREAM_KEYS)


BALANCE = ("round_robin", "least_in_flight")


_CLAUDE_TIERS = ("big", "middle", "small")


_CLAUDE_KEYS = (*_CLAUDE_TIERS, "aliases")


_CLAUDE_ALIAS_KEYS = ("match", "model")


_HEADER_NAME_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz")


def _check_fallbacks(
    raw: object,
    at: Where,
    models: Mapping[str, ModelRoute],
    aliases: Mapping[str, str],
    providers: Mapping[str, ProviderConfig],
) -> None:
    for i, route in enumerate(models.values()):
        for j, name in enumerate(route.fallbacks):
            provider, sep, upstream = name.partition("@")
            if name in models or name in aliases or (sep and provider in providers and upstream):
                continue
            raise (
                at.index(i)
                .key("fallbacks")
                .index(j)
                .error(
                    f"unknown model {name!r}: name a configured model, an alias or provider@model"
                )
            )


def _providers(raw: object, at: Where) -> dict[str, ProviderConfig]:
    section = mapping(raw, at)
    return {
        name: _provider(entry, at.key(name), _provider_name(name, at.key(name)))
        for name, entry in section.items()
    }


def _provider_name(value: object, at: Where) -> str:
    name = string(value, at)
    if "@" in name or any(c.isspace() for c in name):
        raise at.error(
            f"provider name {name!r} must not contain '@' or spaces "
            "(clients address provider@model)"
        )
    return name


def _provider(raw: object, at: Where, name: str) -> ProviderConfig:
    data = mapping(raw, at)
    check_keys(data, at, (*_PROVIDER_KEYS, *builtin()))
    api = optional(data, at, "api", _api, "chat")
    base_url = data.get("base_url")
    if base_url is None and api in DEFAULT_BASE_URLS:
        base_url = DEFAULT_BASE_URLS[api]
    return ProviderConfig(
        name=name,
        base_url=http_url(base_url, at.key("base_url")),
        api_key=optional(data, at, "api_key", optional_string, None),
        api=api,
        sections=_sections(data, at, api),
        profile=optional(data, at, "profile", string, "generic"),
        headers=optional(data, at, "headers", _headers, {}),
        timeout=optional(data, at, "timeout", positive_number, None),
        api_keys=optional(data, at, "api_keys", names, NO_NAMES),
        retries=optional(data, at, "retries", lambda v, w: integer(v, w, 0, 10), 2),
        connect_timeout=optional(data, at, "connect_timeout", positive_number, None),
        total_timeout=optional(data, at, "total_timeout", positive_number, None),
        cooldown=optional(data, at, "cooldown", non_negative, 30.0),
        proxy=optional(data, at, "proxy", http_url, None),
    )


def _sections(data: Mapping[str, object], at: Where, api: str) -> dict[str, object]:
    out: dict[str, object] = {}
    for name, section in builtin().items():
        if data.get(name) is None:
            continue
        if api not in section.apis:
            allowed = ", ".join(section.apis)
            raise at.key(name).error(f"only for providers with api: {allowed}, not {api}")
        out[name] = section.parse(data[name], at.key(name))
    return out


def _api(value: object, at: Where) -> str:
    return choice(value, at, APIS)


def _headers(value: object, at: Where) -> dict[str, str]:
    headers = {}
    for name, raw in mapping(value, at).items():
        where = at.key(name)
        if not name or not set(name.lower()) <= _HEADER_NAME_CHARS:
            raise where.error(f"{name!r} is not a valid HTTP header name")
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            raw = str(raw)  # "X-Version: 2" is a number to YAML, a string to HTTP
        text = string(raw, where)
        if "\r" in text or "\n" in text:
            raise where.error("header values must not contain line breaks")
        headers[name] = text
    return headers


def _models(
    raw: object, at: Where, providers: dict[str, ProviderConfig], defined_at: dict[str, str]
) -> dict[str, ModelRoute]:
    """Read ``models:``, adding inline providers to ``providers`` (and where each was defined
    to ``defined_at``, for conflict messages); references are checked after all entries are
    read, so a model may use a provider defined inline further down."""
    routes: dict[str, ModelRoute] = {}
    references: list[tuple[str, Where]] = []
    for i, item in enumerate(sequence(raw, at)):
        where = at.index(i)
        route, inline = _model(item, where)
        if route.name in routes:
            raise where.key("model").error(f"duplicate model name {route.name!r}")
        routes[route.name] = route
        if route.targets:
            references.extend(
                (p, where.key("targets").index(j).key("provider"))
                for j, (p, _) in enumerate(route.targets)
            )
        elif inline is None:
            references.append((route.provider, where.key("provider")))
        else:
            _add_inline(providers, defined_at, inline, where.key("provider"))
    for name, where in references:
        if name not in providers:
            known = ", ".join(sorted(providers)) or "none"
            raise where.error(f"unknown provider {name!r}; defined providers: {known}")
    return routes


def _model(raw: object, at: Where) -> tuple[ModelRoute, ProviderConfig | None]:
    data = mapping(raw, at)
    check_keys(data, at, _MODEL_KEYS)
    route, inline = _model_target(data, at)
    fallbacks = optional(data, at, "fallbacks", names, NO_NAMES)
    balance = optional(data, at, "balance", lambda v, w: choice(v, w, BALANCE), "round_robin")
    if data.get("targets") is not None:
        if data.get("provider") is not None:
            raise at.key("targets").error("give provider or targets, not both")
        targets = _targets(data["targets"], at.key("targets"))
        provider, upstream = targets[0]
        return ModelRoute(route.name, provider, upstream, targets, fallbacks, balance), None
    return replace(route, fallbacks=fallbacks, balance=balance), inline


def _targets(raw: object, at: Where) -> tuple[tuple[str, str], ...]:
    out = []
    for i, item in enumerate(sequence(raw, at)):
        where = at.index(i)
        data = mapping(item, where)
        check_keys(data, where, _TARGET_KEYS)
        provider = _provider_name(data.get("provider"), where.key("provider"))
        upstream = _upstream_model(data, where)
        if upstream is None:
            raise where.key("downstream_model").error("required for each target")
        out.append((provider, upstream))
    if not out:
        raise at.error("needs at least one target")
    return tuple(out)


def _model_target(
    data: Mapping[str, object], at: Where
) -> tuple[ModelRoute, ProviderConfig | None]:
    name = string(data.get("model"), at.key("model"))
    if data.get("targets") is not None:
        return ModelRoute(name, "", name), None
    upstream = _upstream_model(data, at)
    provider = data.get("provider")
    if isinstance(provider, dict):
        inline, inline_upstream = _inline_provider(provider, at.key("provider"), name)
        if upstream is not None and inline_upstream is not None:
            raise at.key("provider").error(
                "downstream_model is set on both the model and its provider; keep one"
            )
        return ModelRoute(name, inline.name, upstream or inline_upstream or name), inline
    if provider is None:
        raise at.key("provider").error("required: a provider name or an inline provider mapping")
    return ModelRoute(name, _provider_name(provider, at.key("provider")), upstream or name), None


def _inline_provider(
    raw: Mapping[str, object], at: Where, model: str
) -> tuple[ProviderConfig, str | None]:
    check_keys(raw, at, (*_INLINE_PROVIDER_KEYS, *builtin()))
    if raw.get("name") is not None:
        name = _provider_name(raw["name"], at.key("name"))
    elif "@" in model or any(c.isspace() for c in model):
        raise at.key("name").error(f"required, since model {model!r} is not a valid provider name")
    else:
        name = model
    fields = {key: value for key, value in raw.items() if key in _PROVIDER_KEYS or key in builtin()}
    return _provider(fields, at, name), _upstream_model(raw, at)


def _upstream_model(data: Mapping[str, object], at: Where) -> str | None:
    given = [key for key in _UPSTREAM_KEYS if data.get(key) is not None]
    if len(given) > 1:
        raise at.key(given[1]).error("downstream_model and upstream_model are synonyms; give one")
    return string(data[given[0]], at.key(given[0])) if given else None


def _add_inline(
    providers: dict[str, ProviderConfig],
    defined_at: dict[str, str],
    provider: ProviderConfig,
    at: Where,
) -> None:
    """Inline providers sharing a name are one provider, so their settings must agree."""
    known = providers.get(provider.name)
    if known is None:
        providers[provider.name] = provider
        defined_at[provider.name] = at.path
    elif known != provider:
        raise at.error(
            f"provider {provider.name!r} is already defined with different settings at "
            f"{defined_at[provider.name]}; give this one another name"
        )


def _aliases(
    raw: object, at: Where, models: Mapping[str, ModelRoute], providers: Mapping[str, object]
) -> dict[str, str]:
    """Aliases may point at a model, at ``provider@model``, or at another alias (the router
    follows chains), so targets are checked only once every alias is known."""
    aliases = {}
    for name, value in mapping(raw, at).items():
        if name in models:
            raise at.key(name).error(
                f"{name!r} is already a model name; an alias cannot replace it"
            )
        aliases[name] = string(value, at.key(name)).strip()
    for name in aliases:
        _check_alias(name, aliases, models, providers, at.key(name))
    return aliases


def _check_alias(
    name: str,
    aliases: Mapping[str, str],
    models: Mapping[str, ModelRoute],
    providers: Mapping[str, object],
    at: Where,
) -> None:
    chain = [name]
    target = aliases[name]
    while target in aliases:
        if target in chain:
            raise at.error(f"aliases form a loop: {' -> '.join([*chain, target])}")
        chain.append(target)
        target = aliases[target]
    provider, sep, upstream = target.partition("@")
    if target not in models and not (sep and upstream and provider in providers):
        raise at.error(
            f"{target!r} is neither a model under models:, an alias, nor provider@model "
            "with a defined provider"
        )


def _claude(
    raw: object,
    at: Where,
    models: Mapping[str, ModelRoute],
    aliases: Mapping[str, str],
    providers: Mapping[str, object],
) -> ClaudeModels:
    """``claude:`` — ``big``/``middle``/``small`` and ``aliases: [{match, model}]``; every target
    must resolve as an alias target does."""
    data = mapping(raw, at)
    check_keys(data, at, _CLAUDE_KEYS)
    tiers: dict[str, str | None] = {}
    for tier in _CLAUDE_TIERS:
        target = optional(data, at, tier, string, None)
        if target is not None:
            _check_target(target.strip(), at.key(tier), models, aliases, providers)
            target = target.strip()
        tiers[tier] = target
    rules = []
    for i, item in enumerate(sequence(data.get("aliases"), at.key("aliases"))):
        where = at.key("aliases").index(i)
        entry = mapping(item, where)
        check_keys(entry, where, _CLAUDE_ALIAS_KEYS)
        pattern = string(entry.get("match"), where.key("match"))
        try:
            re.compile(pattern)
        except re.error as exc:
            raise where.key("match").error(f"not a valid regular expression: {exc}") from None
        target = string(entry.get("model"), where.key("model")).strip()
        _check_target(target, where.key("model"), models, aliases, providers)
        rules.append(ClaudeAlias(match=pattern, model=target))
    return ClaudeModels(
        big=tiers["big"], middle=tiers["middle"], small=tiers["small"], aliases=tuple(rules)
    )


def _check_target(
    target: str,
    at: Where,
    models: Mapping[str, ModelRoute],
    aliases: Mapping[str, str],
    providers: Mapping[str, object],
) -> None:
    provider, sep, upstream = target.partition("@")
    if target in models or target in aliases or (sep and upstream and provider in providers):
        return
    raise at.error(
        f"{target!r} is neither a model under models:, an alias, nor provider@model with a "
        "defined provider"
    )
