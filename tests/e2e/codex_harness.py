"""Drive the real Codex CLI (``@openai/codex``, pinned in ``tests/clients``) against a gateway.

``run_codex(prompt, base_url=..., tmp_path=...)`` runs ``codex exec`` non-interactively in a
fresh ``CODEX_HOME`` whose ``config.toml`` (see :func:`codex_config`) points a custom model
provider at the gateway over HTTP (``wire_api = "responses"``, no WebSocket), never asks for
approval, lets the shell tool run in the ``workspace-write`` sandbox, and turns off everything
that would talk to OpenAI, ChatGPT or GitHub.

Nothing may leave loopback. Three layers make sure of it:

1. config: ``[analytics] enabled = false`` and ``[otel] … = "none"`` (otherwise a statsig
   metrics flush resolves ``ab.chatgpt.com`` at exit and the run waits ~5 s for it),
   ``features.plugins = false`` (otherwise ``git ls-remote https://github.com/openai/plugins``
   and ``api.github.com`` at startup), plus ``remote_plugin``/``apps`` off,
   ``check_for_update_on_startup = false`` and ``[feedback] enabled = false`` for good measure;
2. environment: every ``*_PROXY`` variable points at a loopback port that is bound but never
   listens (connection refused at once), with ``NO_PROXY`` for loopback only, so any HTTP client
   that slips through (reqwest in Codex, git) hits a dead local port instead of resolving a name;
3. audit: the run is traced with ``strace -f -e trace=connect,sendto,sendmsg`` and
   :attr:`CodexResult.outbound` lists every non-loopback address Codex or its children tried to
   reach (DNS included); ``run_codex`` fails the test when that list is not empty.

A missing Codex binary is a failure, not a skip: ``npm ci --prefix tests/clients`` installs it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.e2e.offline import DeadPort, offline_env, outbound_attempts

__all__ = [
    "CODEX_VERSION",
    "CodexResult",
    "codex_binary",
    "codex_config",
    "run_codex",
]

CODEX_VERSION = "0.169.0"
REPO_ROOT = Path(__file__).resolve().parents[2]
CLIENTS_DIR = REPO_ROOT / "tests" / "clients"
CODEX_BIN = CLIENTS_DIR / "node_modules" / ".bin" / "codex"

PROVIDER_ID = "wirebridge"
API_KEY_ENV = "WIREBRIDGE_CODEX_API_KEY"
API_KEY = "sk-codex-e2e"
DEFAULT_TIMEOUT = 120.0

# Environment variables that could point Codex somewhere else or change its behaviour.
_SCRUB_PREFIXES = ("CODEX_", "OPENAI_", "AZURE_OPENAI", "WIREBRIDGE_", "RUST_LOG", "OTEL_")


def codex_binary() -> Path:
    """The pinned ``codex`` launcher; fails the test (never skips) when it is not installed."""
    if not CODEX_BIN.exists():
        pytest.fail(
            f"Codex CLI {CODEX_VERSION} is not installed at {CODEX_BIN}.\n"
            "Install the pinned end-to-end clients with:  npm ci --prefix tests/clients",
            pytrace=False,
        )
    return CODEX_BIN


def _toml(value: object) -> str:
    """A TOML literal for str/bool/int/float/list (JSON string escapes are valid TOML)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def codex_config(
    base_url: str,
    *,
    model: str = "gpt-5.5",
    sandbox: str = "workspace-write",
    provider_extra: Mapping[str, object] | None = None,
    features: Mapping[str, bool] | None = None,
    top_level: Mapping[str, object] | None = None,
) -> str:
    """``config.toml`` text for a Codex that talks only to ``base_url`` (e.g. ``…:PORT/v1``).

    * ``provider_extra`` adds/overrides ``[model_providers.wirebridge]`` keys (e.g.
      ``{"supports_websockets": True}``).
    * ``features`` adds/overrides ``[features]`` toggles; ``top_level`` adds top-level keys.
    """
    top: dict[str, object] = {
        "model": model,
        "model_provider": PROVIDER_ID,
        "approval_policy": "never",
        "sandbox_mode": sandbox,
        # `bash -c` instead of `bash -lc`: no profile scripts (pyenv init costs ~0.8 s a command)
        "allow_login_shell": False,
        "check_for_update_on_startup": False,
        **(top_level or {}),
    }
    feats: dict[str, bool] = {
        "plugins": False,  # curated plugin sync: git ls-remote github.com + api.github.com
        "remote_plugin": False,
        "apps": False,
        "shell_snapshot": False,  # runs a login shell at startup: slow, and not under test
        **(features or {}),
    }
    provider: dict[str, object] = {
        "name": "wirebridge",
        "base_url": base_url,
        "wire_api": "responses",
        "env_key": API_KEY_ENV,
        "supports_websockets": False,  # HTTP POST /v1/responses + SSE only
        # a gateway bug must fail the run at once, not hide behind Codex's 5 reconnects
        "request_max_retries": 0,
        "stream_max_retries": 0,
        "stream_idle_timeout_ms": 30_000,
        **(provider_extra or {}),
    }
    lines = [f"{k} = {_toml(v)}" for k, v in top.items()]
    lines += ["", "[analytics]", "enabled = false"]
    lines += ["", "[feedback]", "enabled = false"]
    lines += [
        "",
        "[otel]",
        'exporter = "none"',
        'trace_exporter = "none"',
        'metrics_exporter = "none"',
    ]
    lines += ["", "[features]"] + [f"{k} = {_toml(v)}" for k, v in feats.items()]
    lines += ["", f"[model_providers.{PROVIDER_ID}]"]
    lines += [f"{k} = {_toml(v)}" for k, v in provider.items()]
    return "\n".join(lines) + "\n"


