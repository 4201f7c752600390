"""Golden recordings (tests/golden/anthropic/*.json): each Anthropic stream gives exactly its
event list.

On a failure, decide whether the change is intended; if so, run
``/work/venv/bin/python -m tests.upstreams.messages.golden`` and review
``git diff tests/golden/anthropic/``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .golden import GOLDEN_DIR, SCENARIOS, path_of, replay

FILES = sorted(GOLDEN_DIR.glob("*.json"))
HINT = "if intended, run python -m tests.upstreams.messages.golden and review the diff"


def test_every_scenario_is_recorded() -> None:
    assert {p.stem for p in FILES} == set(SCENARIOS), HINT


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_golden(path: Path) -> None:
    recorded = json.loads(path.read_text())
    got = replay(recorded)
    want = recorded["events"]
    assert [e["type"] for e in got] == [e["type"] for e in want], HINT
    for n, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g == w, f"event #{n} ({w['type']}) differs; {HINT}"


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_recording_matches_its_scenario(name: str) -> None:
    recorded = json.loads(path_of(name).read_text())
    scenario = json.loads(json.dumps(SCENARIOS[name]))
    assert {k: v for k, v in recorded.items() if k != "events"} == scenario, HINT
