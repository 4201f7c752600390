"""Pid and state files, and telling a live wirebridge from a stale pid."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from wirebridge.cli import daemon, process


def test_pid_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "w.pid"
    process.write_pid(path, 1234)
    assert process.read_pid(path) == 1234
    assert path.stat().st_mode & 0o777 == 0o600
    path.write_text("garbage")
    assert process.read_pid(path) is None
    assert process.read_pid(tmp_path / "missing.pid") is None


def test_state_file_is_private_json(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    process.write_state(path, {"options": {"api_keys": ["secret"]}, "port": 1})
    assert process.read_state(path) == {"options": {"api_keys": ["secret"]}, "port": 1}
    assert path.stat().st_mode & 0o777 == 0o600
    path.write_text("[1, 2")
    assert process.read_state(path) == {}


def test_a_stale_or_foreign_pid_is_not_running(tmp_path: Path) -> None:
    path = tmp_path / "w.pid"
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        process.write_pid(path, proc.pid)
        assert process.alive(proc.pid)
        assert process.running_pid(path) is None  # alive, but not a wirebridge
    finally:
        proc.kill()
        proc.wait()
    assert not process.alive(proc.pid)
    marker = "wirebridge-test-marker"
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", marker])
    try:
        process.write_pid(path, proc.pid)
        assert process.running_pid(path) == proc.pid
        assert proc.pid in process.child_pids(os.getpid())
    finally:
        proc.kill()
        proc.wait()


def test_stop_and_status_without_a_daemon(cli: Any, home: Path) -> None:
    home.mkdir(parents=True)
    (home / "wirebridge.pid").write_text("999999999\n")
    code, out, _ = cli("stop")
    assert code == 0
    assert "not running (removed a stale pid file)" in out
    assert not (home / "wirebridge.pid").exists()
    code, out, _ = cli("status")
    assert code == daemon.NOT_RUNNING
    assert out.startswith("wirebridge is not running")


def test_durations() -> None:
    assert daemon._duration(5.9) == "5s"
    assert daemon._duration(3725) == "1h 2m 5s"
    assert daemon._duration(90061) == "1d 1h 1m 1s"
