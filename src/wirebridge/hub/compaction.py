"""Compaction items: a gateway-sealed summary standing for earlier turns.

``/v1/responses/compact`` seals a summary under ``COMPACTION_FAMILY``; when a client sends the
``compaction`` item back, decoding opens it and every upstream encoder replays it as a message.
"""

from __future__ import annotations

from wirebridge.hub.request import Item
from wirebridge.hub.seal import ProviderData

COMPACTION_FAMILY = "wirebridge.compaction"
SUMMARY_PREFIX = "Summary of the earlier conversation:\n"


def open_summary(pd: ProviderData | None) -> str | None:
    """The summary inside an opened compaction blob; ``None`` if it is not one."""
    if pd is None or pd.family != COMPACTION_FAMILY:
        return None
    summary = pd.data.get("summary")
    return summary if isinstance(summary, str) else None


def summary_text(item: Item) -> str | None:
    """The message text a decoded compaction item stands for (``None``: not opened)."""
    summary = open_summary(item.get("_provider"))
    return None if summary is None else SUMMARY_PREFIX + summary
