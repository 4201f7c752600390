"""Where the gateway keeps its own files (secret key, sqlite store) when not told otherwise."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def state_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$WIREBRIDGE_HOME`` if set and not empty, else ``~/.wirebridge``; not created here."""
    home = (os.environ if env is None else env).get("WIREBRIDGE_HOME", "")
    return Path(home).expanduser() if home.strip() else Path.home() / ".wirebridge"
