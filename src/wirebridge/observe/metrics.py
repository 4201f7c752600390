"""Prometheus metrics: one registry per process, shown at ``/metrics/prometheus`` (and as JSON
at ``/metrics``).

===========================================  =========  ====================================
metric                                       kind       labels
===========================================  =========  ====================================
``wirebridge_requests_total``                counter    front_door, model, provider, status
``wirebridge_request_duration_seconds``      histogram  front_door
``wirebridge_time_to_first_token_seconds``   histogram  front_door (streamed turns only)
``wirebridge_tokens_total``                  counter    direction (in|out), model
``wirebridge_upstream_errors_total``         counter    provider, status
``wirebridge_upstream_retries_total``        counter    provider
``wirebridge_streams_in_flight``             gauge      front_door
``wirebridge_memory_releases_total``         counter    malloc_trim (yes|no)
===========================================  =========  ====================================

``wirebridge_memory_releases_total`` counts the times memory was given back after a burst of
requests (``observe/memory.py``); ``malloc_trim`` says whether glibc's heap was trimmed too.

``front_door`` is responses, chat, messages, websocket or other. ``model`` is the configured
model or alias that answered; other names (``provider@model``, Claude names) are kept up to
``MAX_DYNAMIC_MODELS`` distinct values and become ``other`` past that; a request that never
reached a model (unknown model, bad body) is ``other`` or ``none``. ``provider`` is the
configured provider name, or ``none``. ``status`` is the HTTP status (a WebSocket turn: 200, or
the status of its error event; 499: the client went away). Probes (``/health``, ``/ready``,
``/metrics*``) are not counted.

Several worker processes (``--workers N``): each has its own registry, so one scrape sees one
worker. To see all of them, start the gateway with ``PROMETHEUS_MULTIPROC_DIR`` pointing at an
empty directory writable by every worker (empty it before each start): prometheus_client then
keeps the values in files there and every worker's ``/metrics/prometheus`` answers with the
sum over all workers (streams in flight: the sum over live workers). Process metrics
(``process_*``) are only given without it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import Metric

MAX_DYNAMIC_MODELS = 64
DURATION_BUCKETS = (
    *(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    *(10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0),
)
TTFT_BUCKETS = (
    *(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0),
    *(1.5, 2.0, 3.0, 5.0, 7.5, 10.0, 20.0, 30.0, 60.0),
)


def multiprocess_dir() -> str | None:
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return path if path and os.path.isdir(path) else None


class Metrics:
    """The process's metrics, with the labelled children the hot path uses cached."""

    def __init__(self, known_models: Iterable[str] = ()) -> None:
        self.multiprocess = multiprocess_dir() is not None
        self.registry = reg = CollectorRegistry()
        if not self.multiprocess:
            ProcessCollector(registry=reg)
        self._define(reg)
        self.known_models: frozenset[str] = frozenset(known_models)
        self._dynamic: set[str] = set()
        self._children: dict[tuple[Any, ...], Any] = {}

    def _define(self, reg: CollectorRegistry) -> None:
        self.requests = Counter(
            "wirebridge_requests_total",
            "Requests answered, by front door, model, provider and HTTP status.",
            ("front_door", "model", "provider", "status"),
            registry=reg,
        )
        self.duration = Histogram(
            "wirebridge_request_duration_seconds",
            "Time from the request's arrival to the end of its answer (streams: their end).",
            ("front_door",),
            buckets=DURATION_BUCKETS,
            registry=reg,
        )
        self.ttft = Histogram(
            "wirebridge_time_to_first_token_seconds",
            "Time from a streamed request's arrival to the upstream's first events.",
            ("front_door",),
            buckets=TTFT_BUCKETS,
            registry=reg,
        )
        self.token_count = Counter(
            "wirebridge_tokens_total",
            "Tokens the upstreams reported, by direction (in: input, out: output) and model.",
            ("direction", "model"),
            registry=reg,
        )
        self._define_upstream(reg)

    def _define_upstream(self, reg: CollectorRegistry) -> None:
        self.upstream_errors = Counter(
            "wirebridge_upstream_errors_total",
            "Upstream calls that failed before answering, by provider and upstream HTTP status "
            "(timeout, unavailable: no HTTP answer).",
            ("provider", "status"),
            registry=reg,
        )
        self.retries = Counter(
            "wirebridge_upstream_retries_total",
            "Upstream calls retried after a retryable failure, by provider.",
            ("provider",),
            registry=reg,
        )
        self.streams = Gauge(
            "wirebridge_streams_in_flight",
            "Streamed upstream turns in progress, by front door.",
            ("front_door",),
            registry=reg,
            multiprocess_mode="livesum",
        )
        self.memory_releases = Counter(
            "wirebridge_memory_releases_total",
            "Times the process gave memory back after a burst of requests, by whether glibc's "
            "heap was trimmed (malloc_trim) or only garbage collected.",
            ("malloc_trim",),
            registry=reg,
        )

    # -- labels ----------------------------------------------------------------------------------

    def model_label(self, model: str | None, routed: bool) -> str:
        """A bounded label for ``model``: configured names as they are, other names that were
        routed up to ``MAX_DYNAMIC_MODELS`` of them, then ``other``."""
        if model is None:
            return "none"
        if model in self.known_models or model in self._dynamic:
            return model
        if routed and len(self._dynamic) < MAX_DYNAMIC_MODELS:
            self._dynamic.add(model)
            return model
        return "other"

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    # -- recording ---------------------------------------------------------------------------------

    def request(self, ctx: Any, elapsed: float) -> None:
        """One finished request (a ``RequestContext``)."""
        routed = ctx.routed is not None
        model = self.model_label(ctx.routed if routed else ctx.model, routed)
        provider = ctx.provider or "none"
        self._child(self.requests, ctx.front_door, model, provider, str(ctx.status)).inc()
        self._child(self.duration, ctx.front_door).observe(elapsed)

    def first_token(self, front_door: str, seconds: float) -> None:
        self._child(self.ttft, front_door).observe(seconds)

    def tokens(self, model: str | None, tokens_in: int, tokens_out: int) -> None:
        label = self.model_label(model, True)
        if tokens_in:
            self._child(self.token_count, "in", label).inc(tokens_in)
        if tokens_out:
            self._child(self.token_count, "out", label).inc(tokens_out)

    def upstream_error(self, provider: str, status: str) -> None:
        self._child(self.upstream_errors, provider, status).inc()

    def retry(self, provider: str) -> None:
        self._child(self.retries, provider).inc()

    def stream_started(self, front_door: str) -> None:
        self._child(self.streams, front_door).inc()

    def stream_ended(self, front_door: str) -> None:
        self._child(self.streams, front_door).dec()

    def memory_released(self, trimmed: bool) -> None:
        self._child(self.memory_releases, "yes" if trimmed else "no").inc()

    # -- exposition --------------------------------------------------------------------------------

    def collect_registry(self) -> CollectorRegistry:
        """What a scrape reads: this registry, or every worker's files in multiprocess mode."""
        if not self.multiprocess:
            return self.registry
        from prometheus_client import multiprocess

        reg = CollectorRegistry()
        multiprocess.MultiProcessCollector(reg)
        return reg

    def exposition(self) -> bytes:
        return generate_latest(self.collect_registry())

    def as_json(self) -> dict[str, Any]:
        """The same numbers as the exposition, as one JSON document."""
        return {family.name: _family(family) for family in self.collect_registry().collect()}

    def process_exited(self, pid: int | None = None) -> None:
        """Multiprocess mode: drop a finished worker's live gauges."""
        if self.multiprocess:
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(pid or os.getpid())


def _family(family: Metric) -> dict[str, Any]:
    out: dict[str, Any] = {"type": family.type, "help": family.documentation}
    if family.type != "histogram":
        out["samples"] = [
            {"name": s.name, "labels": s.labels, "value": s.value} for s in family.samples
        ]
        return out
    series: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
    for s in family.samples:
        labels = {k: v for k, v in s.labels.items() if k != "le"}
        row = series.setdefault(
            tuple(sorted(labels.items())), {"labels": labels, "buckets": {}, "count": 0, "sum": 0}
        )
        if s.name.endswith("_bucket"):
            row["buckets"][s.labels["le"]] = s.value
        elif s.name.endswith("_count"):
            row["count"] = s.value
        elif s.name.endswith("_sum"):
            row["sum"] = s.value
    out["series"] = list(series.values())
    return out


METRICS = Metrics()
"""The process's metrics (one registry per process, whatever the number of apps)."""


def configure(known_models: Iterable[str]) -> Metrics:
    """Name the configured models, which are labels as they are."""
    METRICS.known_models = frozenset(known_models)
    return METRICS
