"""Several worker processes with PROMETHEUS_MULTIPROC_DIR: any worker's scrape sums them all."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

WORKER = textwrap.dedent(
    """
    import sys
    from wirebridge.observe.context import RequestContext
    from wirebridge.observe.metrics import METRICS, configure

    configure(["m"])
    assert METRICS.multiprocess
    for _ in range(int(sys.argv[1])):
        ctx = RequestContext("r", "chat", "POST", "/v1/chat/completions")
        ctx.model = ctx.routed = "m"
        ctx.provider = "p"
        METRICS.request(ctx, 0.1)
    METRICS.tokens("m", 10, 1)
    METRICS.stream_started("chat")
    if sys.argv[2] == "exit":
        METRICS.stream_ended("chat")
        METRICS.process_exited()
    else:
        sys.stdout.write(METRICS.exposition().decode())
    """
)


def _run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", WORKER, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def test_a_scrape_sums_every_worker(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    _run(env, "3", "exit")  # a worker that served 3 requests and exited
    text = _run(env, "2", "scrape")  # a live worker, with one stream open, scrapes
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    labels = (("front_door", "chat"), ("model", "m"), ("provider", "p"), ("status", "200"))
    assert samples[("wirebridge_requests_total", labels)] == 5
    assert samples[("wirebridge_tokens_total", (("direction", "in"), ("model", "m")))] == 20
    assert samples[("wirebridge_request_duration_seconds_count", (("front_door", "chat"),))] == 5
    assert samples[("wirebridge_streams_in_flight", (("front_door", "chat"),))] == 1
