"""``$VAR`` expansion, ``config_from_env`` (providers and server) and ``state_dir``."""

from __future__ import annotations

from pathlib import Path

import pytest

from wirebridge.config import (
    Config,
    ConfigError,
    ProviderConfig,
    ServerConfig,
    config_from_env,
    state_dir,
)
from wirebridge.config.env import expand_string, expand_tree
from wirebridge.config.errors import Where

AT = Where("config.yaml", "providers.p.api_key")

# (text, env, expanded)
EXPANSIONS = [
    ("plain", {}, "plain"),
    ("$A", {"A": "x"}, "x"),
    ("${A}", {"A": "x"}, "x"),
    ("pre-${A}-post", {"A": "x"}, "pre-x-post"),
    ("$A/$B", {"A": "x", "B": "y"}, "x/y"),
    ("${A}${B}", {"A": "x", "B": "y"}, "xy"),
    ("$A_B", {"A_B": "ab", "A": "no"}, "ab"),
    ("${A}_B", {"A": "a"}, "a_B"),
    ("$A", {"A": ""}, ""),
    ("${A:-dflt}", {}, "dflt"),
    ("${A:-dflt}", {"A": ""}, "dflt"),
    ("${A:-dflt}", {"A": "set"}, "set"),
    ("${A:-}", {}, ""),
    ("${A:-http://h:1/v1}", {}, "http://h:1/v1"),
    ("$$", {}, "$"),
    ("$$A", {"A": "no"}, "$A"),
    ("a$$$A", {"A": "x"}, "a$x"),
    ("cost $5", {}, "cost $5"),
    ("ends with $", {}, "ends with $"),
    ("^a.*$ and $ b", {}, "^a.*$ and $ b"),
    ("$A", {"A": "$B"}, "$B"),  # values are not expanded again
]


@pytest.mark.parametrize(("text", "env", "expected"), EXPANSIONS)
def test_expand_string(text: str, env: dict[str, str], expected: str) -> None:
    assert expand_string(text, env, AT) == expected


# (text, env, fragment of the message)
EXPANSION_ERRORS = [
    ("$A", {}, "environment variable A is not set (write ${A:-default} for a fallback)"),
    ("${A}", {}, "environment variable A is not set"),
    ("x-${A}-$B", {"A": "a"}, "environment variable B is not set"),
    ("${A", {}, "malformed variable reference"),
    ("${1}", {}, "malformed variable reference"),
    ("${A-x}", {}, "malformed variable reference"),
    ("${}", {}, "malformed variable reference"),
]


