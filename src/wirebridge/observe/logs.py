"""Log lines: text or JSON, every line of a request carrying its id, bodies redacted.

* ``REQUEST_ID`` — a context variable holding the id of the request being served; the
  middleware sets it, tasks started by the request inherit it. ``RequestIdFilter`` copies it onto
  every record (``record.request_id``, ``-`` outside a request), so every line a request causes,
  whichever logger wrote it, names the request.
* ``TextFormatter``: ``2026-01-02 03:04:05,678 INFO wirebridge.request [req_…] message``;
  ``JsonFormatter``: one JSON object a line (``time``, ``level``, ``logger``, ``request_id``,
  ``message``, the summary's fields, ``exception``).
* One summary line per request at info on ``wirebridge.request``: front door, model, provider,
  status, tokens, latency and time to first token, in milliseconds.
* Request and response bodies (and headers) only at debug level and only with
  ``server.log_bodies: true``; secrets are redacted first (``redact_headers``, ``redact_json``,
  ``redact_text``): the ``Authorization``, ``x-api-key`` and ``api-key`` headers, fields named
  ``api_key``, ``access_token``, ``refresh_token``, ``secret`` and the like, and any string
  that looks like an ``sk-…`` or ``wb-…`` key.

``wirebridge serve`` sets up its handler with ``configure_logging(level, fmt)``; otherwise
``install`` (called when the app is built) adds the filter and formatter to the plain stream
handlers already on the root logger.
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
import time
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

REQUEST_LOG = logging.getLogger("wirebridge.request")
REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("wb_request_id", default="-")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
MAX_BODY_CHARS = 64 * 1024  # longer bodies are cut in the log

SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "api-key", "cookie", "set-cookie"}
)
SECRET_FIELDS = frozenset(
    {
        *("api_key", "apikey", "api-key", "x-api-key", "authorization", "password"),
        *("access_token", "refresh_token", "id_token", "secret", "client_secret", "secret_key"),
    }
)
REDACTED = "[REDACTED]"
# An OpenAI/Anthropic-style key (sk-…, sk-ant-…, sk-proj-…) or a gateway key (wb-…).
_KEY_RE = re.compile(r"(?<![A-Za-z0-9])(sk|wb)-[A-Za-z0-9][A-Za-z0-9_\-]{5,}")

BODIES = False  # server.log_bodies, set by install


# -- records -----------------------------------------------------------------------------------


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every record that passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class TextFormatter(logging.Formatter):
    """``TEXT_FORMAT``, with the date formatted once a second rather than once a line."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)
        self._second: tuple[int, str] = (-1, "")

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get()
        return super().format(record)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        second = int(record.created)
        cached, stamp = self._second
        if second != cached:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", self.converter(second))
            self._second = (second, stamp)
        return f"{stamp},{int(record.msecs):03d}"


class JsonFormatter(logging.Formatter):
    """One JSON object a line; a summary line also carries its fields as keys."""

    def __init__(self) -> None:
        super().__init__()
        self._second: tuple[int, str] = (-1, "")

    def format(self, record: logging.LogRecord) -> str:
        second = int(record.created)
        cached, stamp = self._second
        if second != cached:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = (second, stamp)
        out: dict[str, Any] = {
            "time": f"{stamp}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "request_id": getattr(record, "request_id", None) or REQUEST_ID.get(),
            "message": record.getMessage(),
        }
        summary = getattr(record, "wb_summary", None)
        if summary is not None:
            out.update(summary_fields(*summary))
        fields = getattr(record, "wb_fields", None)
        if fields:
            out.update(fields)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(out, default=str).decode()


def formatter(fmt: str) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else TextFormatter()


