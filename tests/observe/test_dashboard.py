"""docs/grafana-dashboard.json: valid JSON whose queries use exactly the metrics the gateway has."""

from __future__ import annotations

import json
import re
from pathlib import Path

from wirebridge.observe.metrics import Metrics

DASHBOARD = Path(__file__).parents[2] / "docs" / "grafana-dashboard.json"


def test_dashboard_queries_name_real_metrics() -> None:
    dash = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    assert exprs
    used = {
        re.sub(r"_(bucket|count|sum)$", "", name)
        for expr in exprs
        for name in re.findall(r"\b(wirebridge_[a-z_]+)", expr)
    }
    m = Metrics()  # one sample of everything, to read the exposed names off
    m.first_token("chat", 0.1)
    m.tokens("m", 1, 1)
    m.upstream_error("p", "500")
    m.retry("p")
    m.stream_started("chat")
    m.duration.labels("chat").observe(0.1)
    m.requests.labels("chat", "m", "p", "200").inc()
    exposed = {
        re.sub(r"_(bucket|count|sum)$", "", s.name)
        for family in m.registry.collect()
        for s in family.samples
        if s.name.startswith("wirebridge_") and not s.name.endswith("_created")
    }
    assert used == exposed, used ^ exposed
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    titles = " ".join(p["title"] for p in dash["panels"])
    for wanted in ("front door", "status", "p50", "first token", "Tokens", "errors", "retries"):
        assert wanted.lower() in titles.lower(), wanted
    assert "Streams in flight" in titles
