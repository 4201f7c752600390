"""SSEParser: the incremental parser every upstream stream goes through.

Each row is a byte stream and the ``(event, data)`` pairs it holds; every row is also fed split
at every byte position (and one byte at a time), which must not change the result.
"""

from __future__ import annotations

import pytest

from wirebridge.transport.sse import SSEParser

Events = list[tuple[bytes | None, bytes]]

CHUNK = (
    b'{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m",'
    b'"choices":[{"index":0,"delta":{"content":"h\xc3\xa9llo \xf0\x9f\x98\x80"},'
    b'"finish_reason":null}]}'
)

ROWS = [
    pytest.param(
        b"data: " + CHUNK + b"\n\ndata: [DONE]\n\n",
        [(None, CHUNK), (None, b"[DONE]")],
        id="data_lines_and_done",
    ),
    pytest.param(b"data: a\r\n\r\ndata: b\r\n\r\n", [(None, b"a"), (None, b"b")], id="crlf"),
    pytest.param(
        b": keep-alive\n\n: OPENROUTER PROCESSING\ndata: a\n\n",
        [(None, b"a")],
        id="comments_ignored",
    ),
    pytest.param(
        b"data: line1\ndata: line2\ndata:\n\n",
        [(None, b"line1\nline2\n")],
        id="multi_line_data_joined_by_newline",
    ),
    pytest.param(
        b"data:no-space\n\ndata:  two-spaces\n\n",
        [(None, b"no-space"), (None, b" two-spaces")],
        id="one_optional_space_after_colon_removed",
    ),
    pytest.param(
        b"event: message_start\ndata: {}\n\ndata: x\n\n",
        [(b"message_start", b"{}"), (None, b"x")],
        id="event_names_apply_to_their_own_event_only",
    ),
    pytest.param(
        b"event: ping\n\nid: 7\nretry: 1000\ndata: x\n\n",
        [(None, b"x")],
        id="event_without_data_and_other_fields_ignored",
    ),
    pytest.param(
        b"data: a\n\n\n\n\ndata: b\n\n", [(None, b"a"), (None, b"b")], id="extra_blank_lines"
    ),
    pytest.param(
        b"data: a\n\ndata: tail",
        [(None, b"a"), (None, b"tail")],
        id="no_trailing_blank_line_flushed_on_close",
    ),
    pytest.param(
        b"data: a\n\ndata: tail\n",
        [(None, b"a"), (None, b"tail")],
        id="no_trailing_blank_line_after_newline",
    ),
    pytest.param(b"data: tail\r", [(None, b"tail")], id="no_trailing_blank_line_after_cr"),
]


def _parse(data: bytes, cuts: list[int]) -> Events:
    parser, out, prev = SSEParser(), [], 0
    for cut in [*cuts, len(data)]:
        out += parser.feed(data[prev:cut])
        prev = cut
    return out + parser.close()


@pytest.mark.parametrize(("data", "want"), ROWS)
def test_parse(data: bytes, want: Events) -> None:
    assert _parse(data, []) == want


@pytest.mark.parametrize(("data", "want"), ROWS)
def test_split_at_every_byte(data: bytes, want: Events) -> None:
    for cut in range(len(data) + 1):
        assert _parse(data, [cut]) == want, f"split at byte {cut}"
    assert _parse(data, list(range(1, len(data)))) == want, "one byte per feed"


def test_close_without_pending_data_returns_nothing() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: a\n\n") == [(None, b"a")]
    assert parser.close() == []


def test_bare_cr_line_endings() -> None:
    assert _parse(b"data: a\r\rdata: b\r\r", []) == [(None, b"a"), (None, b"b")]


def test_data_field_without_colon() -> None:
    assert _parse(b"data\n\n", []) == [(None, b"")]
