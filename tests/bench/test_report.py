"""The report judges the features and latency targets on the median of their rounds."""

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


def _c1(system: str, scenario: str, p50: float, n: int) -> dict[str, Any]:
    cpu = {"server_cpu_pct": 50.0, "mock_cpu_pct": 10.0, "client_cpu_pct": 30.0}
    return {
        **_run(system, 1000, n, scenario),
        **cpu,
        "concurrency": 1,
        "latency_ms": {"p50": p50, "p99": 2 * p50},
        "background_cpu_pct": 1.0,
        "server_peak_rss_mb": 60.0,
    }


def _rounds(*p50s: tuple[float, float]) -> report.Records:
    """(mock alone, gateway on one CPU) p50s, one pair per round."""
    records = []
    for n, (alone, gw) in enumerate(p50s):
        records += [
            _c1(report.DIRECT_PAIRED, "chat-json", alone, n),
            _c1(report.ONE_CPU, "responses-json", gw, n),
        ]
    return report.Records(records)


def _latency_line(rs: report.Records) -> str:
    data = {"args": {"slow_streams": 5000}}
    lines = [line for line in report.targets(data, rs) if "added p50" in line]
    assert len(lines) == 1
    return lines[0]


def test_the_median_latency_round_is_judged_each_against_its_own_mock_alone() -> None:
    # added: 0.6, 0.3, 0.45 ms; the first round's gateway p50 is the lowest, yet it fails
    rs = _rounds((0.1, 0.7), (0.4, 0.7), (0.15, 0.6))
    gw, alone = report.median_round(report.latency_rounds(rs))
    assert (gw["latency_ms"]["p50"], alone["latency_ms"]["p50"]) == (0.6, 0.15)
    line = _latency_line(rs)
    assert "0.450 ms with the gateway on the client's CPU" in line
    assert "the median of 3 rounds: 0.600, 0.300, 0.450 ms" in line
    assert "PASS" in line


def test_a_median_latency_round_above_the_target_fails_though_one_round_passed() -> None:
    rs = _rounds((0.1, 0.4), (0.1, 0.7), (0.1, 0.8))  # added 0.3, 0.6, 0.7 ms
    line = _latency_line(rs)
    assert "0.600 ms" in line
    assert "FAIL" in line and "PASS" not in line


def test_the_one_cpu_table_row_shows_the_judged_round() -> None:
    rs = _rounds((0.1, 0.7), (0.4, 0.7), (0.15, 0.6))
    table = "\n".join(report.scenario_tables({}, rs))
    row = next(line for line in table.splitlines() if report.ONE_CPU in line)
    assert "| 0.60 |" in row and "| 0.45 |" in row  # its p50, and added against its own round


def test_a_run_without_latency_rounds_is_judged_against_the_mock_alone_at_the_start() -> None:
    # results.json of runs made before the rounds still renders (report.py RESULTS.json)
    direct, one = (
        _c1(report.DIRECT, "chat-json", 0.1, 0),
        _c1(report.ONE_CPU, "responses-json", 0.45, 0),
    )
    for r in (direct, one):
        del r["round"]
    line = _latency_line(report.Records([direct, one]))
    assert "0.350 ms with the gateway on the client's CPU (0.450 - 0.100 direct)" in line
    assert "PASS" in line


def test_of_an_even_count_of_rounds_the_worse_middle_one_is_judged() -> None:
    rs = _rounds((0.1, 0.4), (0.1, 0.5), (0.1, 0.55), (0.1, 0.7))  # added 0.3, 0.4, 0.45, 0.6
    gw, _ = report.median_round(report.latency_rounds(rs))
    assert gw["latency_ms"]["p50"] == 0.55


def test_the_store_false_runs_are_shown_beside_the_judged_pairs_and_do_not_change_them() -> None:
    rs = _pairs((1000, 500), (1000, 600), (1000, 700))
    rs.records += [_run(report.FEAT_NO_STORE, rps, n) for n, rps in enumerate((950, 900, 850))]
    line = next(
        line for line in report.targets({"args": {"slow_streams": 5000}}, rs) if "bare" in line
    )
    assert "60 % (600 vs 1,000 req/s" in line and "FAIL" in line
    assert "with `store: false`, as Codex CLI sends them: 90 % (95 %, 90 %, 85 %)" in line
    table = "\n".join(report.features({}, rs))
    assert "| `responses-json` | false | 16 | 1 | 1,000 | 950 | 95 % |" in table
    assert "| `responses-json` | true | 16 | 3 | 1,000 | 700 | 70 % |" in table


def test_each_shared_variant_shows_its_worse_pair_against_its_own_bare_runs() -> None:
    redis, memory = report.SHARED[0], report.SHARED[2]
    records = [
        _run(redis.bare, 1000, 0),
        _run(redis.system, 600, 0),
        _run(redis.bare, 2000, 1),
        _run(redis.system, 1000, 1),
        _run(memory.bare, 1000, 0),
        _run(memory.system, 900, 0),
        _run("wirebridge (pair)", 10, 0),  # the features pairs' bare runs are not theirs
    ]
    table = "\n".join(report.shared(report.Records(records)))
    assert f"| {redis.label} | 60 %, 50 % | 50 % | 2,000 | 1,000 |" in table
    assert f"| {memory.label} | 90 % | 90 % | 1,000 | 900 |" in table
    assert "PostgreSQL" not in table.split("|---")[1]  # a variant not run has no row