# -- running -----------------------------------------------------------------------------------


@dataclass
class CodexResult:
    args: list[str]
    returncode: int | None  # None: killed after the timeout
    stdout: str
    stderr: str
    elapsed: float
    workdir: Path
    home: Path
    last_message: str | None  # `-o` file: the final agent message, None if none was written
    timed_out: bool = False
    outbound: list[str] = field(default_factory=list)
    audited: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def describe(self) -> str:
        """Everything needed to judge a failure, for assertion messages."""
        status = "TIMED OUT" if self.timed_out else f"exit {self.returncode}"
        parts = [
            f"codex {status} after {self.elapsed:.1f}s: {' '.join(self.args)}",
            f"--- last message ---\n{self.last_message}",
            f"--- stdout ---\n{self.stdout[-4000:]}",
            f"--- stderr ---\n{self.stderr[-8000:]}",
        ]
        if self.outbound:
            parts.append("--- NON-LOOPBACK NETWORK ATTEMPTS ---\n" + "\n".join(self.outbound))
        return "\n".join(parts)


def _clean_env(extra: Mapping[str, str] | None, home: Path, dead_port: int) -> dict[str, str]:
    values = {"CODEX_HOME": str(home), "HOME": str(home.parent / "userhome"), API_KEY_ENV: API_KEY}
    env = offline_env(_SCRUB_PREFIXES, dead_port, values)
    env.update(extra or {})
    return env


def run_codex(
    prompt: str,
    *,
    base_url: str,
    tmp_path: Path,
    model: str = "gpt-5.5",
    config: str | None = None,
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    audit_network: bool = True,
    allow_outbound: Iterable[str] = (),
) -> CodexResult:
    """Run ``codex exec PROMPT </dev/null`` in ``tmp_path/work`` against ``base_url``.

    ``base_url`` is the provider base URL Codex appends ``/responses`` to (``gateway.url("/v1")``).
    Returns the result whatever the exit code; fails the test if Codex is not installed, or if the
    network audit saw a non-loopback attempt (unless its address is in ``allow_outbound``).
    """
    binary = codex_binary()
    home = tmp_path / "codex_home"
    workdir = tmp_path / "work"
    for d in (home, workdir, tmp_path / "userhome"):
        d.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        config if config is not None else codex_config(base_url, model=model)
    )
    last_path = tmp_path / "last_message.txt"
    args = [
        str(binary),
        "exec",
        "--skip-git-repo-check",
        "--ephemeral",
        "--strict-config",
        "--color",
        "never",
        "-C",
        str(workdir),
        "-m",
        model,
        "-o",
        str(last_path),
        *extra_args,
        prompt,
    ]
    cmd = list(args)
    strace_path = tmp_path / "strace.txt"
    if audit_network:
        strace = shutil.which("strace")
        if strace is None:
            pytest.fail(
                "strace is needed to audit that Codex stays on loopback (apt-get install strace)",
                pytrace=False,
            )
        cmd = [
            strace,
            "-f",
            "-qq",
            "-e",
            "trace=connect,sendto,sendmsg",
            "-o",
            str(strace_path),
            *cmd,
        ]

    dead = DeadPort()
    start = time.monotonic()
    timed_out = False
    try:
        proc = subprocess.Popen(
            cmd,
            cwd=workdir,
            env=_clean_env(env, home, dead.port),
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
    elapsed = time.monotonic() - start

    last = last_path.read_text() if last_path.exists() else None
    result = CodexResult(
        args=args,
        returncode=None if timed_out else proc.returncode,
        stdout=out.decode("utf-8", "replace"),
        stderr=err.decode("utf-8", "replace"),
        elapsed=elapsed,
        workdir=workdir,
        home=home,
        last_message=last,
        timed_out=timed_out,
    )
    if audit_network:
        text = strace_path.read_text(errors="replace") if strace_path.exists() else ""
        allowed = set(allow_outbound)
        result.outbound = [
            a for a in outbound_attempts(text) if a.split(" | ")[0].rsplit(":", 1)[0] not in allowed
        ]
        result.audited = strace_path.exists()
        if not result.audited:
            pytest.fail("strace wrote no trace file for the Codex run\n" + result.describe())
        if result.outbound:
            pytest.fail(
                "Codex tried to reach a non-loopback address\n" + result.describe(), pytrace=False
            )
    return result
