"""Options shared by ``serve``, ``start``, ``restart``, ``doctor`` and ``models``.

``ServeOptions`` is what a run of the gateway was asked for on the command line: it is read from
``argparse``, laid over the config file (``apply``), saved in the state file by ``start`` and
merged under new flags by ``restart`` (``over``). Every field is ``None`` (or empty) when not
given, so "not given" and "given the default" stay distinguishable.

``DaemonFiles`` are the pid, log and state files, by default under ``state_dir()``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import MutableMapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from wirebridge.config import ConfigError, load_config, state_dir
from wirebridge.config.errors import Where
from wirebridge.config.model import Config
from wirebridge.config.server import LOG_FORMATS
from wirebridge.config.values import LOG_LEVELS, host, http_url, port

MAX_WORKERS = 64
PID_FILE = "wirebridge.pid"
LOG_FILE = "wirebridge.log"
STATE_FILE = "wirebridge.state.json"
# start hands --api-key values to its serve child here rather than on the command line, which
# every user of the machine can read (/proc/PID/cmdline); serve removes it from its environment.
API_KEYS_ENV = "_WIREBRIDGE_API_KEYS"
_FLAGS = Where("command line")


def add_config_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="YAML config file (default: built from the environment)")


def add_server_options(p: argparse.ArgumentParser, *, workers: bool = True) -> None:
    """The options of a gateway run; ``workers=False`` for commands that do not serve."""
    add_config_option(p)
    p.add_argument("--host", help="address to bind (default: server.host, else 127.0.0.1)")
    p.add_argument("--port", type=int, help="port to bind (default: server.port, else 8765)")
    p.add_argument(
        "--api-key",
        dest="api_keys",
        action="append",
        metavar="KEY",
        help="a static key clients must send (may repeat; added to server.api_keys)",
    )
    p.add_argument(
        "--proxy",
        metavar="URL",
        help="http(s) proxy for providers without their own proxy: (sets HTTPS_PROXY/HTTP_PROXY)",
    )
    p.add_argument("--log-level", choices=LOG_LEVELS)
    p.add_argument("--log-format", choices=LOG_FORMATS)
    p.add_argument(
        "--models-cache-ttl",
        type=float,
        metavar="SECONDS",
        help="how long GET /v1/models keeps each provider's model list (default 300)",
    )
    if workers:
        p.add_argument(
            "--workers",
            type=int,
            metavar="N",
            help="worker processes sharing the port (default 1: no supervisor)",
        )


def add_file_options(p: argparse.ArgumentParser) -> None:
    home = "$WIREBRIDGE_HOME or ~/.wirebridge"
    p.add_argument("--pid-file", help=f"pid file (default {home}/{PID_FILE})")
    p.add_argument("--log-file", help=f"daemon log (default {home}/{LOG_FILE})")
    p.add_argument("--state-file", help=f"saved start options (default {home}/{STATE_FILE})")


@dataclass(frozen=True, slots=True)
class ServeOptions:
    config: str | None = None
    host: str | None = None
    port: int | None = None
    api_keys: tuple[str, ...] = ()
    proxy: str | None = None
    log_level: str | None = None
    log_format: str | None = None
    models_cache_ttl: float | None = None
    workers: int | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ServeOptions:
        values: dict[str, Any] = {f.name: getattr(args, f.name, None) for f in fields(cls)}
        values["api_keys"] = tuple(values["api_keys"] or ())
        return cls(**values)

    @classmethod
    def from_json(cls, data: object) -> ServeOptions:
        """From a state file's ``options``; unknown keys (a newer version's) are ignored."""
        if not isinstance(data, dict):
            return cls()
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {k: v for k, v in data.items() if k in known}
        values["api_keys"] = tuple(str(k) for k in values.get("api_keys") or ())
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["api_keys"] = list(self.api_keys)
        return data

    def over(self, saved: ServeOptions) -> ServeOptions:
        """These options where given, ``saved`` ones elsewhere (``restart``, ``doctor``)."""
        values = {}
        for f in fields(self):
            mine = getattr(self, f.name)
            values[f.name] = mine if mine not in (None, ()) else getattr(saved, f.name)
        return ServeOptions(**values)

    def absolute(self) -> ServeOptions:
        """With the config path absolute, so a daemon (run from ``/``) finds it again."""
        if self.config is None:
            return self
        return replace(self, config=str(Path(self.config).expanduser().absolute()))

    def check(self) -> None:
        """Values argparse cannot check; raises ``ConfigError`` naming the flag."""
        if self.host is not None:
            host(self.host, _FLAGS.key("--host"))
        if self.port is not None:
            port(self.port, _FLAGS.key("--port"))
        if self.proxy is not None:
            http_url(self.proxy, _FLAGS.key("--proxy"))
        ttl = self.models_cache_ttl
        if ttl is not None and not ttl >= 0:
            raise _FLAGS.key("--models-cache-ttl").error(f"must be 0 or more, got {ttl}")
        n = self.workers
        if n is not None and not 1 <= n <= MAX_WORKERS:
            raise _FLAGS.key("--workers").error(f"must be between 1 and {MAX_WORKERS}, got {n}")
        for key in self.api_keys:
            if not key.strip() or any(c.isspace() for c in key):
                raise _FLAGS.key("--api-key").error("must be non-empty, without spaces")

    def serve_argv(self) -> list[str]:
        """``wirebridge serve`` arguments for these options, without the api keys (see
        ``API_KEYS_ENV``)."""
        argv: list[str] = []
        for flag, value in (
            ("--config", self.config),
            ("--host", self.host),
            ("--port", self.port),
            ("--proxy", self.proxy),
            ("--log-level", self.log_level),
            ("--log-format", self.log_format),
            ("--models-cache-ttl", self.models_cache_ttl),
            ("--workers", self.workers),
        ):
            if value is not None:
                argv += [flag, str(value)]
        return argv

    def redacted(self) -> dict[str, Any]:
        """For display: api keys shown only by their last four characters."""
        data = self.to_json()
        data["api_keys"] = [f"…{k[-4:]}" if len(k) > 8 else "…" for k in self.api_keys]
        return {k: v for k, v in data.items() if v not in (None, [])}


def load(opts: ServeOptions, env: MutableMapping[str, str] | None = None) -> Config:
    """The config file (or environment) with the options laid over it; ``ConfigError``."""
    opts.check()
    return apply(load_config(opts.config, env), opts)


def apply(config: Config, opts: ServeOptions) -> Config:
    server = config.server
    changes: dict[str, Any] = {}
    for name in ("host", "port", "log_level", "log_format", "models_cache_ttl"):
        value = getattr(opts, name)
        if value is not None:
            changes[name] = value
    if opts.api_keys:
        keys = dict.fromkeys((*server.api_keys, *opts.api_keys))  # ordered, no duplicates
        changes["api_keys"] = tuple(keys)
    return replace(config, server=replace(server, **changes)) if changes else config


def apply_proxy(proxy: str | None, environ: MutableMapping[str, str] | None = None) -> None:
    """Make ``proxy`` the process's default upstream proxy (``trust_env`` sessions read it;
    a provider's own ``proxy:`` still wins). Lower-case names too: they take precedence."""
    if proxy is None:
        return
    env = os.environ if environ is None else environ
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        env[name] = proxy


