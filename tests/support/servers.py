"""Real PostgreSQL and Redis servers for tests, run from the Debian packages' binaries.

``start_postgres(tmpdir)`` and ``start_redis(tmpdir)`` each start one server on a free loopback
port and return ``(url, stop)``; ``stop()`` is idempotent. A missing binary raises
``ServerUnavailable`` naming the Debian package to install: the store tests must fail on a
machine without them, never skip, or a green run would hide an untested backend.

PostgreSQL refuses to run as root, and CI runs as root: then initdb and the server run as the
``postgres`` user (``nobody`` if there is none) through ``runuser``, in a directory made under the
system temp dir and chowned to that user, because pytest's own temp tree is private to root.
Servers are tuned for tests (no fsync, no persistence) unless started ``durable``, as the
benchmark starts them (``bench/servers.py``); they listen on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

__all__ = ["ServerUnavailable", "start_postgres", "start_redis"]

STARTUP_TIMEOUT = 30.0
PG_USER = "wbtest"  # the superuser initdb creates; trust auth on loopback
_INITDB_OPTIONS = ("-E", "UTF8", "--locale=C", "--no-sync")
_REDIS_OPTIONS = ("--save", "", "--daemonize", "no", "--appendonly", "no")
# How Redis is commonly run where its data matters: every write appended, fsynced each second.
_REDIS_DURABLE = (*_REDIS_OPTIONS[:4], "--appendonly", "yes", "--appendfsync", "everysec")
_PG_FAST = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"


class ServerUnavailable(RuntimeError):
    """A test server cannot be started; the message says what to install or what went wrong."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


# -- PostgreSQL --------------------------------------------------------------------------------


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = glob.glob(f"/usr/lib/postgresql/*/bin/{name}")
    candidates.sort(key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if candidates:
        return candidates[-1]
    raise ServerUnavailable(
        f"PostgreSQL's {name} was not found on PATH or under /usr/lib/postgresql/*/bin: "
        "install the Debian package postgresql (apt-get install -y postgresql)"
    )


def _run_as() -> tuple[list[str], int, int] | None:
    """``(command prefix, uid, gid)`` to drop root for PostgreSQL, or None when not root."""
    if os.geteuid() != 0:
        return None
    runuser = shutil.which("runuser")
    if runuser is None:
        raise ServerUnavailable(
            "running as root, PostgreSQL must run as another user, and runuser was not found: "
            "install the Debian package util-linux"
        )
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return [runuser, "-u", name, "--"], entry.pw_uid, entry.pw_gid
    raise ServerUnavailable("running as root, and there is no postgres or nobody user to run as")


def start_postgres(tmpdir: Path, *, durable: bool = False) -> tuple[str, Callable[[], None]]:
    """A fresh cluster; the DSN connects as superuser ``wbtest`` to database ``postgres``.

    The cluster lives in its own temp dir (see the module docstring); ``stop()`` removes it and
    leaves the server's log in ``tmpdir/postgres.log``."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    drop = _run_as()
    # The socket path must stay under ~100 bytes, and an unprivileged user must reach it.
    base = Path(tempfile.mkdtemp(prefix="wbpg-"))
    if drop is None:
        prefix: list[str] = []
    else:
        prefix, uid, gid = drop
        os.chown(base, uid, gid)
    data, log = base / "data", base / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")} | {"LC_ALL": "C"}

    def run(args: list[str], what: str) -> None:
        proc = subprocess.run(
            [*prefix, *args],
            cwd=base,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if proc.returncode != 0:
            raise ServerUnavailable(
                f"{what} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}\n{_tail(log)}"
            )

    def stop() -> None:
        if data.exists():
            with contextlib.suppress(Exception):
                run([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"], "pg_ctl stop")
        with contextlib.suppress(OSError):
            tmpdir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(log, tmpdir / "postgres.log")  # kept with the test run's files
        shutil.rmtree(base, ignore_errors=True)

    try:
        run(
            [initdb, "-D", str(data), "-U", PG_USER, "-A", "trust", *_INITDB_OPTIONS],
            "initdb",
        )
        port = _start_pg(run, pg_ctl, data, base, log, "" if durable else _PG_FAST)
    except BaseException:
        stop()
        raise
    return f"postgresql://{PG_USER}@127.0.0.1:{port}/postgres", stop


def _start_pg(
    run: Callable[[list[str], str], None],
    pg_ctl: str,
    data: Path,
    sock: Path,
    log: Path,
    tuning: str,
) -> int:
    """Start on a free port, trying again if another process took the port meanwhile."""
    last: ServerUnavailable | None = None
    for _ in range(3):
        port = _free_port()
        options = (
            f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 {tuning} -c max_connections=200"
        )
        try:
            run(
                [pg_ctl, "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start"],
                "pg_ctl start",
            )
        except ServerUnavailable as exc:
            last = exc
            continue
        return port
    assert last is not None
    raise last


# -- Redis -------------------------------------------------------------------------------------


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def start_redis(
    tmpdir: Path, *, durable: bool = False, extra: Sequence[str] = (), port: int | None = None
) -> tuple[str, Callable[[], None]]:
    """A redis-server with no persistence (``durable``: an append-only file fsynced every
    second), and ``extra`` options (a Unix socket, a TLS port), on ``port`` (a server started
    again where one was) or a free one; the URL names database 0."""
    binary = shutil.which("redis-server") or next(
        (p for p in ("/usr/bin/redis-server", "/usr/sbin/redis-server") if os.path.exists(p)),
        None,
    )
    if binary is None:
        raise ServerUnavailable(
            "redis-server was not found on PATH: install the Debian package redis-server "
            "(apt-get install -y redis-server)"
        )
    tmpdir.mkdir(parents=True, exist_ok=True)
    log = tmpdir / "redis.log"
    wanted = port
    for _ in range(3):
        port = wanted or _free_port()
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [
                    binary,
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--dir",
                    str(tmpdir),
                    *(_REDIS_DURABLE if durable else _REDIS_OPTIONS),
                    *extra,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while proc.poll() is None and time.monotonic() < deadline:
            if _redis_answers(port):
                return f"redis://127.0.0.1:{port}/0", _stopper(proc)
            time.sleep(0.05)
        _stopper(proc)()
    raise ServerUnavailable(f"redis-server did not start:\n{_tail(log)}")


def _stopper(proc: subprocess.Popen[bytes]) -> Callable[[], None]:
    def stop() -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    return stop


def running(start: Callable[[Path], tuple[str, Callable[[], None]]], tmp: Path) -> Iterator[str]:
    """A fixture body: the server ``start`` gives, its URL yielded, stopped afterwards. A
    server that cannot start fails the test (never skips it)."""
    try:
        url, stop = start(tmp)
    except ServerUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield url
    finally:
        stop()
