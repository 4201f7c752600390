"""Stored responses as the Responses API sees them: chains and persistence.

``ResponseState`` sits between the handlers and the ``ResponseStore``: it rebuilds the
conversation behind a ``previous_response_id`` and writes a finished turn — before its terminal
event leaves the gateway, so a client that chains at once never sees "not found". Recent chains
are kept in memory (``History``) so a long conversation is not re-read and re-parsed from the
store on every turn; the store is still asked whether the response exists (it may have been
deleted through another instance).
"""

from __future__ import annotations

import time
from typing import Any

from wirebridge.config.model import StoreConfig
from wirebridge.engine.history import History, previous_not_found, replayable
from wirebridge.hub import ids
from wirebridge.hub.request import HubRequest, Item
from wirebridge.hub.seal import Sealer
from wirebridge.store import ResponseStore, StoredResponse, expires_at

_ITEM_PREFIX = {
    "message": "msg",
    "function_call": "fc",
    "function_call_output": "fco",
    "custom_tool_call": "ctc",
    "custom_tool_call_output": "ctco",
    "reasoning": "rs",
    "compaction": "cmp",
}


class ResponseState:
    def __init__(self, store: ResponseStore, cfg: StoreConfig, sealer: Sealer) -> None:
        self.store = store
        self._cfg = cfg
        self._sealer = sealer
        self._chains = History(max_entries=1024)

    async def expand(self, req: HubRequest, owner: str) -> list[Item]:
        """Put the conversation behind ``req.previous_response_id`` before ``req.input``;
        return this turn's own items (what the store keeps for it)."""
        new = req.input
        prev = req.previous_response_id
        if not prev:
            return new
        key = _key(owner, prev)
        prior = self._chains.get(key)
        if prior is not None and await self.store.get(prev, owner) is None:
            self._chains.evict(key)
            prior = None
        if prior is None:
            items = await self.store.history(prev, owner)
            if items is None:
                raise previous_not_found(prev)
            prior = tuple(replayable(items, self._sealer.open))
        req.input = [*prior, *new]
        return new

    async def save(
        self, req: HubRequest, new_items: list[Item], owner: str, response: dict[str, Any]
    ) -> None:
        """Persist a finished turn (``store: true``) and remember its chain."""
        if not req.store:
            return
        created = int(response.get("created_at") or time.time())
        await self.store.put(
            StoredResponse(
                id=response["id"],
                owner=owner,
                response=response,
                input_items=stored_items(new_items),
                previous_response_id=req.previous_response_id,
                created_at=created,
                expires_at=expires_at(self._cfg, created),
            )
        )
        if response.get("status") in ("completed", "incomplete", "failed"):
            output = replayable(response["output"], self._sealer.open)
            self._chains.record(_key(owner, response["id"]), req.input, output)

    def forget(self, owner: str, response_id: str) -> None:
        self._chains.evict(_key(owner, response_id))


def stored_items(items: list[Item]) -> list[Item]:
    """Input items as the store keeps them: without the gateway's private keys, each with an id
    (``input_items`` lists them by id)."""
    out = []
    for item in items:
        clean = {k: v for k, v in item.items() if not k.startswith("_")}
        if clean.get("type") == "message" and isinstance(clean.get("content"), str):
            # Listed as OpenAI lists them: content as parts, whatever shorthand was sent.
            kind = "output_text" if clean.get("role") == "assistant" else "input_text"
            clean["content"] = [{"type": kind, "text": clean["content"]}]
        if not clean.get("id"):
            clean["id"] = ids.new_id(_ITEM_PREFIX.get(str(clean.get("type")), "item"))
        out.append(clean)
    return out


def _key(owner: str, response_id: str) -> str:
    return f"{owner}\x00{response_id}"
