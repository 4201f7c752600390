"""Where ``shared/reference`` is: beside the checkout (as in CI), or named by an environment
variable. Its captures are fixtures the gateway must accept, so a run without them fails."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def reference_dir() -> Path:
    candidates = [REPO.parent / "shared" / "reference", Path("/work/shared/reference")]
    if os.environ.get("WIREBRIDGE_REFERENCE"):
        candidates.insert(0, Path(os.environ["WIREBRIDGE_REFERENCE"]))
    for path in candidates:
        if (path / "captures").is_dir():
            return path
    looked = ", ".join(str(p) for p in candidates)
    raise FileNotFoundError(
        f"shared/reference not found (looked in {looked}); set WIREBRIDGE_REFERENCE"
    )


CAPTURES = reference_dir() / "captures"
