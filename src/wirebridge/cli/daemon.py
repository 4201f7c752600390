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
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from wirebridge import __version__
from wirebridge.cli import options
from wirebridge.cli.options import API_KEYS_ENV, DaemonFiles, ServeOptions, listen_url, probe_host
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
    with _locked(files):
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
        proc = _spawn(opts, files)
        write_pid(files.pid, proc.pid)
        write_state(files.state, _state(opts, files, config, proc.pid))
        problem = _wait_healthy(proc, host, port, wait, opts.api_keys)
        if problem is not None:
            _abandon(proc, files)
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


def _spawn(opts: ServeOptions, files: DaemonFiles) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    home = env.get("WIREBRIDGE_HOME", "").strip()
    if home:  # the daemon runs from /: a relative home would move
        env["WIREBRIDGE_HOME"] = str(Path(home).expanduser().absolute())
    if opts.api_keys:
        env[API_KEYS_ENV] = "\n".join(opts.api_keys)
    cmd = [sys.executable, "-m", "wirebridge", "serve", *opts.serve_argv()]
    files.log.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(files.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "ab") as log:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        log.write(f"--- wirebridge start {stamp}: {' '.join(cmd[1:])}\n".encode())
        log.flush()
        return subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd="/",
            env=env,
            start_new_session=True,
        )


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


def _wait_healthy(
    proc: subprocess.Popen[bytes], host: str, port: int, wait: float, keys: tuple[str, ...]
) -> str | None:
    deadline = time.monotonic() + wait
    last = "no answer yet"
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            return f"the gateway exited with code {code}"
        health, error = get_health(host, port, keys)
        if health is not None:
            return None
        last = error or last
        time.sleep(0.1)
    return f"GET /health did not answer within {wait:g} s ({last})"


def _abandon(proc: subprocess.Popen[bytes], files: DaemonFiles) -> None:
    """Stop a child that did not come up, and forget it."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
    if read_pid(files.pid) == proc.pid:
        files.pid.unlink(missing_ok=True)


# -- stop --------------------------------------------------------------------------------------


def stop(files: DaemonFiles, timeout: float) -> int:
    with _locked(files):
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
            _kill_group(pid)
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


def _kill_group(pid: int) -> None:
    """SIGKILL the daemon and its workers (it leads its own process group)."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


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


def get_health(
    host: str, port: int, keys: tuple[str, ...] = ()
) -> tuple[dict[str, Any] | None, str | None]:
    """``GET /health`` of a gateway on this machine, never through a proxy."""
    url = listen_url(probe_host(host), port) + "/health"
    request = urllib.request.Request(url)
    if keys:
        request.add_header("Authorization", f"Bearer {keys[0]}")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=2) as resp:
            body = json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return None, f"HTTP {e.code}"
    except (OSError, ValueError) as e:
        return None, str(getattr(e, "reason", e))
    return (body if isinstance(body, dict) else {}), None


# -- files and processes -----------------------------------------------------------------------


def read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() and int(text) > 0 else None


def write_pid(path: Path, pid: int) -> None:
    _write_atomic(path, f"{pid}\n".encode())


def read_state(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_state(path: Path, data: dict[str, Any]) -> None:
    """Private (0600): the saved options hold the static client keys."""
    _write_atomic(path, json.dumps(data, indent=2).encode() + b"\n")


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def running_pid(pid_file: Path) -> int | None:
    """The pid in ``pid_file`` if that process is alive and is a wirebridge."""
    pid = read_pid(pid_file)
    if pid is None or not alive(pid) or not _is_wirebridge(pid):
        return None
    return pid


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive, and not ours to judge further
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def _is_wirebridge(pid: int) -> bool:
    """A pid file outlives reboots and pids are reused: check the command line (Linux)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return not Path("/proc/self").exists()  # no /proc: trust the pid file
    except OSError:
        return True
    return b"wirebridge" in cmdline


def child_pids(pid: int) -> list[int]:
    """Children of ``pid`` (Linux; empty elsewhere)."""
    out = []
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = entry.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if len(fields) > 1 and fields[1] == str(pid) and fields[0] != "Z":
            out.append(int(entry.parent.name))
    return sorted(out)


def port_problem(host: str, port: int) -> str | None:
    from wirebridge.cli.workers import check_port_free

    try:
        check_port_free(host, port)
    except OSError as e:
        return e.strerror or str(e)
    return None


@contextlib.contextmanager
def _locked(files: DaemonFiles) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    lock = files.pid.with_name(files.pid.name + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


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
