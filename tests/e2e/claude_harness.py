"""Drive the real Claude Code (``@anthropic-ai/claude-code``, pinned in ``tests/clients``).

``run_claude(prompt, base_url=..., tmp_path=...)`` runs ``claude -p PROMPT --output-format
json </dev/null`` in ``tmp_path/work`` with ``ANTHROPIC_BASE_URL`` at the gateway (which serves
``/v1/messages``), a dummy ``ANTHROPIC_API_KEY``, a fresh ``HOME`` and ``CLAUDE_CONFIG_DIR``,
and ``--allowedTools Bash`` so the Bash tool runs without asking. (As root, Claude Code refuses
``--dangerously-skip-permissions``; an allow-list of tools works for root and non-root alike.)

Nothing may leave loopback. Three layers make sure of it:

1. environment: ``CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1`` (no statsig, Sentry, update
   checks, release notes, model-catalog or MCP-registry fetches), plus ``DISABLE_TELEMETRY``,
   ``DISABLE_AUTOUPDATER``, ``DISABLE_ERROR_REPORTING``, ``DISABLE_BUG_COMMAND``; and
   ``CLAUDE_CODE_MAX_RETRIES=0`` so a gateway error fails the run at once instead of after
   Claude Code's retries with backoff;
2. every ``*_PROXY`` variable points at a loopback port that is bound but never listens, with
   ``NO_PROXY`` for loopback only, so any HTTP client that slips through hits a dead local port;
3. audit: the run is traced with ``strace -f -e trace=connect,sendto,sendmsg`` and
   :attr:`ClaudeResult.outbound` lists every non-loopback address Claude Code or its children
   (the Bash tool's shell, git) tried to reach, DNS included; ``run_claude`` fails the test
   when that list is not empty.

``RecordingProxy(target)`` sits between Claude Code and the gateway (loopback both sides) and
keeps every request Claude Code made — method, path, query, headers, JSON body — so a test can
state exactly what it sends (one ``POST /v1/messages?beta=true`` per turn with nonessential
traffic off: no ``count_tokens``, no haiku title call).

A missing binary is a failure, not a skip: ``npm ci --prefix tests/clients`` installs it.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.e2e.offline import DeadPort, offline_env, outbound_attempts

__all__ = [
    "CLAUDE_ENV",
    "CLAUDE_VERSION",
    "ClaudeResult",
    "ProxiedRequest",
    "RecordingProxy",
    "claude_binary",
    "run_claude",
]

CLAUDE_VERSION = "2.1.330"
REPO_ROOT = Path(__file__).resolve().parents[2]
CLAUDE_BIN = REPO_ROOT / "tests" / "clients" / "node_modules" / ".bin" / "claude"
API_KEY = "sk-ant-claude-e2e"
DEFAULT_TIMEOUT = 120.0

# Switches that keep Claude Code on loopback and failing fast.
CLAUDE_ENV = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "DISABLE_BUG_COMMAND": "1",
    "CLAUDE_CODE_MAX_RETRIES": "0",
}

# Environment variables that could point Claude Code elsewhere or change its behaviour.
_SCRUB_PREFIXES = (
    *("ANTHROPIC_", "CLAUDE_", "CLAUDECODE", "AWS_", "GOOGLE_", "VERTEX_", "OTEL_"),
    *("DISABLE_", "WIREBRIDGE_", "OPENAI_"),
)


def claude_binary() -> Path:
    """The pinned ``claude`` binary; fails the test (never skips) when it is not installed."""
    if not CLAUDE_BIN.exists():
        pytest.fail(
            f"Claude Code {CLAUDE_VERSION} is not installed at {CLAUDE_BIN}.\n"
            "Install the pinned end-to-end clients with:  npm ci --prefix tests/clients",
            pytrace=False,
        )
    return CLAUDE_BIN


@dataclass
class ClaudeResult:
    args: list[str]
    returncode: int | None  # None: killed after the timeout
    stdout: str
    stderr: str
    elapsed: float
    workdir: Path
    timed_out: bool = False
    outbound: list[str] = field(default_factory=list)
    audited: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    @property
    def output(self) -> dict[str, Any]:
        """The ``--output-format json`` result object (``result``, ``is_error``, ``usage`` …)."""
        try:
            obj = json.loads(self.stdout)
        except ValueError:
            pytest.fail("Claude Code printed no JSON result\n" + self.describe(), pytrace=False)
        assert isinstance(obj, dict), self.describe()
        return obj

    def describe(self) -> str:
        """Everything needed to judge a failure, for assertion messages."""
        status = "TIMED OUT" if self.timed_out else f"exit {self.returncode}"
        parts = [
            f"claude {status} after {self.elapsed:.1f}s: {' '.join(self.args)}",
            f"--- stdout ---\n{self.stdout[-4000:]}",
            f"--- stderr ---\n{self.stderr[-8000:]}",
        ]
        if self.outbound:
            parts.append("--- NON-LOOPBACK NETWORK ATTEMPTS ---\n" + "\n".join(self.outbound))
        return "\n".join(parts)


def claude_env(
    base_url: str, home: Path, dead_port: int, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    values = {
        **CLAUDE_ENV,
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_API_KEY": API_KEY,
        "HOME": str(home),
        "CLAUDE_CONFIG_DIR": str(home / ".claude"),
    }
    env = offline_env(_SCRUB_PREFIXES, dead_port, values)
    env.update(extra or {})
    return env


def run_claude(
    prompt: str,
    *,
    base_url: str,
    tmp_path: Path,
    model: str | None = None,
    allowed_tools: Sequence[str] = ("Bash",),
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    audit_network: bool = True,
    allow_outbound: Iterable[str] = (),
) -> ClaudeResult:
    """Run ``claude -p PROMPT --output-format json </dev/null`` in ``tmp_path/work``.

    ``base_url`` is what ``ANTHROPIC_BASE_URL`` gets (the gateway root, or with a path prefix).
    Returns the result whatever the exit code; fails the test if Claude Code is not installed,
    or if the network audit saw a non-loopback attempt (unless its address is allowed).
    """
    binary = claude_binary()
    home = tmp_path / "claude_home"
    workdir = tmp_path / "work"
    for d in (home / ".claude", workdir):
        d.mkdir(parents=True, exist_ok=True)
    args = [str(binary), "-p", prompt, "--output-format", "json"]
    if allowed_tools:
        args += ["--allowedTools", ",".join(allowed_tools)]
    if model is not None:
        args += ["--model", model]
    args += list(extra_args)
    cmd = list(args)
    strace_path = tmp_path / "strace.txt"
    if audit_network:
        strace = shutil.which("strace")
        if strace is None:
            pytest.fail(
                "strace is needed to audit that Claude Code stays on loopback "
                "(apt-get install strace)",
                pytrace=False,
            )
        trace = [strace, "-f", "-qq", "-e", "trace=connect,sendto,sendmsg", "-o"]
        cmd = [*trace, str(strace_path), *cmd]

    dead = DeadPort()
    start = time.monotonic()
    timed_out = False
    try:
        proc = subprocess.Popen(
            cmd,
            cwd=workdir,
            env=claude_env(base_url, home, dead.port, env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group, so a timeout can end all of it
        )
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
    finally:
        dead.close()
    result = ClaudeResult(
        args=args,
        returncode=None if timed_out else proc.returncode,
        stdout=out.decode("utf-8", "replace"),
        stderr=err.decode("utf-8", "replace"),
        elapsed=time.monotonic() - start,
        workdir=workdir,
        timed_out=timed_out,
    )
    if audit_network:
        _audit(result, strace_path, set(allow_outbound))
    return result


def _audit(result: ClaudeResult, strace_path: Path, allowed: set[str]) -> None:
    text = strace_path.read_text(errors="replace") if strace_path.exists() else ""
    result.outbound = [
        a for a in outbound_attempts(text) if a.split(" | ")[0].rsplit(":", 1)[0] not in allowed
    ]
    result.audited = strace_path.exists()
    if not result.audited:
        pytest.fail("strace wrote no trace file for the Claude Code run\n" + result.describe())
    if result.outbound:
        pytest.fail(
            "Claude Code tried to reach a non-loopback address\n" + result.describe(),
            pytrace=False,
        )


# -- recording proxy ---------------------------------------------------------------------------

_HOP_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "content-encoding"}
)


@dataclass
class ProxiedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: Any  # parsed JSON, or None
    status: int = 0  # what the gateway answered


class RecordingProxy:
    """A loopback reverse proxy to ``target`` (e.g. the gateway's base URL) that records every
    request; responses, SSE included, are streamed back unchanged. Use as a context manager."""

    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")
        self.requests: list[ProxiedRequest] = []
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> RecordingProxy:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._start())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="claude-proxy", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the recording proxy did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        loop = self._loop
        if loop is None:
            return
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = None

    async def _start(self) -> None:
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in request.headers.items()}
        rec = ProxiedRequest(request.method, request.path, dict(request.query), headers, body)
        self.requests.append(rec)
        upstream_headers = {k: v for k, v in headers.items() if k not in _HOP_HEADERS}
        upstream_headers["accept-encoding"] = "identity"
        async with (
            aiohttp.ClientSession(auto_decompress=False) as session,
            session.request(
                request.method,
                self.target + request.path_qs,
                data=raw,
                headers=upstream_headers,
            ) as upstream,
        ):
            rec.status = upstream.status
            out = web.StreamResponse(
                status=upstream.status,
                headers={
                    k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_HEADERS
                },
            )
            await out.prepare(request)
            async for data in upstream.content.iter_any():
                await out.write(data)
            await out.write_eof()
            return out
