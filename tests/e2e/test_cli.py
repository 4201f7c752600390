"""The service commands as a user runs them: ``wirebridge start/status/restart/stop``,
``serve --workers``, ``doctor``, ``config check`` and the refusal to listen publicly without
client keys. Every command is a subprocess with a private ``WIREBRIDGE_HOME``; gateways listen
on free loopback ports and talk to the session's fake upstream."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
import yaml

from tests.cli.keyed_upstream import KeyedUpstream
from tests.support.fake_chat import FakeChat, Reply
from tests.support.gateway import default_config, free_port

TIMEOUT = 60


class Cli:
    """Runs ``python -m wirebridge ...`` with a private home; stops any daemon it left."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("WIREBRIDGE_")}
        for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
            env.pop(name, None)
        env["WIREBRIDGE_HOME"] = str(self.home)
        self.env = env

    def __call__(self, *argv: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "wirebridge", *argv]
        return subprocess.run(
            cmd, capture_output=True, text=True, env=self.env, timeout=TIMEOUT, check=False
        )

    def popen(self, *argv: str) -> subprocess.Popen[str]:
        log = open(self.root / "serve.log", "w")  # noqa: SIM115 - closed with the process
        return subprocess.Popen(
            [sys.executable, "-m", "wirebridge", *argv],
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            env=self.env,
        )

    def config(self, data: dict[str, Any], name: str = "config.yaml") -> str:
        path = self.root / name
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return str(path)

    @property
    def pid(self) -> int | None:
        try:
            return int((self.home / "wirebridge.pid").read_text())
        except (OSError, ValueError):
            return None

    def cleanup(self) -> None:
        """Kill a daemon a failed test left running: by its own pid (and its group)."""
        pid = self.pid
        if pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    runner = Cli(tmp_path)
    try:
        yield runner
    finally:
        runner.cleanup()


def _health(port: int) -> dict[str, Any]:
    r = httpx2.get(f"http://127.0.0.1:{port}/health", timeout=5)
    assert r.status_code == 200
    body: dict[str, Any] = r.json()
    return body


def _status_pid(out: str) -> int:
    m = re.search(r"running: pid (\d+)", out)
    assert m, out
    return int(m[1])


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rpartition(")")[2].split()
            if fields[1] == str(pid) and fields[0] != "Z":
                out.append(int(stat.parent.name))
    return sorted(out)


