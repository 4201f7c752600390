"""``load_config`` on YAML files: the minimal form verbatim, the rich form, and every error."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from wirebridge.config import (
    Config,
    ConfigError,
    ModelRoute,
    ProviderConfig,
    ServerConfig,
    load_config,
)
from wirebridge.config.model import StoreConfig

MINIMAL = """\
server:
  listen_addr: "127.0.0.1:8765"
  request_timeout: 120
  log_level: info
models:
  - model: gpt-5.5                 # what clients ask for
    provider:
      base_url: http://127.0.0.1:9100/v1
      api_key: $UPSTREAM_KEY       # $VAR / ${VAR} read from the environment; plain strings too
      downstream_model: deepseek-chat   # optional, defaults to model
"""

RICH = """\
server:
  host: 127.0.0.1
  port: 8765
  max_body_bytes: 33554432
  secret_key: ${WIREBRIDGE_SECRET}     # optional
  key_file: /path/secret.key           # optional, ~ expanded
  drop_tool_types: [web_search, tool_search]
  reasoning_output: summary            # summary | text
  event_dialect: openai                # openai | openresponses
providers:
  deepseek:
    api: chat
    base_url: https://api.deepseek.com/v1
    api_key: ${DEEPSEEK_API_KEY}
    profile: deepseek                  # optional, default "generic"
    headers: {X-Extra: value}
    timeout: 60
models:
  - model: fast
    provider: deepseek                 # a reference to providers:
    downstream_model: deepseek-chat
aliases:
  gpt-4o: fast
  cheap: deepseek@deepseek-chat
