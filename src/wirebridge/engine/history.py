"""Conversation history for ``previous_response_id``.

A stateless upstream needs the whole conversation every turn. ``History`` maps a response id to
the items of its conversation so far (every turn's input, then its output), so the next turn can
send only its new items. Entries are immutable tuples shared between turns: extending a chain
copies one list of references, never the items. Least recently used entries are evicted first.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from wirebridge.errors import NotFound

Item = dict[str, Any]


def previous_not_found(response_id: str) -> NotFound:
    return NotFound(
        f"Previous response with id '{response_id}' not found.",
        param="previous_response_id",
        code="previous_response_not_found",
    )


class History:
    def __init__(self, max_entries: int = 256) -> None:
        self._max = max_entries
        self._items: OrderedDict[str, tuple[Item, ...]] = OrderedDict()

    def get(self, response_id: str) -> tuple[Item, ...] | None:
        items = self._items.get(response_id)
        if items is not None:
            self._items.move_to_end(response_id)
        return items

    def put(self, response_id: str, items: tuple[Item, ...]) -> None:
        if self._max <= 0:
            return
        self._items[response_id] = items
        self._items.move_to_end(response_id)
        while len(self._items) > self._max:
            self._items.popitem(last=False)

    def evict(self, response_id: str) -> None:
        self._items.pop(response_id, None)

    def record(self, response_id: str, inputs: list[Item], output: list[Item]) -> None:
        """Remember a finished turn: its full input (history included) and its output."""
        self.put(response_id, (*inputs, *output))


def replayable(output: list[Item], open_blob: Any) -> list[Item]:
    """Items as later turns replay them: reasoning and compaction items carry their unsealed
    data (as a decoded client item would), on a copy — the client's item is never touched."""
    out = []
    for item in output:
        if item.get("type") in ("reasoning", "compaction") and item.get("encrypted_content"):
            pd = open_blob(item["encrypted_content"])
            if pd is not None:
                item = {**item, "_provider": pd}
        out.append(item)
    return out
