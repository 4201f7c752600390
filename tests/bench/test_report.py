"""The report judges the features target on the median of its alternated pairs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import report


def _run(system: str, rps: float, n: int, scenario: str = "responses-json") -> dict[str, Any]:
    return {
        "system": system,
        "scenario": scenario,
        "concurrency": 16,
        "tool": "loadgen",
        "stream": False,
        "rps": rps,
        "errors": 0,
        "latency_ms": {"p50": 1.0},
        "server_cpu_ms_per_req": 0.3,
        "server_cpu_s": 1.0,
        "round": n,
    }


def _pairs(*rps: tuple[float, float]) -> report.Records:
    records = []
    for n, (bare, feat) in enumerate(rps):
        records += [_run("wirebridge (pair)", bare, n), _run("wirebridge+feat", feat, n)]
    return report.Records(records)


def test_the_median_pair_is_judged_not_the_first_or_the_best() -> None:
    rs = _pairs((1000, 500), (1000, 900), (1000, 700))  # 50 %, 90 %, 70 %
    feat, bare = report.median_pair(report.feature_pairs(rs, "responses-json", 16))
    assert (feat["rps"], bare["rps"]) == (700, 1000)


def test_each_features_run_is_compared_with_the_bare_run_of_its_own_pair() -> None:
    rs = _pairs((1000, 500), (2000, 1800))
    table = "\n".join(report.features({}, rs))
    assert "| 16 | 1 | 1,000 | 500 | 50 % |" in table
    assert "| 16 | 2 | 2,000 | 1,800 | 90 % |" in table


def test_the_target_line_names_every_pair() -> None:
    rs = _pairs((1000, 500), (1000, 900), (1000, 800))
    lines = [
        line for line in report.targets({"args": {"slow_streams": 5000}}, rs) if "bare" in line
    ]
    assert len(lines) == 1
    assert "80 % (800 vs 1,000 req/s" in lines[0]
    assert "the median of 3 pairs: 50 %, 90 %, 80 %" in lines[0]
    assert "PASS" in lines[0]


def test_a_median_below_the_target_fails_though_one_pair_passed() -> None:
    rs = _pairs((1000, 500), (1000, 900), (1000, 600))
    lines = [
        line for line in report.targets({"args": {"slow_streams": 5000}}, rs) if "bare" in line
    ]
    assert "60 % (600 vs 1,000 req/s" in lines[0]
    assert "FAIL" in lines[0] and "PASS" not in lines[0]
