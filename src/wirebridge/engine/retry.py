"""When and how long to wait before trying an upstream again.

Only failures before the client has seen a byte are retried: the call was refused or could not
be made (connection errors, 408, 429, 5xx, 529). The wait grows exponentially with full jitter,
and an upstream's ``Retry-After`` is honoured when it is short enough to be worth waiting for;
a longer one moves on to the next target or fallback instead.
"""

from __future__ import annotations

import random

from wirebridge.errors import GatewayError, UpstreamError, UpstreamTimeout, UpstreamUnavailable

BASE_DELAY = 0.25
MAX_DELAY = 8.0
MAX_RETRY_AFTER = 20.0
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 529})


def retryable(err: GatewayError) -> bool:
    if isinstance(err, (UpstreamUnavailable, UpstreamTimeout)):
        return True
    if isinstance(err, UpstreamError):
        status = err.upstream_status
        return status is not None and (status in RETRYABLE_STATUSES or status >= 500)
    return False


def delay(attempt: int, err: GatewayError) -> float | None:
    """Seconds to wait before attempt ``attempt + 1``; None when waiting is not worth it."""
    retry_after = _retry_after(err)
    if retry_after is not None:
        return retry_after if retry_after <= MAX_RETRY_AFTER else None
    return random.uniform(0, min(MAX_DELAY, BASE_DELAY * (2**attempt)))


def _retry_after(err: GatewayError) -> float | None:
    raw = err.headers.get("Retry-After") if err.headers else None
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None  # an HTTP date: rare from APIs; fall back to backoff
