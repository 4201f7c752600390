"""Observability: request ids, the per-request record, metrics, logs and optional tracing.

* ``context`` — ``RequestContext`` (one per request, on ``request[CTX]`` and in a context
  variable) and the hooks the handlers and the pipeline call on it;
* ``middleware`` — the outermost middleware (id, timing, summary line, request metrics) and the
  signal that puts ``x-request-id`` on every response;
* ``metrics`` — the Prometheus registry (``/metrics/prometheus``, ``/metrics`` as JSON);
* ``logs`` — text or JSON lines, each with its request id; bodies at debug, redacted;
* ``tracing`` — OpenTelemetry spans when configured and installed, else nothing.

Per request the cost is a handful of attribute writes, two context-variable sets, a few counter
and histogram updates and the summary line; per upstream chunk nothing but a flag test (the
first batch takes one timestamp).
"""

from wirebridge.observe.context import (
    NO_TURN,
    RequestContext,
    TurnObserver,
    asked,
    current,
    failed,
    ws_turn,
)

__all__ = [
    "NO_TURN",
    "RequestContext",
    "TurnObserver",
    "asked",
    "current",
    "failed",
    "ws_turn",
]
