"""Smoke test of the benchmark harness: ``bench/run.py --quick`` runs end to end.

It starts the mock upstream and a gateway, drives a few short scenarios, and writes the
Markdown report. Only that it finishes and writes the table is checked: the numbers of a CI
machine say nothing, so none is asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

from scenarios import wirebridge_config  # noqa: E402


def test_quick_run_writes_the_report(tmp_path: Path) -> None:
    out = tmp_path / "results"
    cmd = [sys.executable, str(REPO / "bench" / "run.py"), "--quick", "--duration", "1"]
    res = subprocess.run(
        [*cmd, "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, f"stdout:\n{res.stdout[-3000:]}\nstderr:\n{res.stderr[-3000:]}"
    latest = out / "latest.md"
    assert latest.is_file()
    reports = [p for p in out.glob("*.md") if p.name != "latest.md"]
    assert len(reports) == 1
    text = latest.read_text()
    assert text == reports[0].read_text()
    assert "| c | system | req/s |" in text  # the results table
    assert "`responses-json`" in text
    assert (out / reports[0].stem / "results.json").is_file()


@pytest.mark.parametrize(
    ("client", "heading"),
    [
        ("codex", "### `codex-sse` - `POST /v1/responses` (SSE)"),
        ("claude", "### `claude-sse` - `POST /v1/messages` (SSE)"),
    ],
)
def test_a_real_client_turn_goes_through_without_errors(
    tmp_path: Path, client: str, heading: str
) -> None:
    """``codex-*`` and ``claude-*`` send a request Codex CLI or Claude Code made
    (``bench/bodies``): the gateway must answer every one of them, and the mock its Chat
    Completions twin, or their rows would measure error answers."""
    out = tmp_path / "results"
    cmd = [sys.executable, str(REPO / "bench" / "run.py"), "--quick", "--duration", "0.5"]
    cmd += ["--scenarios", f"{client}-json", f"{client}-sse", "--out", str(out)]
    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, f"stdout:\n{res.stdout[-3000:]}\nstderr:\n{res.stderr[-3000:]}"
    (raw,) = [p for p in out.iterdir() if p.is_dir()]
    records = json.loads((raw / "results.json").read_text())["records"]
    ran = {(r["system"], r["scenario"]) for r in records if r["requests"] > 0 and not r["errors"]}
    for kind in ("json", "sse"):
        assert ("wirebridge", f"{client}-{kind}") in ran, records
        assert ("mock (direct)", f"{client}-chat-{kind}") in ran, records
    assert all(not r["errors"] for r in records), [r["error_samples"] for r in records]
    assert heading in (out / "latest.md").read_text()


def test_the_shared_phase_pairs_each_variant_with_the_bare_gateway(tmp_path: Path) -> None:
    """``--scenarios responses-json shared``: Redis and PostgreSQL started, the four variants
    run in pairs, and their table written."""
    out = tmp_path / "results"
    cmd = [sys.executable, str(REPO / "bench" / "run.py"), "--quick", "--duration", "0.5"]
    cmd += ["--scenarios", "responses-json", "shared", "--out", str(out)]
    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, f"stdout:\n{res.stdout[-3000:]}\nstderr:\n{res.stderr[-3000:]}"
    text = (out / "latest.md").read_text()
    assert "## Several instances: Redis and PostgreSQL stores, rate limits" in text
    for label in (
        "Redis store",
        "PostgreSQL store",
        "rate limits in memory",
        "rate limits in Redis",
    ):
        # no variant left out: a server that did not start would be a note and a missing row
        assert f"\n| {label}, `store: " in text, text
    assert "did not start" not in text


def test_store_puts_runs_both_ways() -> None:
    """``store_puts.py``, the store's own benchmark, runs its comparison and its growth table."""
    script = str(REPO / "bench" / "store_puts.py")
    for args, rows in ((["--puts", "200"], 4), (["--grow", "240"], 12)):
        res = subprocess.run(
            [sys.executable, script, "--concurrency", "4", *args],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert res.returncode == 0, f"{args}: {res.stderr[-3000:]}"
        table = [line for line in res.stdout.splitlines() if line.startswith("| ")]
        assert len(table) == 1 + rows, res.stdout  # the header, then one row per run or step


def test_redis_client_compares_both_clients() -> None:
    """``redis_client.py`` measures both clients, alone and 16 at once, on a Redis it starts."""
    script = str(REPO / "bench" / "redis_client.py")
    res = subprocess.run(
        [sys.executable, script, "--commands", "320"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    table = [line for line in res.stdout.splitlines() if line.startswith("| ")]
    rows = table[1:]  # past the header
    assert [row.split(" | ")[:2] for row in rows] == [
        ["| redis-py (a pool of connections)", "1"],
        ["| wirebridge (transport/resp.py)", "1"],
        ["| redis-py (a pool of connections)", "16"],
        ["| wirebridge (transport/resp.py)", "16"],
    ], res.stdout


def test_ws_turns_drives_both_gateways() -> None:
    """``ws_turns.py`` runs WebSocket turns against a gateway with compression off and one
    with it on, and reports both."""
    script = str(REPO / "bench" / "ws_turns.py")
    res = subprocess.run(
        [sys.executable, script, "--connections", "2", "--seconds", "0.5", "--rounds", "1"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, f"stdout:\n{res.stdout[-3000:]}\nstderr:\n{res.stderr[-3000:]}"
    rows = [line.split(" | ")[0] for line in res.stdout.splitlines() if line.startswith("| ")]
    assert rows[1:] == ["| off", "| on"], res.stdout


@pytest.mark.parametrize(
    "options",
    [
        ["--store", "sqlite"],
        ["--store", "redis"],
        ["--store", "postgres"],
        ["--a-rate-limits", "memory", "--b-rate-limits", "redis", "--b-managed-key"],
    ],
    ids=["sqlite", "redis", "postgres", "rate-limits-and-managed-key"],
)
def test_ab_runs_two_gateways_in_alternating_slices(options: list[str]) -> None:
    """``ab.py`` starts both sides (and the servers they use), drives each in turn and reports
    B against A."""
    cmd = [sys.executable, str(REPO / "bench" / "ab.py"), "--slices", "2", "--slice", "0.5"]
    res = subprocess.run(
        [*cmd, *options, "--b-features", "--b-store-body"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert res.returncode == 0, f"stdout:\n{res.stdout[-3000:]}\nstderr:\n{res.stderr[-3000:]}"
    rows = [line for line in res.stdout.splitlines() if line.startswith(("| A |", "| B |"))]
    assert len(rows) == 2, res.stdout
    assert all(line.endswith("| 2 |") for line in rows)  # two slices each
    assert "B/A: " in res.stdout


@pytest.mark.parametrize(
    ("url", "backend"),
    [("redis://127.0.0.1:6390/1", "redis"), ("postgresql://u@127.0.0.1:5/db", "postgres")],
)
def test_the_bench_config_points_the_store_at_the_server(url: str, backend: str) -> None:
    cfg = wirebridge_config(1, 2, 3, store_path="/tmp/x.db", store_url=url, api_keys=True)
    assert f'store:\n  backend: {backend}\n  url: "{url}"\n' in cfg
    assert "sqlite" not in cfg


def test_the_bench_config_sets_limits_that_never_refuse() -> None:
    cfg = wirebridge_config(1, 2, 3, rate_limits="redis://127.0.0.1:6390/3")
    assert '  rate_limits:\n    storage: redis\n    redis_url: "redis://127.0.0.1:6390/3"\n' in cfg
    assert "per_key: {rpm: 1000000000, rpd: 10000000000, tpm: 1000000000000}" in cfg
    assert "storage" not in wirebridge_config(1, 2, 3, rate_limits="memory")
