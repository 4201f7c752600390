"""Log lines: redaction, the request-id filter, the text and JSON formats."""

from __future__ import annotations

import logging
import sys

import orjson
import pytest

from wirebridge.observe import logs
from wirebridge.observe.context import RequestContext

R = logs.REDACTED


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("Authorization", "Bearer sk-live-abcdef123456", f"Bearer {R}"),
        ("authorization", "Basic dXNlcjpwYXNz", f"Basic {R}"),
        ("x-api-key", "sk-ant-api03-abcdefghij", R),
        ("X-Api-Key", "anything", R),
        ("api-key", "azure-key-0123456789", R),
        ("Cookie", "session=abc", R),
        ("Content-Type", "application/json", "application/json"),
        ("x-request-id", "req-1", "req-1"),
        ("x-note", "my key is wb-abcdef1234567", f"my key is wb-{R}"),
    ],
)
def test_headers_are_redacted(name: str, value: str, expected: str) -> None:
    assert logs.redact_headers([(name, value)]) == {name: expected}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sk-proj-AbC123xyz_-9", f"sk-{R}"),
        ("key=sk-upstream-test and more", f"key=sk-{R} and more"),
        ("wb-0123456789abcdef", f"wb-{R}"),
        ('"sk-ant-api03-aaaaaaaa"', f'"sk-{R}"'),
        ("Bearer sk-client", f"Bearer sk-{R}"),
        ("sk-short", "sk-short"),  # too short to be a key
        ("risk-assessment", "risk-assessment"),  # "sk-" inside a word is not a key
        ("desk-lamp-1234567", "desk-lamp-1234567"),
        ("wbx-0123456789", "wbx-0123456789"),
        ("plain text", "plain text"),
    ],
)
def test_key_like_strings_are_redacted(text: str, expected: str) -> None:
    assert logs.redact_text(text) == expected


def test_json_fields_are_redacted_at_any_depth() -> None:
    body = {
        "model": "gpt-5.5",
        "api_key": "plain-secret",
        "nested": [{"access_token": "a", "refresh_token": "r", "SECRET": {"x": 1}}],
        "input": "please use sk-proj-abcdefghijkl",
        "client_secret": "c",
        "password": "p",
        "count": 3,
        "prompt_cache_key": "not-a-secret",
    }
    assert logs.redact_json(body) == {
        "model": "gpt-5.5",
        "api_key": R,
        "nested": [{"access_token": R, "refresh_token": R, "SECRET": R}],
        "input": f"please use sk-{R}",
        "client_secret": R,
        "password": R,
        "count": 3,
        "prompt_cache_key": "not-a-secret",
    }


def test_body_text_handles_json_text_empty_and_long_bodies() -> None:
    assert logs.body_text(b"") == "(empty)"
    assert orjson.loads(logs.body_text(b'{"api_key": "x", "a": 1}')) == {"api_key": R, "a": 1}
    assert logs.body_text(b"not json sk-abcdefghijk") == f"not json sk-{R}"
    long = logs.body_text(b"x" * (logs.MAX_BODY_CHARS + 10))
    assert long.endswith("(10 more characters)")


