"""Optional OpenTelemetry tracing: a span per request and per upstream call, sent by OTLP/HTTP.

On only when an endpoint is configured — ``server.otel_endpoint``, else the
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_ENDPOINT`` environment variable —
*and* the packages are installed (``pip install 'wirebridge[otel]'``: ``opentelemetry-sdk`` and
``opentelemetry-exporter-otlp-proto-http``, imported only then). Otherwise ``TRACER`` stays
``None`` and the hooks cost one global lookup.

A request span (``SERVER``) continues the caller's ``traceparent`` when one is sent; each
upstream attempt is a ``CLIENT`` child span (failed attempts included, with the error), ending
when its stream ends. Attributes follow the GenAI conventions where they fit
(``gen_ai.request.model``, ``gen_ai.response.model``, ``gen_ai.usage.input_tokens`` …).
"""

from __future__ import annotations

import logging
import os
from typing import Any

log = logging.getLogger("wirebridge")

TRACER: Any = None  # an opentelemetry Tracer while tracing is on
_provider: Any = None
_otel: dict[str, Any] = {}  # the few OpenTelemetry names the hooks use, imported at setup


def endpoint(configured: str | None) -> str | None:
    """The OTLP/HTTP traces URL to send to, or None."""
    if configured:
        return _traces_url(configured)
    env = os.environ
    if env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
    if env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return _traces_url(env["OTEL_EXPORTER_OTLP_ENDPOINT"])
    return None


def _traces_url(base: str) -> str:
    base = base.rstrip("/")
    return base if base.endswith("/v1/traces") else base + "/v1/traces"


def setup(url: str | None, exporter: Any = None) -> bool:
    """Turn tracing on when ``url`` (or a test's ``exporter``) is given and the packages are
    there; returns whether it is on."""
    global TRACER, _provider
    if url is None and exporter is None:
        return False
    processor = _processor(url, exporter)
    if processor is None:
        return False
    from opentelemetry import propagate, trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import SpanKind, Status, StatusCode

    from wirebridge import __version__

    resource = Resource.create({"service.name": "wirebridge", "service.version": __version__})
    _provider = TracerProvider(resource=resource)
    _provider.add_span_processor(processor)
    TRACER = _provider.get_tracer("wirebridge", __version__)
    _otel.update(
        extract=propagate.extract,
        in_context=trace.set_span_in_context,
        server=SpanKind.SERVER,
        client=SpanKind.CLIENT,
        error=lambda msg: Status(StatusCode.ERROR, msg),
    )
    if url:
        log.info("tracing: spans go to %s", url)
    return True


def _processor(url: str | None, exporter: Any) -> Any:
    """The span processor for ``url`` (batched OTLP) or a test's ``exporter``; None, with a
    warning, when the optional packages are not installed."""
    try:
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

        if exporter is not None:
            return SimpleSpanProcessor(exporter)
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return BatchSpanProcessor(OTLPSpanExporter(endpoint=url))
    except ImportError as e:
        log.warning(
            "tracing is configured (%s) but OpenTelemetry is not installed (%s): "
            "pip install 'wirebridge[otel]'; tracing is off",
            url,
            e.name,
        )
        return None


def shutdown() -> None:
    """Flush and stop (the app's cleanup)."""
    global TRACER, _provider
    if _provider is not None:
        _provider.shutdown()
    TRACER, _provider = None, None


def start_request(ctx: Any, headers: Any, parent: Any = None) -> Any:
    """The span of a request (``ctx``: its ``RequestContext``); ``headers`` may continue a
    caller's trace, ``parent`` nests it (a WebSocket turn in its connection)."""
    if TRACER is None:
        return None
    if parent is not None:
        context = _otel["in_context"](parent)
    else:
        context = _otel["extract"](headers) if headers is not None else None
    return TRACER.start_span(
        f"{ctx.method} {ctx.front_door}",
        context=context,
        kind=_otel["server"],
        attributes={
            "http.request.method": ctx.method,
            "url.path": ctx.path,
            "wirebridge.front_door": ctx.front_door,
            "wirebridge.request_id": ctx.request_id,
        },
    )


def end_request(ctx: Any) -> None:
    span, ctx.span = ctx.span, None
    if span is None:
        return
    attrs = {
        "http.response.status_code": ctx.status,
        "gen_ai.request.model": ctx.model or ctx.routed,
        "gen_ai.response.model": ctx.answered_model,
        "wirebridge.provider": ctx.provider,
        "wirebridge.stream": ctx.stream,
        "gen_ai.usage.input_tokens": ctx.tokens_in,
        "gen_ai.usage.output_tokens": ctx.tokens_out,
        "wirebridge.ttft_ms": None if ctx.ttft is None else ctx.ttft * 1000,
    }
    span.set_attributes({k: v for k, v in attrs.items() if v is not None})
    if ctx.status >= 500:
        span.set_status(_otel["error"](f"HTTP {ctx.status}"))
    span.end()


def start_upstream(ctx: Any, provider: str, model: str) -> Any:
    if TRACER is None:
        return None
    context = _otel["in_context"](ctx.span) if ctx.span is not None else None
    return TRACER.start_span(
        f"upstream {provider}",
        context=context,
        kind=_otel["client"],
        attributes={"wirebridge.provider": provider, "gen_ai.request.model": model},
    )


def end(span: Any, status: int, err: BaseException | None) -> None:
    """End an upstream span: ``status`` is the upstream's (0: none), ``err`` why it failed."""
    if status:
        span.set_attribute("http.response.status_code", status)
    if err is not None:
        span.record_exception(err)
        span.set_status(_otel["error"](str(err) or type(err).__name__))
    span.end()
