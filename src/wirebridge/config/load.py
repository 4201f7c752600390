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
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import yaml

from wirebridge.config.env import config_from_env, expand_tree
from wirebridge.config.errors import ConfigError, Where
from wirebridge.config.model import (
    ClaudeAlias,
    ClaudeModels,
    Config,
    ModelRoute,
    ProviderConfig,
    ServerConfig,
    StoreConfig,
)
from wirebridge.config.sections import DEFAULT_BASE_URLS, builtin
from wirebridge.config.values import (
    check_keys,
    choice,
    host,
    http_url,
    integer,
    log_level,
    mapping,
    optional,
    optional_string,
    port,
    positive_number,
    sequence,
    string,
)
from wirebridge.ratelimit.settings import parse_rate_limits

APIS = ("chat", "responses", "messages", "chatgpt")  # upstream protocols a provider may speak
REASONING_OUTPUTS = ("summary", "text")
EVENT_DIALECTS = ("openai", "openresponses")
LOG_FORMATS = ("text", "json")

_TOP_KEYS = ("server", "store", "providers", "models", "aliases", "claude")
_SERVER_KEYS = (
    *("listen_addr", "host", "port", "request_timeout", "log_level", "max_body_bytes"),
    *("secret_key", "key_file", "drop_tool_types", "reasoning_output", "event_dialect"),
    "websocket_history",
    "background_lease",
    *("rate_limits", "metrics_public"),
    *("otel_endpoint", "log_bodies"),
    *("api_keys", "log_format", "models_cache_ttl"),
)
_STORE_KEYS = ("backend", "url", "path", "ttl_days")
STORE_BACKENDS = ("sqlite", "postgres", "redis", "memory")
_STORE_URL_SCHEMES = {
    "postgres": ("postgres", "postgresql"),
    "redis": ("redis", "rediss", "unix"),
}
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
    providers = _providers(data.get("providers"), at.key("providers"))
    defined_at = {name: at.key("providers").key(name).path for name in providers}
    models = _models(data.get("models"), at.key("models"), providers, defined_at)
    aliases = _aliases(data.get("aliases"), at.key("aliases"), models, providers)
    _check_fallbacks(data.get("models"), at.key("models"), models, aliases, providers)
    return Config(
        server=server,
        store=store,
        providers=providers,
        models=models,
        aliases=aliases,
        claude=_claude(data.get("claude"), at.key("claude"), models, aliases, providers),
        source=source,
    )


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


def _non_negative(value: object, at: Where) -> float:
    if value == 0:
        return 0.0
    return positive_number(value, at)


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


def _server(raw: object, at: Where, base_dir: Path) -> ServerConfig:
    data = mapping(raw, at)
    check_keys(data, at, _SERVER_KEYS)
    default = ServerConfig()
    bind_host, bind_port = _bind(data, at, default)
    return ServerConfig(
        host=bind_host,
        port=bind_port,
        request_timeout=optional(
            data, at, "request_timeout", positive_number, default.request_timeout
        ),
        log_level=optional(data, at, "log_level", log_level, default.log_level),
        max_body_bytes=optional(data, at, "max_body_bytes", _byte_count, default.max_body_bytes),
        secret_key=optional(data, at, "secret_key", optional_string, None),
        key_file=optional(data, at, "key_file", lambda v, w: _path(v, w, base_dir), None),
        drop_tool_types=optional(data, at, "drop_tool_types", _names, default.drop_tool_types),
        reasoning_output=optional(
            data, at, "reasoning_output", _reasoning_output, default.reasoning_output
        ),
        event_dialect=optional(data, at, "event_dialect", _event_dialect, default.event_dialect),
        background_lease=optional(
            data, at, "background_lease", positive_number, default.background_lease
        ),
        websocket_history=optional(
            data, at, "websocket_history", lambda v, w: integer(v, w, 0), default.websocket_history
        ),
        rate_limits=optional(data, at, "rate_limits", parse_rate_limits, default.rate_limits),
        metrics_public=optional(data, at, "metrics_public", _flag, default.metrics_public),
        otel_endpoint=optional(data, at, "otel_endpoint", _otel_endpoint, None),
        log_bodies=optional(data, at, "log_bodies", _flag, default.log_bodies),
        api_keys=optional(data, at, "api_keys", _names, default.api_keys),
        log_format=optional(data, at, "log_format", lambda v, w: choice(v, w, LOG_FORMATS), "text"),
        models_cache_ttl=optional(data, at, "models_cache_ttl", _non_negative, 300.0),
    )


def _otel_endpoint(value: object, at: Where) -> str | None:
    return None if value == "" else http_url(value, at)  # ${OTEL_ENDPOINT:-} means "off"


