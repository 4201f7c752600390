"""The background gateway's process and its files (POSIX): what ``daemon.py``'s commands run on.

* the pid file and the state file (read; written atomically and private, 0600, since the saved
  options hold the static client keys);
* is the pid in the pid file alive, not a zombie, and a wirebridge (pid files outlive reboots
  and pids are reused), and its workers (children);
* spawning ``wirebridge serve`` detached (new session, cwd ``/``, output appended to the log;
  ``--api-key`` values through the environment, not the command line), stopping it (SIGTERM,
  then SIGKILL of its whole process group), waiting for it to go or for ``GET /health``;
* the ``flock`` on ``<pid file>.lock`` that keeps two starts/stops from interleaving.

Kept apart from the commands so they read as the steps they take, and so ``doctor`` can use the
same file and liveness checks.
"""

from __future__ import annotations

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

from wirebridge.cli.options import API_KEYS_ENV, DaemonFiles, ServeOptions, listen_url, probe_host

# -- pid and state files -----------------------------------------------------------------------


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


@contextlib.contextmanager
def locked(files: DaemonFiles) -> Iterator[None]:
    """Hold an ``flock`` on ``<pid file>.lock`` (no lock where there is no ``fcntl``)."""
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


# -- is it running -----------------------------------------------------------------------------


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


def wait_gone(pid: int, timeout: float) -> bool:
    """Whether ``pid`` is gone within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def port_problem(host: str, port: int) -> str | None:
    from wirebridge.cli.sockets import check_port_free

    try:
        check_port_free(host, port)
    except OSError as e:
        return e.strerror or str(e)
    return None


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


# -- spawn and signal --------------------------------------------------------------------------


def spawn(opts: ServeOptions, files: DaemonFiles) -> subprocess.Popen[bytes]:
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


def wait_healthy(
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


def abandon(proc: subprocess.Popen[bytes], files: DaemonFiles) -> None:
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


def kill_group(pid: int) -> None:
    """SIGKILL the daemon and its workers (it leads its own process group)."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