"""

PROVIDER = "providers:\n  p:\n    base_url: http://up/v1\n"


def write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> Config:
    return load_config(write(tmp_path, text), env={} if env is None else env)


def test_minimal_form_verbatim(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    config = load_config(path, env={"UPSTREAM_KEY": "sk-up"})
    assert config == Config(
        server=ServerConfig(host="127.0.0.1", port=8765, request_timeout=120.0, log_level="info"),
        providers={
            "gpt-5.5": ProviderConfig(
                name="gpt-5.5", base_url="http://127.0.0.1:9100/v1", api_key="sk-up"
            )
        },
        models={
            "gpt-5.5": ModelRoute("gpt-5.5", provider="gpt-5.5", upstream_model="deepseek-chat")
        },
        source=str(path),
    )


def test_rich_form_verbatim(tmp_path: Path) -> None:
    env = {"WIREBRIDGE_SECRET": "s3cret", "DEEPSEEK_API_KEY": "sk-ds"}
    config = load(tmp_path, RICH, env)
    assert config.server == ServerConfig(
        host="127.0.0.1",
        port=8765,
        max_body_bytes=33554432,
        secret_key="s3cret",
        key_file=Path("/path/secret.key"),
        drop_tool_types=("web_search", "tool_search"),
        reasoning_output="summary",
        event_dialect="openai",
    )
    assert config.providers == {
        "deepseek": ProviderConfig(
            name="deepseek",
            base_url="https://api.deepseek.com/v1",
            api_key="sk-ds",
            profile="deepseek",
            headers={"X-Extra": "value"},
            timeout=60.0,
        )
    }
    assert config.models == {"fast": ModelRoute("fast", "deepseek", "deepseek-chat")}
    assert config.aliases == {"gpt-4o": "fast", "cheap": "deepseek@deepseek-chat"}


def test_mixed_forms(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        providers:
          shared: {base_url: http://shared/v1}
        models:
          - {model: a, provider: shared}
          - {model: b, provider: {base_url: http://b/v1/}}
          - {model: c, provider: {name: local, base_url: http://local/v1, upstream_model: llama}}
          - {model: d, provider: local}
        aliases: {e: local@qwen}
        """,
    )
    assert set(config.providers) == {"shared", "b", "local"}
    assert config.providers["b"].base_url == "http://b/v1"
    assert config.models == {
        "a": ModelRoute("a", "shared", "a"),
        "b": ModelRoute("b", "b", "b"),
        "c": ModelRoute("c", "local", "llama"),
        "d": ModelRoute("d", "local", "d"),
    }
    assert config.aliases == {"e": "local@qwen"}


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n", "---\n"])
def test_empty_file_is_an_empty_config(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    assert load_config(path, env={}) == Config(source=str(path))


def test_source_is_the_path_as_given(tmp_path: Path) -> None:
    path = write(tmp_path, PROVIDER)
    assert load_config(str(path), env={}).source == str(path)


# (yaml, env, what to look at, expected)
VALID = [
    (
        "server: {listen_addr: '[::1]:9000'}",
        {},
        lambda c: (c.server.host, c.server.port),
        ("::1", 9000),
    ),
    ("server: {listen_addr: ':9000'}", {}, lambda c: c.server.host, "0.0.0.0"),
    (
        "server: {host: 0.0.0.0, port: 9}",
        {},
        lambda c: (c.server.host, c.server.port),
        ("0.0.0.0", 9),
    ),
    ("server: {port: $PORT}", {"PORT": "9001"}, lambda c: c.server.port, 9001),
    ("server: {request_timeout: '30.5'}", {}, lambda c: c.server.request_timeout, 30.5),
    ("server: {log_level: WARNING}", {}, lambda c: c.server.log_level, "warning"),
    ("server: {drop_tool_types: []}", {}, lambda c: c.server.drop_tool_types, ()),
    ("server: {reasoning_output: text}", {}, lambda c: c.server.reasoning_output, "text"),
    (
        "server: {event_dialect: openresponses}",
        {},
        lambda c: c.server.event_dialect,
        "openresponses",
    ),
    ("server: {secret_key: '${S:-}'}", {}, lambda c: c.server.secret_key, None),
    ("server:", {}, lambda c: c.server, ServerConfig()),
    ("server: {key_file: '~/k.key'}", {}, lambda c: c.server.key_file, Path.home() / "k.key"),
    (PROVIDER + "    api_key: ''", {}, lambda c: c.providers["p"].api_key, None),
    (PROVIDER + "    api_key: '${K:-}'", {}, lambda c: c.providers["p"].api_key, None),
    (PROVIDER + "    api_key: 'a$$b'", {}, lambda c: c.providers["p"].api_key, "a$b"),
    (PROVIDER + "    api_key: '${K:-dflt}'", {}, lambda c: c.providers["p"].api_key, "dflt"),
    (PROVIDER + "    api_key: 'k-${K}'", {"K": "1"}, lambda c: c.providers["p"].api_key, "k-1"),
    (PROVIDER + "    api: Chat", {}, lambda c: c.providers["p"].api, "chat"),
    (
        PROVIDER + "    headers: {X-Version: 2}",
        {},
        lambda c: c.providers["p"].headers,
        {"X-Version": "2"},
    ),
    (
        PROVIDER + "    headers: {X-Cost: 'cost $5'}",
        {},
        lambda c: c.providers["p"].headers["X-Cost"],
        "cost $5",
    ),
    (PROVIDER + "    timeout: 1.5", {}, lambda c: c.providers["p"].timeout, 1.5),
    (
        "providers: {p: {base_url: 'https://h:8443/v1///'}}",
        {},
        lambda c: c.providers["p"].base_url,
        "https://h:8443/v1",
    ),
    (
        "providers: {p: {base_url: $URL}}",
        {"URL": "http://x/v1"},
        lambda c: c.providers["p"].base_url,
        "http://x/v1",
    ),
    ("providers:", {}, lambda c: c.providers, {}),
    (
        # aliases may chain; the router follows them
        PROVIDER + "models: [{model: m, provider: p}]\naliases: {a: b, b: m, c: 'p@x'}",
        {},
        lambda c: c.aliases,
        {"a": "b", "b": "m", "c": "p@x"},
    ),
    ("models: []", {}, lambda c: c.models, {}),
    (
        PROVIDER + "models: [{model: m, provider: p, upstream_model: u}]",
        {},
        lambda c: c.models["m"],
        ModelRoute("m", "p", "u"),
    ),
    (
        # two inline providers with one explicit name and equal settings are one provider
        """
        models:
          - {model: a, provider: {name: s, base_url: http://s/v1, downstream_model: x}}
          - {model: b, provider: {name: s, base_url: http://s/v1, downstream_model: y}}
        """,
        {},
        lambda c: (list(c.providers), c.models["b"]),
        (["s"], ModelRoute("b", "s", "y")),
    ),
    (
        # a reference may point at an inline provider defined further down
        """
        models:
          - {model: a, provider: s}
          - {model: b, provider: {name: s, base_url: http://s/v1}}
        """,
        {},
        lambda c: c.models["a"],
        ModelRoute("a", "s", "a"),
    ),
    (
        # an inline provider named like a declared one with the same settings is that one
        PROVIDER + "models: [{model: p, provider: {base_url: http://up/v1}}]",
        {},
        lambda c: list(c.providers),
        ["p"],
    ),
    (
        # YAML anchors and merge keys still work despite the duplicate-key check
        """
        providers:
          a: &base {base_url: http://up/v1}
          b: {<<: *base, timeout: 5}
        """,
        {},
        lambda c: (c.providers["b"].base_url, c.providers["b"].timeout),
        ("http://up/v1", 5.0),
    ),
]


@pytest.mark.parametrize(("text", "env", "get", "expected"), VALID)
def test_valid(
    tmp_path: Path,
    text: str,
    env: dict[str, str],
    get: Callable[[Config], object],
    expected: object,
) -> None:
    assert get(load(tmp_path, text, env)) == expected


def test_relative_key_file_is_relative_to_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load(tmp_path, "server: {key_file: keys/secret.key}")
    assert config.server.key_file == tmp_path / "keys" / "secret.key"
    monkeypatch.chdir(tmp_path)
    config = load_config("config.yaml", env={})
    assert config.server.key_file == tmp_path / "keys" / "secret.key"  # absolute, not cwd-bound


# (yaml, env, key path, fragment of the message)
ERRORS = [
    # required values and URLs
    (
        "models: [{model: m, provider: {api_key: k}}]",
        {},
        "models[0].provider.base_url",
        "required string is missing",
    ),
    ("providers: {p: }", {}, "providers.p.base_url", "required string is missing"),
    ("providers: {p: {base_url: ''}}", {}, "providers.p.base_url", "must not be empty"),
    (
        "providers: {p: {base_url: ftp://h/v1}}",
        {},
        "providers.p.base_url",
        "http:// or https:// URL",
    ),
    (
        "providers: {p: {base_url: 127.0.0.1:9100/v1}}",
        {},
        "providers.p.base_url",
        "http:// or https:// URL",
    ),
    (
        "providers: {p: {base_url: 'http://h/v1?x=1'}}",
        {},
        "providers.p.base_url",
        "query or fragment",
    ),
    ("providers: {p: {base_url: 'http://h:99999/v1'}}", {}, "providers.p.base_url", "invalid port"),
    ("providers: {p: {base_url: 5}}", {}, "providers.p.base_url", "must be a string"),
    # server types and ranges
    ("server: {request_timeout: abc}", {}, "server.request_timeout", "positive number"),
    ("server: {request_timeout: 0}", {}, "server.request_timeout", "positive number"),
    ("server: {request_timeout: .nan}", {}, "server.request_timeout", "positive number"),
    ("server: {request_timeout: true}", {}, "server.request_timeout", "positive number"),
    ("server: {port: 70000}", {}, "server.port", "between 1 and 65535"),
    ("server: {port: 0}", {}, "server.port", "between 1 and 65535"),
    ("server: {port: 80.5}", {}, "server.port", "integer"),
    ("server: {port: true}", {}, "server.port", "integer"),
    ("server: {host: 'a b'}", {}, "server.host", "host name"),
    ("server: {listen_addr: 127.0.0.1}", {}, "server.listen_addr", "no port"),
    ("server: {listen_addr: '[::1]'}", {}, "server.listen_addr", "no port"),
    ("server: {listen_addr: '::1:8765'}", {}, "server.listen_addr", "brackets"),
    ("server: {listen_addr: '127.0.0.1:http'}", {}, "server.listen_addr", "integer"),
    ("server: {listen_addr: '127.0.0.1:8765', port: 1}", {}, "server.listen_addr", "not both"),
    ("server: {log_level: verbose}", {}, "server.log_level", "debug, info, warning, error"),
    ("server: {reasoning_output: full}", {}, "server.reasoning_output", "summary, text"),
    ("server: {event_dialect: anthropic}", {}, "server.event_dialect", "openai, openresponses"),
    ("server: {max_body_bytes: 0}", {}, "server.max_body_bytes", "at least 1"),
    ("server: {drop_tool_types: web_search}", {}, "server.drop_tool_types", "must be a list"),
    (
        "server: {drop_tool_types: [web_search, 3]}",
        {},
        "server.drop_tool_types[1]",
        "must be a string",
    ),
    ("server: {secret_key: 123}", {}, "server.secret_key", "must be a string"),
    ("server: [1]", {}, "server", "must be a mapping"),
    # unknown keys, with the allowed ones listed
    ("model: []", {}, "model", "did you mean 'models'"),
    (
        "server: {listen_address: ':1'}",
        {},
        "server.listen_address",
        "did you mean 'listen_addr'",
    ),
    ("providers: {p: {base_ulr: http://h}}", {}, "providers.p.base_ulr", "did you mean 'base_url'"),
    ("models: [{model: m, provder: p}]", {}, "models[0].provder", "allowed keys: balance"),
    (
        "models: [{model: m, provider: {base_url: http://h, api_base: x}}]",
        {},
        "models[0].provider.api_base",
        "unknown key",
    ),
    (PROVIDER + "    downstream_model: x", {}, "providers.p.downstream_model", "unknown key"),
    ("providers: {p: {base_url: http://h, 1: x}}", {}, "providers.p", "keys must be strings"),
    # providers
    (
        "providers: {p: {base_url: http://h, api: soap}}",
        {},
        "providers.p.api",
        "must be one of chat",
    ),
    (
        "providers: {p: {base_url: http://h, timeout: soon}}",
        {},
        "providers.p.timeout",
        "positive number",
    ),
    (
        "providers: {p: {base_url: http://h, profile: true}}",
        {},
        "providers.p.profile",
        "must be a string",
    ),
    (
        "providers: {p: {base_url: http://h, headers: [a]}}",
        {},
        "providers.p.headers",
        "must be a mapping",
    ),
    (
        "providers: {p: {base_url: http://h, headers: {'X A': b}}}",
        {},
        "providers.p.headers.X A",
        "header name",
    ),
    (
        'providers: {p: {base_url: http://h, headers: {X-A: "b\\nc"}}}',
        {},
        "providers.p.headers.X-A",
        "line breaks",
    ),
    (
        "providers: {p: {base_url: http://h, headers: {X-A: null}}}",
        {},
        "providers.p.headers.X-A",
        "required string",
    ),
    ("providers: {'a@b': {base_url: http://h}}", {}, "providers.a@b", "must not contain '@'"),
    ("providers: [p]", {}, "providers", "must be a mapping"),
    # models
    ("models: {m: p}", {}, "models", "must be a list"),
    ("models: [gpt-4o]", {}, "models[0]", "must be a mapping"),
    ("models: [{provider: p}]", {}, "models[0].model", "required string is missing"),
    ("models: [{model: 5, provider: p}]", {}, "models[0].model", "must be a string"),
    ("models: [{model: m}]", {}, "models[0].provider", "a provider name or an inline provider"),
    (
        "models: [{model: m, provider: nope}]",
        {},
        "models[0].provider",
        "unknown provider 'nope'; defined providers: none",
    ),
    (
        PROVIDER + "models: [{model: m, provider: q}]",
        {},
        "models[0].provider",
        "defined providers: p",
    ),
    (
        PROVIDER + "models: [{model: m, provider: p}, {model: m, provider: p}]",
        {},
        "models[1].model",
        "duplicate model name 'm'",
    ),
    (
        PROVIDER + "models: [{model: m, provider: p, downstream_model: a, upstream_model: b}]",
        {},
        "models[0].upstream_model",
        "synonyms",
    ),
    (
        "models: [{model: m, downstream_model: a,"
        " provider: {base_url: http://h, downstream_model: b}}]",
        {},
        "models[0].provider",
        "both the model and its provider",
    ),
    (
        "models:\n"
        "  - {model: a, provider: {name: s, base_url: http://one/v1}}\n"
        "  - {model: b, provider: {name: s, base_url: http://two/v1}}",
        {},
        "models[1].provider",
        "already defined with different settings at models[0].provider",
    ),
    (
        PROVIDER + "models: [{model: p, provider: {base_url: http://other/v1}}]",
        {},
        "models[0].provider",
        "already defined with different settings at providers.p",
    ),
    (
        "models: [{model: 'a@b', provider: {base_url: http://h}}]",
        {},
        "models[0].provider.name",
        "required",
    ),
    (
        "models: [{model: m, provider: {name: 'x y', base_url: http://h}}]",
        {},
        "models[0].provider.name",
        "spaces",
    ),
    # aliases
    (PROVIDER + "aliases: {a: nope}", {}, "aliases.a", "neither a model"),
    (PROVIDER + "aliases: {a: 'q@m'}", {}, "aliases.a", "neither a model"),
    (PROVIDER + "aliases: {a: 'p@'}", {}, "aliases.a", "neither a model"),
    (PROVIDER + "aliases: {a: b, b: c, c: a}", {}, "aliases.a", "loop: a -> b -> c -> a"),
    (PROVIDER + "aliases: {a: a}", {}, "aliases.a", "loop: a -> a"),
    (PROVIDER + "aliases: {a: b, b: nope}", {}, "aliases.a", "'nope' is neither"),
    (
        PROVIDER + "models: [{model: m, provider: p}]\naliases: {m: p@x}",
        {},
        "aliases.m",
        "already a model name",
    ),
    (PROVIDER + "aliases: {a: 5}", {}, "aliases.a", "must be a string"),
    # environment expansion
    (
        "models: [{model: m, provider: {base_url: http://h, api_key: $UPSTREAM_KEY}}]",
        {},
        "models[0].provider.api_key",
        "UPSTREAM_KEY is not set",
    ),
    ("providers: {p: {base_url: '${URL}/v1'}}", {}, "providers.p.base_url", "URL is not set"),
    (
        "providers: {p: {base_url: http://h, headers: {X-K: $K}}}",
        {},
        "providers.p.headers.X-K",
        "K is not set",
    ),
    ("server: {secret_key: '${S'}", {}, "server.secret_key", "malformed variable reference"),
    ("server: {drop_tool_types: [$T]}", {}, "server.drop_tool_types[0]", "T is not set"),
    ("server: {port: $P}", {"P": "eighty"}, "server.port", "integer"),
    ("[1, 2]", {}, "", "must be a mapping"),
]


@pytest.mark.parametrize(("text", "env", "key_path", "fragment"), ERRORS)
def test_errors_name_the_key_path(
    tmp_path: Path, text: str, env: dict[str, str], key_path: str, fragment: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, env=env)
    err = caught.value
    assert (err.file, err.key_path) == (str(path), key_path)
    assert fragment in err.message
    assert str(err) == ": ".join(p for p in (str(path), key_path, err.message) if p)


def test_error_text_reads_like_the_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "models: [{model: m, provider: {api_key: k}}]")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_config("config.yaml", env={})
    assert (
        str(caught.value) == "config.yaml: models[0].provider.base_url: required string is missing"
    )


