"""The one async loop over an upstream stream: bytes → SSE → JSON event → hub events.

Every upstream adapter reads its stream through ``pump`` with its own synchronous decoder. The
loop owns what all streams share: ``[DONE]``, named SSE events, malformed data, timeouts, a
connection that breaks, and a stream that ends before the upstream said it was over — each of
these ends the stream as a failure in the decoder, never as an exception to the client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

import orjson

from wirebridge.transport.connection import ConnectionBroken, Response
from wirebridge.transport.sse import SSEParser

Event = dict[str, Any]


class StreamDecoder(Protocol):
    def feed(self, event: dict[str, Any]) -> list[Event]: ...

    def fail(self, code: str, message: str) -> None: ...

    @property
    def finished_cleanly(self) -> bool:
        """Whether the upstream has said how the answer ended."""
        ...


async def pump(
    resp: Response, decoder: StreamDecoder, *, stop_when_finished: bool = True
) -> AsyncIterator[list[Event]]:
    """Hub events, one list per network read of the upstream (so the client gets one write for
    whatever one read brought). With ``stop_when_finished`` reading stops once the decoder has
    its end (Chat Completions keeps reading: usage follows the finish)."""
    parser = SSEParser()
    ended = False
    try:
        async for chunk in resp.iter_any():
            batch, ended = _decode(parser.feed(chunk), decoder, stop_when_finished)
            if batch:
                yield batch
            if ended:
                resp.release()  # what follows the end is read apart, to keep the connection
                break
        else:
            batch, ended = _decode(parser.close(), decoder, stop_when_finished)
            if batch:
                yield batch
    except TimeoutError:
        decoder.fail("upstream_timeout", "The upstream stopped sending before the stream ended.")
        return
    except ConnectionBroken as e:
        decoder.fail(
            "upstream_error",
            f"The upstream connection broke in the middle of the stream: {e}",
        )
        return
    if not ended and not decoder.finished_cleanly:
        decoder.fail("upstream_error", "The upstream closed the stream before it ended.")


def _decode(
    events: list[tuple[bytes | None, bytes]], decoder: StreamDecoder, stop_when_finished: bool
) -> tuple[list[Event], bool]:
    """The hub events of some SSE events, and whether the stream is over."""
    out: list[Event] = []
    for name, data in events:
        if data == b"[DONE]":
            return out, True
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError:
            decoder.fail("upstream_error", f"The upstream sent malformed data: {data[:200]!r}")
            return out, True
        if not isinstance(event, dict):
            decoder.fail("upstream_error", f"The upstream sent a non-object: {data[:200]!r}")
            return out, True
        if name and "type" not in event:
            event["type"] = name.decode("utf-8", "replace")
        out += decoder.feed(event)
        if stop_when_finished and decoder.finished_cleanly:
            return out, True
    return out, False