def _wait_for(predicate: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


# -- start / status / restart / stop -----------------------------------------------------------


def test_daemon_lifecycle(cli: Cli, fake_chat: FakeChat) -> None:
    port = free_port()
    config = cli.config(default_config(fake_chat.base_url))
    started = cli("start", "--config", config, "--port", str(port), "--models-cache-ttl", "1")
    assert started.returncode == 0, started.stderr
    assert f"listening on http://127.0.0.1:{port}" in started.stdout
    first = cli.pid
    assert first is not None

    again = cli("start", "--config", config, "--port", str(port))
    assert again.returncode == 1
    assert f"already running (pid {first}" in again.stderr

    status = cli("status")
    assert status.returncode == 0, status.stdout
    assert _status_pid(status.stdout) == first
    assert f"listening: http://127.0.0.1:{port}" in status.stdout
    assert f"config:    {config}" in status.stdout
    assert "providers: fake" in status.stdout
    assert "store:     sqlite" in status.stdout
    assert "uptime:" in status.stdout

    fake_chat.script(Reply.text("hello from upstream"))
    body = {"model": "fake-model", "input": "hi"}
    r = httpx2.post(f"http://127.0.0.1:{port}/v1/responses", json=body, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["output"][-1]["content"][0]["text"] == "hello from upstream"

    restarted = cli("restart")  # the saved options: same config and port
    assert restarted.returncode == 0, restarted.stderr
    assert f"wirebridge stopped (pid {first})" in restarted.stdout
    second = cli.pid
    assert second is not None and second != first
    status = cli("status", "--verbose")
    assert _status_pid(status.stdout) == second
    assert f"listening: http://127.0.0.1:{port}" in status.stdout
    assert '"models_cache_ttl": 1.0' in status.stdout
    assert _health(port)["status"] == "ok"

    stopped = cli("stop")
    assert stopped.returncode == 0
    assert f"wirebridge stopped (pid {second})" in stopped.stdout
    assert not (cli.home / "wirebridge.pid").exists()
    status = cli("status")
    assert status.returncode == 3
    assert status.stdout.startswith("wirebridge is not running")
    log = (cli.home / "wirebridge.log").read_text()
    assert log.count("--- wirebridge start") == 2


def test_start_that_cannot_serve_fails_with_the_log(cli: Cli, fake_chat: FakeChat) -> None:
    config = default_config(fake_chat.base_url)
    config["store"] = {"backend": "redis", "url": "redis://127.0.0.1:1"}
    r = cli("start", "--config", cli.config(config), "--port", str(free_port()))
    assert r.returncode == 1
    assert "did not start" in r.stderr
    assert "redis" in r.stderr  # the end of the log tells why
    assert not (cli.home / "wirebridge.pid").exists()


# -- workers -----------------------------------------------------------------------------------


def serve_workers(cli: Cli, config: str) -> tuple[subprocess.Popen[str], int]:
    """``serve --workers 2`` on a free port, ready. A port another test took between
    ``free_port`` and the bind is a race of the suite, not a failure: another port is tried."""
    log = cli.root / "serve.log"
    for _ in range(3):
        port = free_port()
        proc = cli.popen("serve", "--config", config, "--port", str(port), "--workers", "2")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if "with 2 workers" in log.read_text():
                return proc, port
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        text = log.read_text()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if "address already in use" not in text.lower():
            raise AssertionError(f"serve --workers 2 did not come up:\n{text}")
    raise AssertionError("no free port after three tries")


def test_serve_with_two_workers(cli: Cli, fake_chat: FakeChat) -> None:
    config = cli.config(default_config(fake_chat.base_url))
    proc, port = serve_workers(cli, config)
    try:
        log = cli.root / "serve.log"
        workers = _children(proc.pid)
        assert len(workers) == 2
        with httpx2.Client(timeout=10) as client:
            for _ in range(40):  # new connections, spread over both workers' sockets
                r = client.get(f"http://127.0.0.1:{port}/health", headers={"Connection": "close"})
                assert r.status_code == 200
        fake_chat.script(*(Reply.text(f"answer {i}") for i in range(4)))
        for i in range(4):
            body = {"model": "fake-model", "input": f"q{i}"}
            r = httpx2.post(f"http://127.0.0.1:{port}/v1/responses", json=body, timeout=30)
            assert r.status_code == 200, r.text

        os.kill(workers[0], signal.SIGKILL)  # a crashed worker is replaced
        replaced = _wait_for(
            lambda: (c := _children(proc.pid)) and len(c) == 2 and c != workers and c
        )
        assert workers[1] in replaced
        for _ in range(10):
            assert _health(port)["status"] == "ok"

        second = cli("serve", "--config", config, "--port", str(port), "--workers", "2")
        assert second.returncode == 1
        assert "address already in use" in second.stderr.lower()

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        assert not any(_exists(pid) for pid in replaced)
        assert "restarting it" in log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_workers_die_with_their_supervisor(cli: Cli, fake_chat: FakeChat) -> None:
    config = cli.config(default_config(fake_chat.base_url))
    proc, _ = serve_workers(cli, config)
    try:
        workers = _children(proc.pid)
        assert len(workers) == 2
    finally:
        proc.kill()  # no chance to forward anything
        proc.wait()
    _wait_for(lambda: not any(_exists(pid) for pid in workers), timeout=30)


def _exists(pid: int) -> bool:
    """Alive and not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


# -- doctor and config check -------------------------------------------------------------------


def test_doctor_good_config(cli: Cli, fake_chat: FakeChat) -> None:
    config = cli.config(default_config(fake_chat.base_url))
    r = cli("doctor", "--config", config, "--port", str(free_port()))
    assert r.returncode == 0, r.stdout + r.stderr
    checks = [line for line in r.stdout.splitlines() if " — " in line]
    assert checks and all(line.startswith("ok ") for line in checks), r.stdout
    assert "ok provider fake — " in r.stdout


def test_doctor_broken_config(cli: Cli) -> None:
    with KeyedUpstream("sk-right") as keyed:
        config = {
            "store": {"backend": "memory"},
            "providers": {
                "wrongkey": {"base_url": keyed.base_url, "api_key": "sk-wrong"},
                "gone": {"base_url": f"http://127.0.0.1:{free_port()}/v1", "api_key": "k"},
            },
        }
        r = cli("doctor", "--config", cli.config(config), "--port", str(free_port()))
    assert r.returncode == 1
    fails = [line for line in r.stdout.splitlines() if line.startswith("FAIL ")]
    assert [line.split(" — ")[0] for line in fails] == [
        "FAIL provider wrongkey",
        "FAIL provider gone",
    ]
    assert "answered HTTP 401" in fails[0]
    assert "cannot reach" in fails[1]


def test_config_check(cli: Cli, fake_chat: FakeChat) -> None:
    good = cli("config", "check", "--config", cli.config(default_config(fake_chat.base_url)))
    assert good.returncode == 0
    assert "is valid" in good.stdout and "fake-model -> fake/upstream-model" in good.stdout
    bad = cli("config", "check", "--config", cli.config({"models": [{"model": "x"}]}, "bad.yaml"))
    assert bad.returncode == 2
    assert "config error" in bad.stderr and "models[0]" in bad.stderr


# -- listening beyond loopback -----------------------------------------------------------------


def test_public_host_needs_client_auth(cli: Cli, fake_chat: FakeChat) -> None:
    config = cli.config(default_config(fake_chat.base_url))
    port = str(free_port())
    for command in ("serve", "start"):
        r = cli(command, "--config", config, "--host", "0.0.0.0", "--port", port)
        assert r.returncode == 2, (command, r.stdout, r.stderr)
        assert "refusing to listen on 0.0.0.0" in r.stderr
        assert "--api-key" in r.stderr
    assert cli.pid is None

    r = cli(
        "start", "--config", config, "--host", "0.0.0.0", "--port", port, "--api-key", "sk-cli-key"
    )
    assert r.returncode == 0, r.stderr
    assert "sk-cli-key" not in Path(f"/proc/{cli.pid}/cmdline").read_text()
    url = f"http://127.0.0.1:{port}/v1/models"
    assert httpx2.get(url, timeout=10).status_code == 401
    ok = httpx2.get(url, headers={"Authorization": "Bearer sk-cli-key"}, timeout=10)
    assert ok.status_code == 200
    assert cli("stop").returncode == 0


def test_proxy_option_routes_upstream_calls(cli: Cli, fake_chat: FakeChat) -> None:
    # The provider's host does not exist: only through the proxy (the fake, which answers
    # absolute-form requests as if it were the host) can the call succeed.
    config = default_config("http://upstream.invalid/v1")
    port = free_port()
    for name in ("NO_PROXY", "no_proxy"):
        cli.env.pop(name, None)
    proxy = fake_chat.base_url.removesuffix("/v1")
    proc = cli.popen("serve", "--config", cli.config(config), "--port", str(port), "--proxy", proxy)
    try:
        _wait_for(lambda: "listening on" in (cli.root / "serve.log").read_text(), timeout=30)
        fake_chat.script(Reply.text("via the proxy"))
        body = {"model": "fake-model", "input": "hi"}
        r = httpx2.post(f"http://127.0.0.1:{port}/v1/responses", json=body, timeout=30)
        assert r.status_code == 200, r.text
        assert fake_chat.last.headers["host"] == "upstream.invalid"
    finally:
        proc.terminate()
        proc.wait(30)