def configure_logging(level: str = "info", fmt: str = "text") -> None:
    """The root logger writes to stderr as ``fmt`` (text | json), every line with its request
    id. For ``wirebridge serve``; replaces ``logging.basicConfig``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(fmt))
    handler.addFilter(RequestIdFilter())
    # Neither format shows the caller, thread or process: skip looking them up for every line
    # (the logging HOWTO's "Optimization" section; about 15% of the cost of a line).
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def install(fmt: str = "text", bodies: bool = False) -> None:
    """Give the plain stream handlers on the root logger (``logging.basicConfig``'s) the
    request-id filter and the ``fmt`` formatter, unless they have the filter already; other
    handlers (pytest's, a user's) are left as they are."""
    global BODIES
    BODIES = bodies
    for handler in logging.getLogger().handlers:
        if type(handler) is not logging.StreamHandler:
            continue
        if any(isinstance(f, RequestIdFilter) for f in handler.filters):
            continue
        handler.addFilter(RequestIdFilter())
        handler.setFormatter(formatter(fmt))


# -- the summary line --------------------------------------------------------------------------


def summary(ctx: Any, elapsed: float) -> None:
    """The one info line of a finished request (a ``RequestContext``); the JSON format also
    gives its fields as keys (``summary_fields``)."""
    REQUEST_LOG.info(
        "%s %s %s model=%s provider=%s upstream_model=%s status=%d stream=%s outcome=%s "
        "tokens_in=%s tokens_out=%s latency_ms=%.1f ttft_ms=%s",
        ctx.front_door,
        ctx.method,
        ctx.path,
        ctx.model or ctx.routed or "-",
        ctx.provider or "-",
        ctx.answered_model or "-",
        ctx.status,
        "true" if ctx.stream else "false",
        ctx.outcome or "-",
        "-" if ctx.tokens_in is None else ctx.tokens_in,
        "-" if ctx.tokens_out is None else ctx.tokens_out,
        elapsed * 1000,
        "-" if ctx.ttft is None else f"{ctx.ttft * 1000:.1f}",
        extra={"wb_summary": (ctx, elapsed)},
    )


def summary_fields(ctx: Any, elapsed: float) -> dict[str, Any]:
    return {
        "front_door": ctx.front_door,
        "method": ctx.method,
        "path": ctx.path,
        "model": ctx.model or ctx.routed,
        "routed_model": ctx.routed,
        "provider": ctx.provider,
        "upstream_model": ctx.answered_model,
        "status": ctx.status,
        "stream": ctx.stream,
        "outcome": ctx.outcome,
        "tokens_in": ctx.tokens_in,
        "tokens_out": ctx.tokens_out,
        "latency_ms": round(elapsed * 1000, 1),
        "ttft_ms": None if ctx.ttft is None else round(ctx.ttft * 1000, 1),
    }


def websocket_closed(ctx: Any, elapsed: float) -> None:
    REQUEST_LOG.info(
        "websocket %s closed after %d turns, %.1f s",
        ctx.path,
        ctx.turns,
        elapsed,
        extra={"wb_fields": {"front_door": "websocket", "turns": ctx.turns}},
    )


# -- bodies ------------------------------------------------------------------------------------


def log_request(method: str, path: str, headers: Mapping[str, str], body: bytes) -> None:
    REQUEST_LOG.debug(
        "request %s %s headers=%s body=%s",
        method,
        path,
        _json(redact_headers(headers.items())),
        body_text(body),
    )


def log_response(status: int, headers: Mapping[str, str], body: bytes) -> None:
    REQUEST_LOG.debug(
        "response %d headers=%s body=%s",
        status,
        _json(redact_headers(headers.items())),
        body_text(body),
    )


def log_body(label: str, obj: object) -> None:
    REQUEST_LOG.debug("%s: %s", label, _cut(_json(redact_json(obj))))


def redact_headers(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in items:
        if name.lower() in SECRET_HEADERS:
            scheme, _, rest = value.partition(" ")
            value = f"{scheme} {REDACTED}" if rest and scheme.isalpha() else REDACTED
        else:
            value = redact_text(value)
        out[str(name)] = value  # aiohttp's header names are istr, which orjson refuses
    return out


def redact_json(obj: object) -> object:
    """A copy of ``obj`` with secret fields and key-like strings replaced."""
    if isinstance(obj, dict):
        return {
            k: (REDACTED if isinstance(k, str) and k.lower() in SECRET_FIELDS else redact_json(v))
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [redact_json(v) for v in obj]
    if isinstance(obj, str):
        return redact_text(obj)
    return obj


def redact_text(text: str) -> str:
    return _KEY_RE.sub(rf"\1-{REDACTED}", text)


def body_text(body: bytes) -> str:
    """A body for the log: JSON redacted field by field, anything else as text, cut short."""
    if not body:
        return "(empty)"
    try:
        return _cut(_json(redact_json(orjson.loads(body))))
    except orjson.JSONDecodeError:
        return _cut(redact_text(body.decode("utf-8", "replace")))


def _json(obj: object) -> str:
    return orjson.dumps(obj, default=str).decode()


def _cut(text: str) -> str:
    if len(text) <= MAX_BODY_CHARS:
        return text
    return f"{text[:MAX_BODY_CHARS]}… ({len(text) - MAX_BODY_CHARS} more characters)"
