"""Run the wirebridge gateway as a subprocess for end-to-end tests.

``Gateway.start(config, workdir)`` writes the config, starts
``python -m wirebridge serve --config FILE --host 127.0.0.1 --port PORT`` with
``WIREBRIDGE_HOME`` set to a private state directory, sends stdout and stderr to a log file, and
waits for ``GET /health`` to answer 200.
"""

from __future__ import annotations

import copy
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import httpx2
import yaml

__all__ = [
    "Gateway",
    "GatewayStartError",
    "RecordingTransport",
    "default_config",
    "free_port",
]

STARTUP_TIMEOUT = 15.0


class GatewayStartError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def default_config(fake_base_url: str, **server: Any) -> dict[str, Any]:
    """The standard test config: one fake provider, models ``fake-model`` and ``gpt-5.5``.

    Retries are off, so one scripted upstream error is what the client sees; the resilience
    tests start gateways of their own with retries and fallbacks."""
    return {
        "server": {"request_timeout": 30, **server},
        "providers": {
            "fake": {
                "base_url": fake_base_url,
                "api_key": "sk-upstream-test",
                "profile": "deepseek",
                "retries": 0,
            }
        },
        "models": [
            {"model": "fake-model", "provider": "fake", "downstream_model": "upstream-model"},
            {"model": "gpt-5.5", "provider": "fake", "downstream_model": "upstream-model"},
        ],
    }


def _render(config: str | dict[str, Any], port: int) -> str:
    """YAML text for ``config``; fills ``server.listen_addr`` and ``{{port}}``."""
    if isinstance(config, str):
        return config.replace("{{port}}", str(port))
    data = copy.deepcopy(config)
    server = data.setdefault("server", {})
    server.setdefault("listen_addr", f"127.0.0.1:{port}")
    return yaml.safe_dump(data, sort_keys=False)


class Gateway:
    """A running gateway process."""

    def __init__(self, workdir: Path, port: int, proc: subprocess.Popen, log_path: Path) -> None:
        self.workdir = workdir
        self.port = port
        self.proc = proc
        self.log_path = log_path
        self.home = workdir / "home"
        self.config_path = workdir / "config.yaml"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "") -> str:
        if path and not path.startswith("/"):
            path = "/" + path
        return self.base_url + path

    def log_text(self, since: int = 0) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(since)
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    # -- lifecycle --------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        config: str | dict[str, Any],
        workdir: Path,
        env: dict[str, str] | None = None,
        timeout: float = STARTUP_TIMEOUT,
        attempts: int = 3,
    ) -> Gateway:
        last: GatewayStartError | None = None
        for attempt in range(attempts):
            port = free_port()
            gw = cls._spawn(config, workdir, port, env, attempt)
            try:
                gw._wait_healthy(timeout)
                return gw
            except GatewayStartError as exc:
                gw.stop()
                last = exc
                # retry only a lost race for the port; anything else is a real failure
                if "address already in use" not in gw.log_text().lower():
                    raise
        assert last is not None
        raise last

    @classmethod
    def _spawn(
        cls,
        config: str | dict[str, Any],
        workdir: Path,
        port: int,
        env: dict[str, str] | None,
        attempt: int,
    ) -> Gateway:
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "home").mkdir(exist_ok=True)
        config_path = workdir / "config.yaml"
        config_path.write_text(_render(config, port))
        log_path = workdir / (f"gateway.{attempt}.log" if attempt else "gateway.log")
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("WIREBRIDGE_")}
        full_env.update({"WIREBRIDGE_HOME": str(workdir / "home"), "PYTHONUNBUFFERED": "1"})
        full_env.update(env or {})
        cmd = [
            sys.executable,
            "-m",
            "wirebridge",
            "serve",
            "--config",
            str(config_path),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=full_env,
                cwd=workdir,
            )
        return cls(workdir, port, proc, log_path)

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last_error = "no attempt"
        while time.monotonic() < deadline:
            if not self.alive:
                raise GatewayStartError(
                    f"gateway exited with code {self.proc.returncode} before /health answered."
                    f"\n--- gateway log ---\n{self.log_text()}"
                )
            try:
                with urllib.request.urlopen(self.url("/health"), timeout=1) as resp:
                    if resp.status == 200:
                        return
                    last_error = f"status {resp.status}"
            except urllib.error.HTTPError as exc:
                last_error = f"status {exc.code}"
            except (urllib.error.URLError, OSError) as exc:
                last_error = repr(exc)
            time.sleep(0.05)
        raise GatewayStartError(
            f"gateway did not answer GET /health with 200 within {timeout:.0f} s"
            f" (last: {last_error}).\n--- gateway log ---\n{self.log_text()}"
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


# -- raw bytes under the SDK -------------------------------------------------------------------


class _TeeStream(httpx2.SyncByteStream):
    def __init__(self, inner: httpx2.SyncByteStream, sink: bytearray) -> None:
        self._inner = inner
        self._sink = sink

    def __iter__(self):
        for chunk in self._inner:
            self._sink.extend(chunk)
            yield chunk

    def close(self) -> None:
        self._inner.close()


class RecordingTransport(httpx2.BaseTransport):
    """An ``httpx2`` transport that keeps the raw bytes of every response body read through it.

    Give it to the SDK (``openai.OpenAI(http_client=httpx2.Client(transport=rec))``) to see the
    exact SSE the gateway sent while the SDK runs its own stream assertions.
    """

    def __init__(self) -> None:
        self._inner = httpx2.HTTPTransport()
        self.bodies: list[bytearray] = []

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        resp = self._inner.handle_request(request)
        sink = bytearray()
        self.bodies.append(sink)
        assert isinstance(resp.stream, httpx2.SyncByteStream)
        return httpx2.Response(
            resp.status_code,
            headers=resp.headers,
            stream=_TeeStream(resp.stream, sink),
            extensions=resp.extensions,
            request=request,
        )

    def close(self) -> None:
        self._inner.close()
