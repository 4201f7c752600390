"""Rewrite the golden recordings in this folder from ``tests/upstreams/chat/golden.py``.

Run it only when a change to the gateway's output is intended, then review the diff before
committing: every changed line is a change clients will see.

    /work/venv/bin/python tests/golden/regenerate.py          # from the repository root
    git diff tests/golden/

Each file holds one scenario (request, profile, upstream chunks) and the events it must produce;
``tests/upstreams/chat/test_golden.py`` replays the file and compares. To add a scenario, add it
to ``SCENARIOS`` in ``golden.py`` and run this script.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.upstreams.chat.golden import GOLDEN_DIR, SCENARIOS, path_of, render, replay  # noqa: E402


def main() -> None:
    known = {path_of(name) for name in SCENARIOS}
    for stale in sorted(set(GOLDEN_DIR.glob("*.json")) - known):
        stale.unlink()
        print(f"removed {stale.relative_to(ROOT)}")
    for name, scenario in SCENARIOS.items():
        path = path_of(name)
        text = render(scenario, replay(scenario))
        old = path.read_text() if path.exists() else None
        if text != old:
            path.write_text(text)
            print(f"{'wrote' if old is None else 'updated'} {path.relative_to(ROOT)}")
        else:
            print(f"unchanged {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