def _store(raw: object, at: Where, base_dir: Path) -> StoreConfig:
    """``backend`` decides which of ``url`` / ``path`` apply; giving the other one is an error,
    since a ``path:`` under a postgres store would otherwise be silently ignored."""
    data = mapping(raw, at)
    check_keys(data, at, _STORE_KEYS)
    default = StoreConfig()
    backend = optional(data, at, "backend", _store_backend, default.backend)
    schemes = _STORE_URL_SCHEMES.get(backend)
    url = None
    if schemes is not None:
        url = _store_url(data.get("url"), at.key("url"), backend, schemes)
    elif data.get("url") is not None:
        raise at.key("url").error(f"only for the postgres and redis backends, not {backend}")
    if data.get("path") is not None and backend != "sqlite":
        raise at.key("path").error(f"only for the sqlite backend, not {backend}")
    return StoreConfig(
        backend=backend,
        url=url,
        path=optional(data, at, "path", lambda v, w: _path(v, w, base_dir), None),
        ttl_days=optional(data, at, "ttl_days", _ttl_days, default.ttl_days),
    )


def _store_backend(value: object, at: Where) -> str:
    return choice(value, at, STORE_BACKENDS)


def _store_url(value: object, at: Where, backend: str, schemes: tuple[str, ...]) -> str:
    if value is None:
        raise at.error(f"required for the {backend} backend")
    text = string(value, at).strip()
    scheme = text.partition("://")[0].lower() if "://" in text else ""
    if scheme not in schemes:
        wanted = " or ".join(f"{s}://" for s in schemes)
        got = f"{scheme}://" if scheme else "no scheme"  # not the URL: it may hold a password
        raise at.error(f"must be a {wanted} URL for the {backend} backend, got {got}")
    return text


def _ttl_days(value: object, at: Where) -> int:
    return integer(value, at, 1)


def _flag(value: object, at: Where) -> bool:
    """A boolean; also the strings true/false, which is what ``$VAR`` expansion produces."""
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if not isinstance(value, bool):
        raise at.error(f"must be true or false, got {value!r}")
    return value


def _byte_count(value: object, at: Where) -> int:
    return integer(value, at, 1)


def _reasoning_output(value: object, at: Where) -> str:
    return choice(value, at, REASONING_OUTPUTS)


def _event_dialect(value: object, at: Where) -> str:
    return choice(value, at, EVENT_DIALECTS)


def _bind(data: Mapping[str, object], at: Where, default: ServerConfig) -> tuple[str, int]:
    """``listen_addr: host:port`` or ``host:`` + ``port:``; both at once would be ambiguous."""
    if data.get("listen_addr") is None:
        return (
            optional(data, at, "host", host, default.host),
            optional(data, at, "port", port, default.port),
        )
    if data.get("host") is not None or data.get("port") is not None:
        raise at.key("listen_addr").error("give either listen_addr or host/port, not both")
    return _listen_addr(data["listen_addr"], at.key("listen_addr"))


def _listen_addr(value: object, at: Where) -> tuple[str, int]:
    text = string(value, at).strip()
    bind_host, sep, bind_port = text.rpartition(":")
    if not sep or text.endswith("]"):
        raise at.error(f"must be host:port, e.g. 127.0.0.1:8765; {value!r} has no port")
    if bind_host.startswith("[") and bind_host.endswith("]"):
        bind_host = bind_host[1:-1]
    elif ":" in bind_host:
        raise at.error(f"an IPv6 address needs brackets, e.g. [::1]:8765; got {value!r}")
    # ":8765" is Go's spelling of "every interface", which the other proxy's users may have
    return (host(bind_host, at) if bind_host else "0.0.0.0", port(bind_port, at))


def _path(value: object, at: Where, base_dir: Path) -> Path | None:
    """``~`` is expanded; a relative path is relative to the config file, not the cwd."""
    text = optional_string(value, at)
    return None if text is None else base_dir / Path(text).expanduser()


_NO_NAMES: tuple[str, ...] = ()


def _names(value: object, at: Where) -> tuple[str, ...]:
    return tuple(string(item, at.index(i)) for i, item in enumerate(sequence(value, at)))


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
        api_keys=optional(data, at, "api_keys", _names, _NO_NAMES),
        retries=optional(data, at, "retries", lambda v, w: integer(v, w, 0, 10), 2),
        connect_timeout=optional(data, at, "connect_timeout", positive_number, None),
        total_timeout=optional(data, at, "total_timeout", positive_number, None),
        cooldown=optional(data, at, "cooldown", _non_negative, 30.0),
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
    fallbacks = optional(data, at, "fallbacks", _names, _NO_NAMES)
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