def _record(msg: str = "hello %s", *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("wirebridge.test", logging.INFO, __file__, 1, msg, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_filter_puts_the_current_request_id_on_every_record() -> None:
    f = logs.RequestIdFilter()
    record = _record()
    assert f.filter(record) and record.request_id == "-"
    token = logs.REQUEST_ID.set("req-42")
    try:
        record = _record()
        f.filter(record)
        assert record.request_id == "req-42"
    finally:
        logs.REQUEST_ID.reset(token)


def test_text_format_names_the_request() -> None:
    token = logs.REQUEST_ID.set("req-7")
    try:
        line = logs.TextFormatter().format(_record("hello %s", "world"))
    finally:
        logs.REQUEST_ID.reset(token)
    assert line.endswith(" INFO wirebridge.test [req-7] hello world")


def test_json_format_is_one_object_a_line_with_summary_fields() -> None:
    fmt = logs.JsonFormatter()
    record = _record("done %d", 5, request_id="req-9", wb_fields={"status": 200, "model": "m"})
    obj = orjson.loads(fmt.format(record))
    assert obj["request_id"] == "req-9"
    assert obj["message"] == "done 5"
    assert obj["level"] == "info"
    assert obj["logger"] == "wirebridge.test"
    assert obj["status"] == 200 and obj["model"] == "m"
    assert obj["time"].endswith("Z") and "T" in obj["time"]
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        record = _record("failed")
        record.exc_info = sys.exc_info()
    line = fmt.format(record)
    assert "\n" not in line
    assert "ValueError: boom" in orjson.loads(line)["exception"]


def test_summary_line_has_every_field(caplog: pytest.LogCaptureFixture) -> None:
    ctx = RequestContext("req-s", "chat", "POST", "/v1/chat/completions")
    ctx.model, ctx.routed, ctx.provider, ctx.answered_model = "gpt-5.5", "gpt-5.5", "fake", "up"
    ctx.status, ctx.stream, ctx.outcome = 200, True, "completed"
    ctx.tokens_in, ctx.tokens_out, ctx.ttft = 12, 7, 0.0123
    with caplog.at_level(logging.INFO, logger="wirebridge.request"):
        logs.summary(ctx, 0.5)
    (record,) = caplog.records
    assert record.getMessage() == (
        "chat POST /v1/chat/completions model=gpt-5.5 provider=fake upstream_model=up "
        "status=200 stream=true outcome=completed tokens_in=12 tokens_out=7 latency_ms=500.0 "
        "ttft_ms=12.3"
    )
    obj = orjson.loads(logs.JsonFormatter().format(record))
    assert obj["latency_ms"] == 500.0 and obj["ttft_ms"] == 12.3
    assert obj["tokens_in"] == 12 and obj["front_door"] == "chat" and obj["request_id"] == "-"
    assert obj["message"] == record.getMessage()


def test_configure_logging_writes_json_with_request_ids(capsys: pytest.CaptureFixture) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    srcfile = logging._srcfile  # type: ignore[attr-defined]
    flags = logging.logThreads, logging.logProcesses, logging.logMultiprocessing
    try:
        logs.configure_logging("debug", "json")
        token = logs.REQUEST_ID.set("req-json")
        try:
            logging.getLogger("wirebridge.x").debug("inside")
        finally:
            logs.REQUEST_ID.reset(token)
        logging.getLogger("wirebridge.x").info("outside")
    finally:
        root.handlers[:], _ = saved[0], root.setLevel(saved[1])
        logging._srcfile = srcfile  # type: ignore[attr-defined]
        logging.logThreads, logging.logProcesses, logging.logMultiprocessing = flags
    lines = [orjson.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(x["message"], x["request_id"]) for x in lines] == [
        ("inside", "req-json"),
        ("outside", "-"),
    ]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_the_fast_summary_line_is_the_ordinary_one(
    fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    srcfile = logging._srcfile  # type: ignore[attr-defined]
    flags = logging.logThreads, logging.logProcesses, logging.logMultiprocessing
    ctx = RequestContext("req-f", "messages", "POST", "/v1/messages")
    ctx.model, ctx.provider, ctx.status, ctx.tokens_in = "claude-x", "p", 200, 5
    token = logs.REQUEST_ID.set("req-f")
    try:
        logs.configure_logging("info", fmt)
        assert logs._fast_handler() is not None
        logs.summary(ctx, 0.25)  # straight to the stream
        logs.REQUEST_LOG.addFilter(lambda record: True)  # now the ordinary way
        assert logs._fast_handler() is None
        logs.summary(ctx, 0.25)
    finally:
        logs.REQUEST_LOG.filters.clear()
        logs.REQUEST_ID.reset(token)
        root.handlers[:], _ = saved[0], root.setLevel(saved[1])
        logging._srcfile = srcfile  # type: ignore[attr-defined]
        logging.logThreads, logging.logProcesses, logging.logMultiprocessing = flags
    fast, ordinary = capsys.readouterr().err.splitlines()
    if fmt == "json":
        a, b = orjson.loads(fast), orjson.loads(ordinary)
        assert a.pop("time") and b.pop("time")
        assert a == b and a["request_id"] == "req-f" and a["tokens_in"] == 5
    else:
        assert fast[23:] == ordinary[23:]  # past the time stamp
        assert fast[23:].startswith(" INFO wirebridge.request [req-f] messages POST /v1/messages")
