"""``wirebridge start | stop | restart | status``: the gateway as a background service (POSIX).

``start`` checks the config and the port, then runs ``wirebridge serve`` with the same options
as a child in a new session (no terminal; stdout and stderr appended to the log file), writes
the pid file and the state file (the options, so ``restart`` can repeat them), and returns once
``GET /health`` answers — or prints the end of the log and fails. ``--api-key`` values reach the
child through its environment, not its command line, which other users can read.

``stop`` sends SIGTERM, waits, then SIGKILLs the daemon's whole process group (workers too) and
removes the pid file. ``restart`` stops and starts again with the options saved by the last
``start``, any given now replacing saved ones. ``status`` reads the pid and state files and asks
the daemon's ``/health``.

A start, stop or restart holds an ``flock`` on ``<pid file>.lock`` so two cannot interleave.
The process and file mechanics (pid/state files, spawning, signals, liveness, the lock, the
``/health`` probe) live in ``process.py``; this module holds the commands and what they print.

Exit codes: ``start`` 0 running, 1 failed or already running, 2 config or flags wrong;
``stop`` 0 stopped or was not running, 1 could not stop it; ``status`` 0 running, 1 running but
``/health`` does not answer, 3 not running.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from wirebridge import __version__
from wirebridge.cli import options
from wirebridge.cli.options import DaemonFiles, ServeOptions, listen_url
from wirebridge.cli.process import (
    abandon,
    child_pids,
    get_health,
    kill_group,
    locked,
    port_problem,
    read_pid,
    read_state,
    running_pid,
    spawn,
    wait_gone,
    wait_healthy,
    write_pid,
    write_state,
)
from wirebridge.cli.serve import Refused, prepare
from wirebridge.config import ConfigError, load_config
from wirebridge.config.model import Config

START_TIMEOUT = 30.0  # seconds start waits for /health
STOP_TIMEOUT = 35.0  # seconds stop waits after SIGTERM (workers drain for up to 25)
NOT_RUNNING = 3
_LOG_TAIL = 20


def register(sub: Any) -> None:
    p = sub.add_parser("start", help="run the gateway in the background")
    options.add_server_options(p)
    options.add_file_options(p)
    _wait_option(p)
    p.set_defaults(run=run_start)

    p = sub.add_parser("stop", help="stop the background gateway")
    options.add_file_options(p)
    _timeout_option(p)
    p.set_defaults(run=run_stop)

    p = sub.add_parser(
        "restart", help="stop and start the background gateway with its saved start options"
    )
    options.add_server_options(p)
    options.add_file_options(p)
    _wait_option(p)
    _timeout_option(p)
    p.set_defaults(run=run_restart)

    p = sub.add_parser("status", help="is the background gateway running, and how")
    options.add_file_options(p)
    p.add_argument("-v", "--verbose", action="store_true", help="providers, models, files")
    p.set_defaults(run=run_status)


def _wait_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--wait",
        type=float,
        default=START_TIMEOUT,
        metavar="SECONDS",
        help=f"how long to wait for /health (default {START_TIMEOUT:g})",
    )


def _timeout_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--timeout",
        type=float,
        default=STOP_TIMEOUT,
        metavar="SECONDS",
        help=f"SIGKILL after this long (default {STOP_TIMEOUT:g})",
    )


# -- commands ----------------------------------------------------------------------------------


def run_start(args: argparse.Namespace) -> int:
    return start(ServeOptions.from_args(args), DaemonFiles.from_args(args), args.wait)


def run_stop(args: argparse.Namespace) -> int:
    files = DaemonFiles.from_args(args)
    files = files.with_saved(args, read_state(files.state))
    return stop(files, args.timeout)


def run_restart(args: argparse.Namespace) -> int:
    files = DaemonFiles.from_args(args)
    state = read_state(files.state)
    files = files.with_saved(args, state)
    given = ServeOptions.from_args(args)
    if not state:
        print(f"wirebridge: no saved start options in {files.state}; starting with these")
    code = stop(files, args.timeout)
    if code != 0:
        return code
    return start(given.over(ServeOptions.from_json(state.get("options"))), files, args.wait)


def run_status(args: argparse.Namespace) -> int:
    files = DaemonFiles.from_args(args)
    state = read_state(files.state)
    files = files.with_saved(args, state)
    return status(files, state, args.verbose)


# -- start -------------------------------------------------------------------------------------


def start(opts: ServeOptions, files: DaemonFiles, wait: float) -> int:
    opts = opts.absolute()
    with locked(files):
        pid = running_pid(files.pid)
        if pid is not None:
            where = _saved_url(read_state(files.state))
            print(f"wirebridge is already running (pid {pid}{where})", file=sys.stderr)
            return 1
        try:
            config = prepare(opts)
        except ConfigError as e:
            print(options.config_error(e), file=sys.stderr)
            return 2
        except Refused as e:
            print(f"wirebridge: {e}", file=sys.stderr)
            return 2
        host, port = config.server.host, config.server.port
        busy = port_problem(host, port)
        if busy is not None:
            print(f"wirebridge: cannot listen on {host}:{port}: {busy}", file=sys.stderr)
            return 1
        proc = spawn(opts, files)
        write_pid(files.pid, proc.pid)
        write_state(files.state, _state(opts, files, config, proc.pid))
        problem = wait_healthy(proc, host, port, wait, opts.api_keys)
        if problem is not None:
            abandon(proc, files)
            print(f"wirebridge did not start: {problem}", file=sys.stderr)
            print(f"--- last lines of {files.log} ---", file=sys.stderr)
            print(_tail(files.log), file=sys.stderr)
            return 1
    workers = f", {opts.workers} workers" if (opts.workers or 1) > 1 else ""
    print(
        f"wirebridge started (pid {proc.pid}{workers}): listening on {listen_url(host, port)}; "
        f"log: {files.log}"
    )
    return 0


def _state(opts: ServeOptions, files: DaemonFiles, config: Config, pid: int) -> dict[str, Any]:
    return {
        "pid": pid,
        "started_at": time.time(),
        "version": __version__,
        "host": config.server.host,
        "port": config.server.port,
        "config": config.source,
        "workers": opts.workers or 1,
        "pid_file": str(files.pid),
        "log_file": str(files.log),
        "options": opts.to_json(),
    }


# -- stop --------------------------------------------------------------------------------------


def stop(files: DaemonFiles, timeout: float) -> int:
    with locked(files):
        pid = running_pid(files.pid)
        if pid is None:
            stale = files.pid.exists()
            files.pid.unlink(missing_ok=True)
            print("wirebridge is not running" + (" (removed a stale pid file)" if stale else ""))
            return 0
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not wait_gone(pid, timeout):
            print(f"wirebridge (pid {pid}) did not stop within {timeout:g} s: killing it")
            kill_group(pid)
            if not wait_gone(pid, 5.0):
                print(f"wirebridge: could not stop pid {pid}", file=sys.stderr)
                return 1
        if read_pid(files.pid) == pid:
            files.pid.unlink(missing_ok=True)
        state = read_state(files.state)
        if state:
            state["stopped_at"] = time.time()
            write_state(files.state, state)
    print(f"wirebridge stopped (pid {pid})")
    return 0


# -- status ------------------------------------------------------------------------------------


def status(files: DaemonFiles, state: dict[str, Any], verbose: bool) -> int:
    pid = running_pid(files.pid)
    if pid is None:
        last = ""
        if state.get("started_at"):
            last = f" (last started {_when(state['started_at'])}, config: {state.get('config')})"
        print(f"wirebridge is not running{last}")
        return NOT_RUNNING
    opts = ServeOptions.from_json(state.get("options"))
    host, port = str(state.get("host", "127.0.0.1")), int(state.get("port", 8765))
    health, error = get_health(host, port, opts.api_keys)
    print(f"wirebridge is running: pid {pid}")
    print(f"  listening: {listen_url(host, port)}")
    if health is not None:
        uptime = _duration(float(health.get("uptime_seconds", 0)))
        print(f"  uptime:    {uptime} (version {health.get('version', '?')})")
    else:
        print(f"  health:    not answering ({error})")
    print(f"  config:    {state.get('config') or 'environment'}")
    config, problem = _config_now(opts)
    if config is None:
        print(f"  (the config cannot be read now: {problem})")
    else:
        names = ", ".join(config.providers) or "none"
        print(f"  providers: {names}")
        print(f"  store:     {store_text(config)}")
    if verbose:
        _verbose(pid, files, state, opts, config)
    return 0 if health is not None else 1


def _verbose(
    pid: int, files: DaemonFiles, state: dict[str, Any], opts: ServeOptions, config: Config | None
) -> None:
    workers = child_pids(pid)
    if int(state.get("workers", 1)) > 1:
        print(f"  workers:   {len(workers)} (pids {', '.join(map(str, workers)) or 'none'})")
    print(f"  started:   {_when(state.get('started_at'))}")
    print(f"  pid file:  {files.pid}")
    print(f"  log file:  {files.log}")
    print(f"  state:     {files.state}")
    print(f"  options:   {json.dumps(opts.redacted())}")
    if config is None:
        return
    for p in config.providers.values():
        keys = sum(1 for k in p.keys if k)
        print(f"  provider {p.name}: api {p.api}, {p.base_url}, profile {p.profile}, {keys} key(s)")
    for name, route in config.models.items():
        print(f"  model {name}: {route.provider} / {route.upstream_model}")
    for name, target in config.aliases.items():
        print(f"  alias {name}: {target}")
    print(f"  client keys: {len(config.server.api_keys)} static")


def _config_now(opts: ServeOptions) -> tuple[Config | None, str | None]:
    try:
        return options.apply(load_config(opts.config), opts), None
    except ConfigError as e:
        return None, str(e)


def store_text(config: Config) -> str:
    store = config.store
    if store.backend == "sqlite":
        from wirebridge.store import sqlite_path

        return f"sqlite {sqlite_path(store)}"
    if store.backend == "memory":
        return "memory (nothing outlives the process)"
    from wirebridge.store.base import redact_url

    return f"{store.backend} {redact_url(store.url or '')}"


# -- text --------------------------------------------------------------------------------------


def _tail(path: Path, lines: int = _LOG_TAIL) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _saved_url(state: dict[str, Any]) -> str:
    if "host" in state and "port" in state:
        return f", {listen_url(str(state['host']), int(state['port']))}"
    return ""


def _when(ts: object) -> str:
    if not isinstance(ts, int | float):
        return "?"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def _duration(seconds: float) -> str:
    s = int(seconds)
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    parts = [f"{d}d"] if d else []
    parts += [f"{h}h"] if h or d else []
    parts += [f"{m}m"] if m or h or d else []
    return " ".join([*parts, f"{s}s"])
