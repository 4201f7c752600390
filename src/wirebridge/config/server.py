"""The ``server:`` and ``store:`` sections of a config file."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wirebridge.config.errors import Where
from wirebridge.config.model import (
    ServerConfig,
    StoreConfig,
)
from wirebridge.config.values import (
    check_keys,
    choice,
    host,
    http_url,
    integer,
    log_level,
    mapping,
    names,
    non_negative,
    optional,
    optional_string,
    port,
    positive_number,
    relative_path,
    string,
)
from wirebridge.ratelimit.settings import parse_rate_limits
from wirebridge.transport.redis_url import parse_url

REASONING_OUTPUTS = ("summary", "text")


EVENT_DIALECTS = ("openai", "openresponses")


LOG_FORMATS = ("text", "json")


_STORE_KEYS = ("backend", "url", "path", "ttl_days")


STORE_BACKENDS = ("sqlite", "postgres", "redis", "memory")


_STORE_URL_SCHEMES = {
    "postgres": ("postgres", "postgresql"),
    "redis": ("redis", "rediss", "unix"),
}


def _server(raw: object, at: Where, base_dir: Path) -> ServerConfig:
    data = mapping(raw, at)
    # each key but the address (``_bind``), with how its value is read; absent, the default
    parsers: dict[str, Any] = {
        "request_timeout": positive_number,
        "log_level": log_level,
        "max_body_bytes": _byte_count,
        "secret_key": optional_string,
        "key_file": lambda v, w: relative_path(v, w, base_dir),
        "drop_tool_types": names,
        "reasoning_output": _reasoning_output,
        "event_dialect": _event_dialect,
        "websocket_history": _count,
        "websocket_compression": _flag,
        "background_lease": positive_number,
        "rate_limits": parse_rate_limits,
        "metrics_public": _flag,
        "otel_endpoint": _otel_endpoint,
        "log_bodies": _flag,
        "api_keys": names,
        "log_format": lambda v, w: choice(v, w, LOG_FORMATS),
        "models_cache_ttl": non_negative,
        "stream_keepalive_interval": positive_number,
        "memory_release_burst": _count,
        "memory_release_interval": positive_number,
    }
    check_keys(data, at, ("listen_addr", "host", "port", *parsers))
    default = ServerConfig()
    bind_host, bind_port = _bind(data, at, default)
    read = {k: optional(data, at, k, parse, getattr(default, k)) for k, parse in parsers.items()}
    return ServerConfig(host=bind_host, port=bind_port, **read)


def _count(value: object, at: Where) -> int:
    return integer(value, at, 0)


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
        path=optional(data, at, "path", lambda v, w: relative_path(v, w, base_dir), None),
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
    if backend == "redis":
        try:
            parse_url(text)
        except ValueError as exc:
            raise at.error(str(exc)) from None
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