# (file contents, fragment of the message); errors about the file itself have no key path
FILE_ERRORS = [
    ("server:\n  port: 1\n   host: x\n", "invalid YAML at line 3, column"),
    ("models: [\n", "invalid YAML at line 2"),
    (
        "server:\n  port: 1\n  port: 2\n",
        "invalid YAML at line 3, column 3: found duplicate key 'port'",
    ),
    ("key: !!python/object:os.system x\n", "invalid YAML at line 1"),
]


@pytest.mark.parametrize(("text", "fragment"), FILE_ERRORS)
def test_yaml_errors_carry_the_line(tmp_path: Path, text: str, fragment: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    assert (caught.value.file, caught.value.key_path) == (str(path), "")
    assert fragment in caught.value.message


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(missing)
    assert str(caught.value) == f"{missing}: file not found"


def test_directory_and_binary_files_are_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read file"):
        load_config(tmp_path)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"server: \xff\xfe\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(binary)


def test_no_path_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_config(None, env={"GROQ_API_KEY": "g"}).providers["groq"].api_key == "g"
    assert load_config(None, env={}) == Config(source="environment")
    monkeypatch.setenv("DEEPSEEK_API_KEY", "from-os")
    config = load_config(None)
    assert config.source == "environment"
    assert config.providers["deepseek"].api_key == "from-os"


def test_expansion_defaults_to_os_environ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPSTREAM_KEY", "sk-os")
    config = load_config(write(tmp_path, MINIMAL))
    assert config.providers["gpt-5.5"].api_key == "sk-os"


# -- store: ------------------------------------------------------------------------------------

STORE_VALID = [
    ("", StoreConfig()),
    ("store:", StoreConfig()),
    ("store: {backend: SQLite, ttl_days: 7}", StoreConfig(backend="sqlite", ttl_days=7)),
    ("store: {backend: memory}", StoreConfig(backend="memory")),
    ("store: {path: /var/lib/wb/store.db}", StoreConfig(path=Path("/var/lib/wb/store.db"))),
    (
        "store: {backend: postgres, url: 'postgresql://wb:pw@db:5432/wb', ttl_days: '90'}",
        StoreConfig(backend="postgres", url="postgresql://wb:pw@db:5432/wb", ttl_days=90),
    ),
    (
        "store: {backend: postgres, url: $DSN}",
        StoreConfig(backend="postgres", url="postgres://h/db"),
    ),
    ("store: {backend: redis, url: 'redis://h:6379/2'}", StoreConfig("redis", "redis://h:6379/2")),
    ("store: {backend: redis, url: 'rediss://h/0'}", StoreConfig("redis", "rediss://h/0")),
    (
        "store: {backend: redis, url: 'unix:///r.sock?db=2'}",
        StoreConfig("redis", "unix:///r.sock?db=2"),
    ),
]


@pytest.mark.parametrize(("text", "expected"), STORE_VALID)
def test_store_section(tmp_path: Path, text: str, expected: StoreConfig) -> None:
    assert load(tmp_path, text, {"DSN": "postgres://h/db"}).store == expected


def test_relative_store_path_is_relative_to_the_config_file(tmp_path: Path) -> None:
    config = load(tmp_path, "store: {path: data/store.db}")
    assert config.store.path == tmp_path / "data" / "store.db"


STORE_ERRORS = [
    ("store: []", "store", "must be a mapping"),
    ("store: {backnd: sqlite}", "store.backnd", "did you mean 'backend'"),
    ("store: {backend: mysql}", "store.backend", "must be one of sqlite, postgres, redis, memory"),
    ("store: {backend: postgres}", "store.url", "required for the postgres backend"),
    ("store: {backend: redis}", "store.url", "required for the redis backend"),
    (
        "store: {backend: postgres, url: 'redis://:pw@h/0'}",
        "store.url",
        "must be a postgres:// or postgresql:// URL for the postgres backend, got redis://",
    ),
    ("store: {backend: redis, url: 'h:6379'}", "store.url", "got no scheme"),
    ("store: {backend: redis, url: 'redis://:pw@h/0?pool=9'}", "store.url", "unknown option"),
    ("store: {backend: redis, url: 'redis://:pw@h/zero'}", "store.url", "must be a number"),
    ("store: {url: 'postgres://h/db'}", "store.url", "only for the postgres and redis backends"),
    ("store: {backend: redis, url: 'redis://h', path: x.db}", "store.path", "only for the sqlite"),
    ("store: {ttl_days: 0}", "store.ttl_days", "integer of at least 1"),
    ("store: {ttl_days: 1.5}", "store.ttl_days", "integer"),
    ("store: {path: 5}", "store.path", "must be a string"),
]


@pytest.mark.parametrize(("text", "key_path", "fragment"), STORE_ERRORS)
def test_store_errors_name_the_key_path(
    tmp_path: Path, text: str, key_path: str, fragment: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    assert caught.value.key_path == key_path
    assert fragment in caught.value.message
    assert "pw" not in str(caught.value)  # a URL's password never lands in a message