def take_api_keys(environ: MutableMapping[str, str] | None = None) -> tuple[str, ...]:
    """The keys ``start`` handed over in ``API_KEYS_ENV``, removed from the environment."""
    env = os.environ if environ is None else environ
    raw = env.pop(API_KEYS_ENV, "")
    return tuple(k for k in raw.split("\n") if k)


@dataclass(frozen=True, slots=True)
class DaemonFiles:
    pid: Path
    log: Path
    state: Path

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> DaemonFiles:
        home = state_dir()

        def path(value: str | None, default: str) -> Path:
            return Path(value).expanduser().absolute() if value else (home / default).absolute()

        return cls(
            pid=path(getattr(args, "pid_file", None), PID_FILE),
            log=path(getattr(args, "log_file", None), LOG_FILE),
            state=path(getattr(args, "state_file", None), STATE_FILE),
        )

    def with_saved(self, args: argparse.Namespace, saved: dict[str, Any]) -> DaemonFiles:
        """Pid and log files recorded in the state file, unless given on the command line."""
        pid = self.pid
        log = self.log
        if not getattr(args, "pid_file", None) and isinstance(saved.get("pid_file"), str):
            pid = Path(saved["pid_file"])
        if not getattr(args, "log_file", None) and isinstance(saved.get("log_file"), str):
            log = Path(saved["log_file"])
        return DaemonFiles(pid=pid, log=log, state=self.state)


def listen_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def probe_host(host: str) -> str:
    """An address to reach a server bound to ``host`` from this machine."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


def config_error(e: ConfigError) -> str:
    return f"wirebridge: config error: {e}"
