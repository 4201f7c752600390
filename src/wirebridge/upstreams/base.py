"""What every upstream adapter provides: one call, opened, then read as batches of hub events.

``open`` sends the request and raises a ``GatewayError`` for anything the upstream refused —
the client has seen nothing yet, so it gets a proper HTTP error. ``batches`` then yields hub
events, one list per upstream chunk, and ends a broken stream with a failure event instead of
raising. ``close`` releases the connection; it is safe to call at any time, more than once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

Event = dict[str, Any]


class UpstreamCall(Protocol):
    async def open(self) -> None: ...

    def batches(self) -> AsyncIterator[list[Event]]: ...

    def close(self) -> None: ...
