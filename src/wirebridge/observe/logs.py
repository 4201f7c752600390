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
from aiohttp.http_exceptions import HttpProcessingError

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


class MalformedHttpFilter(logging.Filter):
    """aiohttp logs a request it cannot parse (broken framing, a bad header line: what scanners
    and broken clients send) at ERROR with a traceback; here it is one WARNING line, since the
    client got its 400 and nothing of ours failed."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            said = record.getMessage()
            record.msg, record.args = "%s: %s", (said, " ".join(str(exc).split()))
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info = record.exc_text = None
        return True


class _Stamps:
    """Dates formatted once a second rather than once a line."""

    def __init__(self, pattern: str, convert: Any) -> None:
        self._pattern, self._convert = pattern, convert
        self._second: tuple[int, str] = (-1, "")

    def __call__(self, created: float) -> str:
        second = int(created)
        cached, stamp = self._second
        if second != cached:
            stamp = time.strftime(self._pattern, self._convert(second))
            self._second = (second, stamp)
        return stamp


class TextFormatter(logging.Formatter):
    """``2026-01-02 03:04:05,678 INFO logger [request id] message`` (``TEXT_FORMAT``)."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)
        self._stamp = _Stamps("%Y-%m-%d %H:%M:%S", time.localtime)

    def line(self, created: float, level: str, name: str, request_id: str, message: str) -> str:
        msecs = int((created - int(created)) * 1000)
        return f"{self._stamp(created)},{msecs:03d} {level} {name} [{request_id}] {message}"

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        text = self.line(
            record.created, record.levelname, record.name, request_id, record.getMessage()
        )
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            text = f"{text}\n{record.exc_text}"
        if record.stack_info:
            text = f"{text}\n{self.formatStack(record.stack_info)}"
        return text


class JsonFormatter(logging.Formatter):
    """One JSON object a line; a summary line also carries its fields as keys."""

    def __init__(self) -> None:
        super().__init__()
        self._stamp = _Stamps("%Y-%m-%dT%H:%M:%S", time.gmtime)

    def line(
        self,
        created: float,
        level: str,
        name: str,
        request_id: str,
        message: str,
        fields: dict[str, Any] | None = None,
    ) -> str:
        msecs = int((created - int(created)) * 1000)
        out: dict[str, Any] = {
            "time": f"{self._stamp(created)}.{msecs:03d}Z",
            "level": level.lower(),
            "logger": name,
            "request_id": request_id,
            "message": message,
        }
        if fields:
            out.update(fields)
        return orjson.dumps(out, default=str).decode()

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = {}
        summary = getattr(record, "wb_summary", None)
        if summary is not None:
            fields.update(summary_fields(*summary))
        fields.update(getattr(record, "wb_fields", None) or {})
        if record.exc_info:
            fields["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            fields["stack"] = self.formatStack(record.stack_info)
        request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        return self.line(
            record.created, record.levelname, record.name, request_id, record.getMessage(), fields
        )


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
    server = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, MalformedHttpFilter) for f in server.filters):
        server.addFilter(MalformedHttpFilter())
    global _OURS
    _OURS = handler


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


SUMMARY_FORMAT = (
    "%s %s %s model=%s provider=%s upstream_model=%s status=%d stream=%s outcome=%s "
    "tokens_in=%s tokens_out=%s latency_ms=%.1f ttft_ms=%s"
)


def summary(ctx: Any, elapsed: float) -> None:
    """The one info line of a finished request (a ``RequestContext``); the JSON format also
    gives its fields as keys (``summary_fields``)."""
    args = (
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
    )
    handler = _fast_handler()
    if handler is None or not _write_fast(handler, ctx, elapsed, SUMMARY_FORMAT % args):
        REQUEST_LOG.info(SUMMARY_FORMAT, *args, extra={"wb_summary": (ctx, elapsed)})


# The summary line is the one line written for every request. A log record costs several times
# what the line itself does (LogRecord, handler chain, %-formatting of the record); when the only
# place the line can go is the handler ``configure_logging`` made, it is written to that handler's
# stream directly, in the very same format. Any other set-up (more handlers, filters on the
# request logger, pytest's capture) takes the ordinary way.
_OURS: logging.Handler | None = None
_PARENT = logging.getLogger("wirebridge")


def _fast_handler() -> logging.StreamHandler[Any] | None:
    h = _OURS
    root = logging.root
    if h is None or len(root.handlers) != 1 or root.handlers[0] is not h:
        return None
    log = REQUEST_LOG
    if log.handlers or log.filters or not log.propagate or _PARENT.handlers:
        return None
    if not _PARENT.propagate or h.level > logging.INFO or len(h.filters) != 1:
        return None
    return h if isinstance(h, logging.StreamHandler) else None


def _write_fast(h: logging.StreamHandler[Any], ctx: Any, elapsed: float, message: str) -> bool:
    fmt, request_id, created = h.formatter, REQUEST_ID.get(), time.time()
    name = REQUEST_LOG.name
    if isinstance(fmt, JsonFormatter):
        line = fmt.line(created, "INFO", name, request_id, message, summary_fields(ctx, elapsed))
    elif isinstance(fmt, TextFormatter):
        line = fmt.line(created, "INFO", name, request_id, message)
    else:
        return False
    h.acquire()
    try:
        h.stream.write(line + h.terminator)
        h.stream.flush()
    except Exception:
        return False  # the ordinary way reports the problem as logging does
    finally:
        h.release()
    return True


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
