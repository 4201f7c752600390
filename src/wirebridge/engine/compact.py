"""Conversation compaction (``POST /v1/responses/compact``): the prompt and the result, no I/O.

A client whose conversation grows too long asks the gateway to compact it. The gateway asks the
upstream model for a dense summary of the whole history (``compaction_request``) and hands the
client one ``compaction`` item whose ``encrypted_content`` is a gateway-sealed blob holding that
summary (``compaction_resource``). When the client later sends the item back as input, the
Responses decoder opens the blob (``open_summary``) and each upstream encoder puts the summary
where the item was, as a user message (``summary_text``), since no upstream knows compaction.

The blob is sealed like reasoning blobs (``hub/seal.py``) under the family ``COMPACTION_FAMILY``,
so it opens on every gateway instance sharing the sealing key and nowhere else.
"""

from __future__ import annotations

import time
from typing import Any

from wirebridge.hub import ids
from wirebridge.hub.compaction import COMPACTION_FAMILY
from wirebridge.hub.request import HubRequest, Item
from wirebridge.hub.seal import ProviderData, Sealer

INSTRUCTIONS = """\
You compact conversations. The conversation above will be dropped and continued later by an \
assistant that sees only what you write now, so your summary must let it carry on as if it had \
read everything.

Write a faithful, dense summary of the whole conversation:
- The user's goals and every request, in their own terms; later corrections override earlier ones.
- Decisions made and why; constraints, preferences and conventions the user stated.
- Facts established: file paths, names, identifiers, commands, versions, URLs, numbers, error \
messages, quoted exactly.
- What was done: tool calls that mattered and their results, changes made and where.
- The current state, and the open tasks and next steps, in order, with anything left unanswered.

Be concise but lose nothing a continuation would need. Do not invent anything. Write plain text \
in the conversation's language, without preamble, and do not address the user."""

CONTEXT_INSTRUCTIONS = (
    "\n\nFor context only (do not follow them now): the assistant in this conversation was "
    "working under these instructions:\n<instructions>\n{}\n</instructions>"
)

FINAL_REQUEST = (
    "Write the summary of the conversation above now, following your instructions. Output only "
    "the summary."
)


def compaction_request(req: HubRequest, history: list[Item]) -> HubRequest:
    """The upstream request that asks ``req.model`` to summarise ``history`` (the whole
    conversation, ``previous_response_id`` already expanded). Non-streaming, not stored, no tools:
    the model must answer with text only."""
    instructions = INSTRUCTIONS
    if req.instructions:
        instructions += CONTEXT_INSTRUCTIONS.format(req.instructions)
    return HubRequest(
        model=req.model,
        input=[*history, {"type": "message", "role": "user", "content": FINAL_REQUEST}],
        instructions=instructions,
        reasoning=req.reasoning,
        prompt_cache_key=req.prompt_cache_key,
        service_tier=req.service_tier,
        user=req.user,
        safety_identifier=req.safety_identifier,
        store=False,
        stream=False,
    )


def response_text(response: dict[str, Any]) -> str:
    """The text of a Response's message items (``output_text`` parts), concatenated."""
    out: list[str] = []
    for item in response.get("output") or ():
        if item.get("type") != "message":
            continue
        for part in item.get("content") or ():
            if isinstance(part, dict) and part.get("type") == "output_text":
                out.append(part.get("text") or "")
    return "".join(out).strip()


def compaction_resource(
    summary: str, usage: dict[str, Any] | None, sealer: Sealer, now: float | None = None
) -> dict[str, Any]:
    """The ``response.compaction`` object: one compaction item sealing ``summary``."""
    blob = sealer.seal(ProviderData(COMPACTION_FAMILY, {"summary": summary}))
    return {
        "id": ids.new_id("cmp"),
        "object": "response.compaction",
        "created_at": int(time.time() if now is None else now),
        "output": [{"type": "compaction", "id": ids.new_id("cmp"), "encrypted_content": blob}],
        "usage": full_usage(usage),
    }


def full_usage(usage: dict[str, Any] | None) -> dict[str, Any]:
    """``usage`` with every field the schema requires (zeros when the upstream sent none)."""
    u = usage or {}
    inp, out = int(u.get("input_tokens") or 0), int(u.get("output_tokens") or 0)
    in_details = u.get("input_tokens_details") or {}
    out_details = u.get("output_tokens_details") or {}
    return {
        "input_tokens": inp,
        "input_tokens_details": {"cached_tokens": int(in_details.get("cached_tokens") or 0)},
        "output_tokens": out,
        "output_tokens_details": {
            "reasoning_tokens": int(out_details.get("reasoning_tokens") or 0)
        },
        "total_tokens": int(u.get("total_tokens") or inp + out),
    }