@pytest.mark.parametrize(("text", "env", "fragment"), EXPANSION_ERRORS)
def test_expand_string_errors(text: str, env: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        expand_string(text, env, AT)
    assert (caught.value.file, caught.value.key_path) == ("config.yaml", "providers.p.api_key")
    assert fragment in caught.value.message


def test_expand_tree_reaches_every_string_and_only_strings() -> None:
    tree = {
        "$K": "$V",
        "list": ["$V", 1, None, True, {"deep": "${V}"}],
        "number": 3,
    }
    assert expand_tree(tree, {"V": "v", "K": "k"}, Where("f")) == {
        "$K": "v",
        "list": ["v", 1, None, True, {"deep": "v"}],
        "number": 3,
    }


def test_expand_tree_errors_carry_the_key_path() -> None:
    tree = {"models": [{"model": "m"}, {"provider": {"api_key": "$MISSING"}}]}
    with pytest.raises(ConfigError) as caught:
        expand_tree(tree, {}, Where("c.yaml"))
    assert str(caught.value).startswith("c.yaml: models[1].provider.api_key: environment variable")


# (environment, the providers it makes)
ENV_PROVIDERS = [
    (
        {"OPENAI_API_KEY": "sk-o"},
        [ProviderConfig("openai", "https://api.openai.com/v1", "sk-o", profile="openai")],
    ),
    (
        {"OPENAI_API_KEY": "sk-o", "OPENAI_BASE_URL": "http://localhost:8000/v1/"},
        [ProviderConfig("openai", "http://localhost:8000/v1", "sk-o", profile="openai")],
    ),
    (
        {"OPENAI_BASE_URL": "http://localhost:8000/v1"},
        [ProviderConfig("openai", "http://localhost:8000/v1", None, profile="openai")],
    ),
    (
        {"DEEPSEEK_API_KEY": "sk-d"},
        [ProviderConfig("deepseek", "https://api.deepseek.com/v1", "sk-d", profile="deepseek")],
    ),
    (
        {"DEEPSEEK_API_KEY": "sk-d", "DEEPSEEK_BASE_URL": "https://api.deepseek.com/beta"},
        [ProviderConfig("deepseek", "https://api.deepseek.com/beta", "sk-d", profile="deepseek")],
    ),
    (
        {"GROQ_API_KEY": "gsk"},
        [ProviderConfig("groq", "https://api.groq.com/openai/v1", "gsk", profile="groq")],
    ),
    (
        {"OPENROUTER_API_KEY": "sk-or"},
        [
            ProviderConfig(
                "openrouter", "https://openrouter.ai/api/v1", "sk-or", profile="openrouter"
            )
        ],
    ),
    (
        {"OLLAMA_BASE_URL": "http://localhost:11434"},
        [ProviderConfig("ollama", "http://localhost:11434/v1", None, profile="ollama")],
    ),
    (
        {"OLLAMA_BASE_URL": "http://localhost:11434/"},
        [ProviderConfig("ollama", "http://localhost:11434/v1", None, profile="ollama")],
    ),
    (
        {"OLLAMA_BASE_URL": "http://gpu:11434/v1"},
        [ProviderConfig("ollama", "http://gpu:11434/v1", None, profile="ollama")],
    ),
    (
        {"VLLM_BASE_URL": "http://gpu:8000/v1"},
        [ProviderConfig("vllm", "http://gpu:8000/v1", None, profile="vllm")],
    ),
    (
        {"VLLM_BASE_URL": "http://gpu:8000/v1", "VLLM_API_KEY": "tok"},
        [ProviderConfig("vllm", "http://gpu:8000/v1", "tok", profile="vllm")],
    ),
    # a vLLM key says nothing about where the server is
    ({"VLLM_API_KEY": "tok"}, []),
    # empty counts as unset; surrounding whitespace (a key read from a file) is dropped
    (
        {"OPENAI_API_KEY": "", "OLLAMA_BASE_URL": "  ", "GROQ_API_KEY": "gsk\n"},
        [ProviderConfig("groq", "https://api.groq.com/openai/v1", "gsk", profile="groq")],
    ),
    ({"PATH": "/usr/bin", "ANTHROPIC_API_KEY": "sk-ant"}, []),
]


@pytest.mark.parametrize(("env", "expected"), ENV_PROVIDERS)
def test_providers_from_env(env: dict[str, str], expected: list[ProviderConfig]) -> None:
    config = config_from_env(env)
    assert config.providers == {p.name: p for p in expected}
    assert config.models == {}
    assert config.aliases == {}


def test_every_provider_at_once() -> None:
    env = {
        "OPENAI_API_KEY": "o",
        "DEEPSEEK_API_KEY": "d",
        "GROQ_API_KEY": "g",
        "OPENROUTER_API_KEY": "r",
        "OLLAMA_BASE_URL": "http://127.0.0.1:11434",
        "VLLM_BASE_URL": "http://127.0.0.1:8000/v1",
    }
    providers = config_from_env(env).providers
    assert list(providers) == ["openai", "deepseek", "groq", "openrouter", "ollama", "vllm"]
    assert {p.api for p in providers.values()} == {"chat"}


def test_no_variables_is_a_valid_empty_config() -> None:
    assert config_from_env({}) == Config(source="environment")


# (environment, the server it makes)
ENV_SERVERS = [
    ({}, ServerConfig()),
    ({"WIREBRIDGE_HOST": "0.0.0.0"}, ServerConfig(host="0.0.0.0")),
    ({"WIREBRIDGE_PORT": "9000"}, ServerConfig(port=9000)),
    ({"WIREBRIDGE_PORT": " 9000 "}, ServerConfig(port=9000)),
    ({"WIREBRIDGE_LOG_LEVEL": "DEBUG"}, ServerConfig(log_level="debug")),
    ({"WIREBRIDGE_SECRET_KEY": "s3cret"}, ServerConfig(secret_key="s3cret")),
    ({"WIREBRIDGE_PORT": "", "WIREBRIDGE_SECRET_KEY": ""}, ServerConfig()),
]


@pytest.mark.parametrize(("env", "expected"), ENV_SERVERS)
def test_server_from_env(env: dict[str, str], expected: ServerConfig) -> None:
    assert config_from_env(env).server == expected


# (environment, variable named in the error, fragment of the message)
ENV_ERRORS = [
    ({"WIREBRIDGE_PORT": "eighty"}, "WIREBRIDGE_PORT", "between 1 and 65535"),
    ({"WIREBRIDGE_PORT": "0"}, "WIREBRIDGE_PORT", "between 1 and 65535"),
    ({"WIREBRIDGE_PORT": "70000"}, "WIREBRIDGE_PORT", "between 1 and 65535"),
    ({"WIREBRIDGE_HOST": "a b"}, "WIREBRIDGE_HOST", "host name"),
    ({"WIREBRIDGE_LOG_LEVEL": "loud"}, "WIREBRIDGE_LOG_LEVEL", "debug, info, warning, error"),
    ({"OPENAI_BASE_URL": "ftp://h/v1"}, "OPENAI_BASE_URL", "http:// or https:// URL"),
    ({"OLLAMA_BASE_URL": "localhost:11434"}, "OLLAMA_BASE_URL", "http:// or https:// URL"),
    ({"VLLM_BASE_URL": "http://h/v1?x=1"}, "VLLM_BASE_URL", "query or fragment"),
]


@pytest.mark.parametrize(("env", "variable", "fragment"), ENV_ERRORS)
def test_env_errors_name_the_variable(env: dict[str, str], variable: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_env(env)
    assert (caught.value.file, caught.value.key_path) == ("environment", variable)
    assert fragment in caught.value.message
    assert str(caught.value).startswith(f"environment: {variable}: ")


# (WIREBRIDGE_HOME or None for unset, the state dir relative to home when it is)
STATE_DIRS = [
    (None, Path.home() / ".wirebridge"),
    ("", Path.home() / ".wirebridge"),
    ("/srv/wb", Path("/srv/wb")),
    ("~/wb", Path.home() / "wb"),
]


@pytest.mark.parametrize(("home", "expected"), STATE_DIRS)
def test_state_dir(monkeypatch: pytest.MonkeyPatch, home: str | None, expected: Path) -> None:
    if home is None:
        monkeypatch.delenv("WIREBRIDGE_HOME", raising=False)
    else:
        monkeypatch.setenv("WIREBRIDGE_HOME", home)
    assert state_dir() == expected
    assert state_dir({} if home is None else {"WIREBRIDGE_HOME": home}) == expected
