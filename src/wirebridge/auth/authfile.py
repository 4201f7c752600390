"""Codex's ``auth.json``: where it is, reading it, writing it back, and its content.

The file (``$CODEX_HOME/auth.json``, else ``~/.codex/auth.json``) is Codex's own format, so one
sign-in serves both Codex and the gateway::

    {"OPENAI_API_KEY": null,
     "tokens": {"id_token": "<JWT>", "access_token": "<JWT>", "refresh_token": "...",
                "account_id": "<ChatGPT account/workspace id>"},
     "last_refresh": "2026-01-02T03:04:05.123456Z"}

Keys the gateway does not use are kept as they are when it writes the file back. Writes are
atomic (temp file in the same directory, ``fsync``, rename) with 0600 permissions.

``ChatGPTAuthError`` (and the sign-in-again hint) live here because the file is where a ChatGPT
sign-in starts: the token endpoint (``tokens.py``), the token manager (``chatgpt.py``) and the
login flow (``pkce.py``) raise it too.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from wirebridge.auth.jwt import account_id_of

RELOGIN_HINT = "sign in again with `wirebridge login chatgpt` (or `codex login`)"


class ChatGPTAuthError(Exception):
    """The sign-in cannot give a usable token. ``permanent``: only a new sign-in fixes it."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


# -- the file ----------------------------------------------------------------------------------


def default_auth_file(env: Mapping[str, str] | None = None) -> Path:
    """``$CODEX_HOME/auth.json`` if ``CODEX_HOME`` is set and not empty, else
    ``~/.codex/auth.json`` — where Codex itself keeps it."""
    home = (os.environ if env is None else env).get("CODEX_HOME", "").strip()
    return (Path(home).expanduser() if home else Path.home() / ".codex") / "auth.json"


def read_auth_file(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ChatGPTAuthError(
            f"No ChatGPT sign-in at {path}: {RELOGIN_HINT}.", permanent=True
        ) from None
    except OSError as e:
        raise ChatGPTAuthError(f"Cannot read {path}: {e.strerror or e}.", permanent=True) from None
    try:
        data = json.loads(raw)
    except ValueError:
        raise ChatGPTAuthError(f"{path} is not valid JSON.", permanent=True) from None
    if not isinstance(data, dict):
        raise ChatGPTAuthError(f"{path} does not hold a JSON object.", permanent=True)
    return data


def write_auth_file(path: Path, data: Mapping[str, Any]) -> None:
    """Replace ``path`` atomically: a reader sees the old file or the new one, never a part.

    The temp file is created in the target's directory (a rename does not cross file systems)
    with mode 0600 from the start, so the tokens are never readable by others, not even briefly.
    A symlinked ``auth.json`` keeps its link: the file it points to is replaced.
    """
    target = Path(os.path.realpath(path))
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    body = json.dumps(data, indent=2).encode() + b"\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(target.parent)


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (POSIX); not possible everywhere, never fatal."""
    with contextlib.suppress(OSError, AttributeError):
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def now_iso() -> str:
    """``last_refresh`` as Codex writes it: RFC 3339, UTC, with a ``Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def auth_file_data(
    token_response: Mapping[str, Any], previous: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """``auth.json`` content after a token response (login or refresh): new tokens over the
    previous ones, the account id from the new id token when it names one, other keys kept."""
    data = dict(previous or {})
    data.setdefault("OPENAI_API_KEY", None)
    old = data.get("tokens")
    tokens: dict[str, Any] = dict(old) if isinstance(old, dict) else {}
    for key in ("id_token", "access_token", "refresh_token"):
        value = token_response.get(key)
        if isinstance(value, str) and value:
            tokens[key] = value
    account = account_id_of(tokens.get("id_token")) or account_id_of(tokens.get("access_token"))
    if account:
        tokens["account_id"] = account
    tokens.setdefault("account_id", None)
    data["tokens"] = tokens
    data["last_refresh"] = now_iso()
    return data
