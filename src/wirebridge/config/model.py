"""Typed configuration: what ``config.load`` produces and the rest of the gateway reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_DROP_TOOL_TYPES = ("web_search", "web_search_preview", "tool_search", "image_generation")


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """One upstream endpoint. ``profile`` names a row in ``providers.profiles`` (quirks as data)."""

    name: str
    base_url: str  # without trailing slash, e.g. http://127.0.0.1:9100/v1
    api_key: str | None = None
    api: str = "chat"  # chat | responses | messages | chatgpt
    profile: str = "generic"
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float | None = None  # seconds; None = server.request_timeout
    # Settings of one upstream kind (``azure``, ``chatgpt``, ...), parsed by config.sections.
    sections: dict[str, Any] = field(default_factory=dict)
    # More keys of the same account or deployment: requests are spread over api_key + these.
    api_keys: tuple[str, ...] = ()
    retries: int = 2  # attempts after the first, on connection errors, 408, 429, 5xx, 529
    connect_timeout: float | None = None  # seconds; None = min(10, timeout)
    total_timeout: float | None = None  # seconds for a whole non-streamed answer
    cooldown: float = 30.0  # seconds a failing key/target is passed over
    proxy: str | None = None  # http(s) proxy URL; else HTTPS_PROXY / HTTP_PROXY / NO_PROXY

    @property
    def keys(self) -> tuple[str | None, ...]:
        """Every key to spread requests over (one ``None`` for a provider without a key)."""
        first = (self.api_key,) if self.api_key or not self.api_keys else ()
        return (*first, *self.api_keys)


@dataclass(frozen=True, slots=True)
class ModelRoute:
    """A model name a client may ask for, and where it goes: ``provider``/``upstream_model``,
    or several ``targets`` (provider, upstream model) to balance over; on a retryable failure
    the ``fallbacks`` (other model names) are tried in order."""

    name: str
    provider: str
    upstream_model: str
    targets: tuple[tuple[str, str], ...] = ()
    fallbacks: tuple[str, ...] = ()
    balance: str = "round_robin"  # round_robin | least_in_flight

    @property
    def all_targets(self) -> tuple[tuple[str, str], ...]:
        return self.targets or ((self.provider, self.upstream_model),)


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Requests per minute and per day, tokens per minute; ``None``: no such limit."""

    rpm: int | None = None
    rpd: int | None = None
    tpm: int | None = None


@dataclass(frozen=True, slots=True)
class RateLimitConfig:
    """``server.rate_limits`` (``wirebridge.ratelimit``): off unless a limit is given."""

    per_key: RateLimits = field(default_factory=RateLimits)
    per_ip: RateLimits = field(default_factory=RateLimits)  # tpm is counted per key only
    storage: str = "memory"  # memory (one instance) | redis (shared by instances)
    redis_url: str | None = None  # for storage: redis


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8765
    request_timeout: float = 120.0
    log_level: str = "info"
    max_body_bytes: int = 32 * 1024 * 1024
    secret_key: str | None = None  # seals reasoning blobs; else read/generated in key_file
    key_file: Path | None = None  # default: <state dir>/secret.key
    drop_tool_types: tuple[str, ...] = DEFAULT_DROP_TOOL_TYPES
    reasoning_output: str = "summary"  # summary | text: how upstream reasoning is shown
    event_dialect: str = "openai"  # openai | openresponses
    # Turns each WebSocket connection remembers for previous_response_id chaining (0: none;
    # clients then resend the whole history). Memory per socket grows with it.
    websocket_history: int = 16
    # permessage-deflate on Responses WebSockets when the client offers it: about 40 % more CPU
    # a turn (every event frame compressed), worth it only over a slow network.
    websocket_compression: bool = False
    # Seconds a background run's lease lasts: an instance that dies leaves its runs to be
    # marked failed by another instance within about this long.
    background_lease: float = 30.0
    # OTLP/HTTP endpoint for traces (e.g. http://collector:4318); else OTEL_EXPORTER_OTLP_ENDPOINT.
    # Tracing needs the optional packages: pip install 'wirebridge[otel]'.
    otel_endpoint: str | None = None
    log_bodies: bool = False  # request/response bodies in the log at debug level, redacted
    rate_limits: RateLimitConfig = field(default_factory=RateLimitConfig)
    metrics_public: bool = False  # /metrics without a client key even when keys are required
    api_keys: tuple[str, ...] = ()  # static client keys (server.api_keys, serve --api-key)
    log_format: str = "text"  # text | json (serve --log-format)
    models_cache_ttl: float = 300.0  # seconds GET /v1/models keeps providers' model lists
    # Seconds an SSE stream waits on a quiet upstream before it sends a keepalive (a ping event on
    # /v1/messages, a comment line elsewhere), so that proxies do not close it as idle.
    stream_keepalive_interval: float = 10.0
    # After this many requests were in flight at once (0: never), give the memory back to the
    # system (gc, glibc malloc_trim) once they are down to an eighth; observe/memory.py.
    memory_release_burst: int = 64
    memory_release_interval: float = 30.0  # seconds: at most one such release per interval


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """Where stored responses live (``store:``); see ``wirebridge.store.open_store``."""

    backend: str = "sqlite"  # sqlite | postgres | redis | memory
    url: str | None = None  # postgres DSN or redis URL; required for those backends
    path: Path | None = None  # sqlite file; None = <state dir>/wirebridge.db
    ttl_days: int = 30  # stored responses expire this long after they are created


@dataclass(frozen=True, slots=True)
class ClaudeAlias:
    """A regex over the model name a Messages client asked for, and the model it maps to."""

    match: str  # a Python regular expression, searched (anchor it with ^ … $ as needed)
    model: str  # a model name, an alias, or provider@model


@dataclass(frozen=True, slots=True)
class ClaudeModels:
    """``claude:``: which models serve Claude model names (``engine/model_map.py``).

    ``opus`` names go to ``big``, ``sonnet`` names to ``middle``, ``haiku`` names to ``small``;
    ``aliases`` are tried first, in order. Each target is a model, an alias or provider@model.
    """

    big: str | None = None
    middle: str | None = None
    small: str | None = None
    aliases: tuple[ClaudeAlias, ...] = ()


@dataclass(frozen=True, slots=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    providers: dict[str, ProviderConfig] = field(default_factory=dict)
    profiles: dict[str, Any] = field(default_factory=dict)  # name -> providers.profiles.Profile
    models: dict[str, ModelRoute] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)  # name -> model name or provider@model
    claude: ClaudeModels = field(default_factory=ClaudeModels)  # Claude names -> models
    source: str | None = None  # the file it came from, or "environment"
