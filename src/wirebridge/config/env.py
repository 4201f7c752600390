"""The environment as configuration: ``$VAR`` expansion in config files, and a whole ``Config``
built from well-known variables when there is no file.

Without a file, each vendor's usual variables (``OPENAI_API_KEY``, ``OLLAMA_BASE_URL``, …) become
a provider addressed as ``provider@model``; no model routes are made, since the environment does
not say which models exist. Empty variables count as unset, as ``FOO= cmd`` in a shell intends.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from wirebridge.config.errors import Where
from wirebridge.config.model import Config, ProviderConfig, ServerConfig
from wirebridge.config.sections import builtin
from wirebridge.config.values import host, http_url, log_level, optional, optional_string, port

ENVIRONMENT = "environment"

# "$$" is a literal "$" (an api key may contain one); "$" before anything that is not a name or
# "{" is left alone, so prices and regexes survive; a "${" that does not parse is an error.
_REFERENCE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<malformed>\{))"
)


def expand_string(text: str, env: Mapping[str, str], at: Where) -> str:
    """Replace ``$VAR``, ``${VAR}`` and ``${VAR:-default}`` (default when unset or empty)."""

    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        if match["malformed"]:
            raise at.error(
                f"malformed variable reference in {text!r}; "
                "write $NAME, ${NAME} or ${NAME:-default} (and $$ for a literal $)"
            )
        name = match["braced"] or match["bare"]
        value = env.get(name)
        if match["default"] is not None and not value:
            return match["default"]
        if value is None:
            hint = f"write ${{{name}:-default}} for a fallback"
            raise at.error(f"environment variable {name} is not set ({hint})")
        return value

    return _REFERENCE.sub(replace, text)


def expand_tree(value: object, env: Mapping[str, str], at: Where) -> object:
    """Expand every string value of a parsed YAML tree; keys are names, never expanded."""
    if isinstance(value, str):
        return expand_string(value, env, at)
    if isinstance(value, dict):
        return {k: expand_tree(v, env, at.key(str(k))) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_tree(v, env, at.index(i)) for i, v in enumerate(value)]
    return value


@dataclass(frozen=True, slots=True)
class _EnvProvider:
    name: str
    profile: str
    url_var: str
    default_url: str | None = None  # None: only a set url_var makes the provider
    key_var: str | None = None
    bare_host_gets_v1: bool = False  # Ollama's documented URL is the bare host; the API is /v1
    section: str | None = None  # a provider section (config.sections) the row always carries
    section_vars: tuple[tuple[str, str], ...] = ()  # (section key, variable) pairs filling it


_ENV_PROVIDERS = (
    _EnvProvider(
        name="openai",
        profile="openai",
        url_var="OPENAI_BASE_URL",
        default_url="https://api.openai.com/v1",
        key_var="OPENAI_API_KEY",
    ),
    _EnvProvider(
        name="deepseek",
        profile="deepseek",
        url_var="DEEPSEEK_BASE_URL",
        default_url="https://api.deepseek.com/v1",
        key_var="DEEPSEEK_API_KEY",
    ),
    _EnvProvider(
        name="groq",
        profile="groq",
        url_var="GROQ_BASE_URL",
        default_url="https://api.groq.com/openai/v1",
        key_var="GROQ_API_KEY",
    ),
    _EnvProvider(
        name="openrouter",
        profile="openrouter",
        url_var="OPENROUTER_BASE_URL",
        default_url="https://openrouter.ai/api/v1",
        key_var="OPENROUTER_API_KEY",
    ),
    _EnvProvider(
        name="ollama", profile="ollama", url_var="OLLAMA_BASE_URL", bare_host_gets_v1=True
    ),
    _EnvProvider(name="vllm", profile="vllm", url_var="VLLM_BASE_URL", key_var="VLLM_API_KEY"),
    _EnvProvider(
        name="azure",
        profile="openai",
        url_var="AZURE_OPENAI_ENDPOINT",
        key_var="AZURE_OPENAI_API_KEY",
        section="azure",
        section_vars=(("api_version", "AZURE_API_VERSION"),),
    ),
)


def config_from_env(env: Mapping[str, str]) -> Config:
    """A ``Config`` from environment variables alone; no provider at all is still valid."""
    present = {name: value.strip() for name, value in env.items() if value.strip()}
    providers = {}
    for row in _ENV_PROVIDERS:
        provider = _provider_from_env(row, present)
        if provider is not None:
            providers[provider.name] = provider
    return Config(server=_server_from_env(present), providers=providers, source=ENVIRONMENT)


def _provider_from_env(row: _EnvProvider, env: Mapping[str, str]) -> ProviderConfig | None:
    at = Where(ENVIRONMENT)
    key = optional(env, at, row.key_var, optional_string, None) if row.key_var else None
    if row.url_var in env:
        url = http_url(env[row.url_var], at.key(row.url_var))
        if row.bare_host_gets_v1 and not urlsplit(url).path:
            url += "/v1"
    elif key is not None and row.default_url is not None:
        url = row.default_url
    else:
        return None
    sections = {}
    if row.section is not None:
        values = {k: env[var] for k, var in row.section_vars if var in env}
        sections[row.section] = builtin()[row.section].parse(values, at)
    return ProviderConfig(
        name=row.name, base_url=url, api_key=key, profile=row.profile, sections=sections
    )


def _server_from_env(env: Mapping[str, str]) -> ServerConfig:
    at = Where(ENVIRONMENT)
    defaults = ServerConfig()
    return ServerConfig(
        host=optional(env, at, "WIREBRIDGE_HOST", host, defaults.host),
        port=optional(env, at, "WIREBRIDGE_PORT", port, defaults.port),
        log_level=optional(env, at, "WIREBRIDGE_LOG_LEVEL", log_level, defaults.log_level),
        secret_key=optional(env, at, "WIREBRIDGE_SECRET_KEY", optional_string, None),
    )
