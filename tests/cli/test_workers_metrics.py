"""A worker that dies leaves no live gauges behind in the Prometheus multiprocess directory."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

SUPERVISED = textwrap.dedent(
    """
    import os, signal, sys, time
    from pathlib import Path
    from wirebridge.cli.workers import Slot, Supervisor
    from wirebridge.config.model import Config
    from wirebridge.observe.metrics import METRICS

    pids = Path(sys.argv[1])

    def serve(slot, ready):
        METRICS.stream_started("chat")  # a live gauge, in a file named after this worker
        ready()
        first = not pids.exists()
        with pids.open("a") as f:
            f.write(f"{os.getpid()}\\n")
        if first:
            os.kill(os.getpid(), signal.SIGKILL)  # dies at once, no cleanup of its own
        os.kill(os.getppid(), signal.SIGTERM)  # the replacement stops the supervisor
        time.sleep(30)  # killed by the supervisor's SIGTERM, again without cleanup
        return 0

    sys.exit(Supervisor(Config(), [Slot(0, [])], serve).run())
    """
)


def test_dead_workers_live_gauges_are_removed(tmp_path: Path) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    pids = tmp_path / "pids"
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    done = subprocess.run(
        [sys.executable, "-c", SUPERVISED, str(pids)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    workers = pids.read_text().split()
    assert len(workers) == 2, done.stderr  # the killed one and its replacement
    files = sorted(p.name for p in metrics_dir.iterdir())
    assert not [f for f in files if f.startswith("gauge_live")], files
