"""Compaction: the summary prompt, the ``response.compaction`` object, and a compaction item
decoded (blob opened) and encoded for a chat upstream as the summary message it stands for."""

from __future__ import annotations

import time
from typing import Any

import openresponses_types as ort
import pytest

from wirebridge.config.model import StoreConfig
from wirebridge.engine.compact import (
    FINAL_REQUEST,
    INSTRUCTIONS,
    compaction_request,
    compaction_resource,
    full_usage,
    response_text,
)
from wirebridge.engine.state import ResponseState
from wirebridge.errors import InvalidRequest, Untranslatable
from wirebridge.frontends.responses.request import decode_request
from wirebridge.hub.compaction import COMPACTION_FAMILY, SUMMARY_PREFIX, open_summary, summary_text
from wirebridge.hub.request import HubRequest
from wirebridge.hub.seal import ProviderData, Sealer
from wirebridge.hub.tools import build_toolset
from wirebridge.providers.profiles import get_profile
from wirebridge.store.memory import MemoryStore
from wirebridge.upstreams.chat.request import encode_messages, encode_request

SEALER = Sealer(bytes(range(32)))
OTHER_KEY = Sealer(bytes(range(1, 33)))
HISTORY = [
    {"type": "message", "role": "user", "content": "Fix the login bug in /srv/app/auth.py"},
    {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "Done.", "annotations": []}],
    },
]


def _blob(summary: Any = "the summary", family: str = COMPACTION_FAMILY) -> str:
    return SEALER.seal(ProviderData(family, {"summary": summary}))


# -- the summary request -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("client_instructions", "expect_context"),
    [(None, False), ("", False), ("You are a coding agent.", True)],
)
def test_compaction_request(client_instructions: str | None, expect_context: bool) -> None:
    req = HubRequest(
        model="fake-model",
        input=list(HISTORY),
        instructions=client_instructions,
        tools=build_toolset([{"type": "function", "name": "shell"}], (), []),
        reasoning={"effort": "low"},
        prompt_cache_key="k1",
        stream=True,
        store=True,
    )
    out = compaction_request(req, req.input)
    assert out.model == "fake-model"
    assert out.input[:-1] == HISTORY
    assert out.input[-1] == {"type": "message", "role": "user", "content": FINAL_REQUEST}
    assert out.instructions is not None and out.instructions.startswith(INSTRUCTIONS)
    assert ("You are a coding agent." in out.instructions) is expect_context
    assert not out.stream and not out.store and not out.tools  # text only, never stored
    assert out.reasoning == {"effort": "low"} and out.prompt_cache_key == "k1"


def test_summary_instructions_ask_for_what_a_continuation_needs() -> None:
    for needed in ("faithful, dense summary", "file paths", "Decisions", "open tasks", "goals"):
        assert needed in INSTRUCTIONS


# -- the result ---------------------------------------------------------------------------------


def _msg(*texts: str) -> dict[str, Any]:
    return {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": t, "annotations": []} for t in texts],
    }


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ([_msg("Summary.")], "Summary."),
        ([_msg("Part one, ", "part two.")], "Part one, part two."),
        ([{"type": "reasoning", "summary": []}, _msg("  padded  \n")], "padded"),
        ([{"type": "function_call", "name": "x", "arguments": "{}"}], ""),
        ([{"type": "message", "content": [{"type": "refusal", "refusal": "no"}]}], ""),
        ([], ""),
    ],
)
def test_response_text(output: list[dict[str, Any]], expected: str) -> None:
    assert response_text({"output": output}) == expected


USAGE_CASES = [
    pytest.param(None, (0, 0, 0, 0, 0), id="none"),
    pytest.param({"input_tokens": 10, "output_tokens": 4}, (10, 0, 4, 0, 14), id="partial"),
    pytest.param(
        {
            "input_tokens": 139,
            "input_tokens_details": {"cached_tokens": 3},
            "output_tokens": 438,
            "output_tokens_details": {"reasoning_tokens": 64},
            "total_tokens": 577,
        },
        (139, 3, 438, 64, 577),
        id="full",
    ),
]


@pytest.mark.parametrize(("usage", "expected"), USAGE_CASES)
def test_compaction_resource(usage: dict[str, Any] | None, expected: tuple[int, ...]) -> None:
    res = compaction_resource("the summary", usage, SEALER, now=1_764_967_971)
    ort.CompactResource.model_validate(res)
    assert res["object"] == "response.compaction" and res["created_at"] == 1_764_967_971
    assert res["id"].startswith("cmp_")
    [item] = res["output"]
    assert item["type"] == "compaction" and item["id"].startswith("cmp_")
    assert item["id"] != res["id"]
    assert "summary" not in item["encrypted_content"]
    assert open_summary(SEALER.open(item["encrypted_content"])) == "the summary"
    u = res["usage"]
    got = (
        u["input_tokens"],
        u["input_tokens_details"]["cached_tokens"],
        u["output_tokens"],
        u["output_tokens_details"]["reasoning_tokens"],
        u["total_tokens"],
    )
    assert got == expected
    assert full_usage(usage) == u


@pytest.mark.parametrize(
    ("pd", "expected"),
    [
        (None, None),
        (ProviderData(COMPACTION_FAMILY, {"summary": "s"}), "s"),
        (ProviderData(COMPACTION_FAMILY, {"summary": 3}), None),
        (ProviderData(COMPACTION_FAMILY, {}), None),
        (ProviderData("deepseek", {"summary": "s"}), None),
    ],
)
def test_open_summary(pd: ProviderData | None, expected: str | None) -> None:
    assert open_summary(pd) == expected


# -- decoding a compaction item ----------------------------------------------------------------


def _decode(input_items: list[dict[str, Any]]) -> HubRequest:
    return decode_request({"model": "m", "input": input_items}, SEALER, (), [])


def test_decoded_compaction_item_carries_its_summary() -> None:
    item = {"type": "compaction", "id": "cmp_1", "encrypted_content": _blob("earlier work")}
    req = _decode([item, {"role": "user", "content": "go on"}])
    assert summary_text(req.input[0]) == SUMMARY_PREFIX + "earlier work"
    assert req.input[0]["id"] == "cmp_1"  # the wire shape is kept


@pytest.mark.parametrize(
    "blob",
    [
        pytest.param(None, id="missing"),
        pytest.param("gAAAAABpM0Yj-openai-blob=", id="openai_blob"),
        pytest.param("wb1.AAAA", id="garbage"),
        pytest.param(OTHER_KEY.seal(ProviderData(COMPACTION_FAMILY, {"summary": "s"})), id="key"),
        pytest.param(_blob(family="deepseek"), id="reasoning_blob"),
        pytest.param(_blob(summary=None), id="no_summary"),
    ],
)
def test_a_blob_the_gateway_cannot_open_is_a_400_naming_the_item(blob: Any) -> None:
    items = [{"role": "user", "content": "hi"}, {"type": "compaction", "encrypted_content": blob}]
    with pytest.raises(InvalidRequest) as exc:
        _decode(items)
    assert exc.value.http_status == 400
    assert exc.value.param == "input[1].encrypted_content"
    assert "input[1]" in exc.value.message


# -- encoding for a chat upstream --------------------------------------------------------------


@pytest.mark.parametrize("position", [0, 1, 2])
def test_chat_upstream_gets_the_summary_where_the_item_was(position: int) -> None:
    items: list[dict[str, Any]] = [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "answer"},
    ]
    items.insert(position, {"type": "compaction", "id": "cmp_1", "encrypted_content": _blob()})
    req = _decode(items)
    req.instructions = "Be brief."
    messages = encode_messages(req, get_profile("generic"))
    assert messages[0] == {"role": "system", "content": "Be brief."}
    summary = {"role": "user", "content": SUMMARY_PREFIX + "the summary"}
    assert messages[1 + position] == summary
    assert len(messages) == 4


def test_whole_chat_body_with_a_compaction_item() -> None:
    req = _decode(
        [
            {"type": "compaction", "encrypted_content": _blob("S")},
            {"role": "user", "content": "next"},
        ]
    )
    body = encode_request(req, "up", get_profile("deepseek"), stream=False)
    assert body["messages"] == [
        {"role": "user", "content": SUMMARY_PREFIX + "S"},
        {"role": "user", "content": "next"},
    ]


def test_an_unopened_compaction_item_is_not_sent_silently() -> None:
    # e.g. replayed from the store without its unsealed summary: never dropped, never the blob.
    req = HubRequest(model="m", input=[{"type": "compaction", "encrypted_content": _blob()}])
    with pytest.raises(Untranslatable):
        encode_messages(req, get_profile("generic"))


# -- a compaction item inside a stored conversation -------------------------------------------


async def _continue_after(state_for_turn_two: str) -> HubRequest:
    """Turn one sends a compaction item (stored); turn two chains from it through the same
    ``ResponseState`` (its in-memory chain) or a fresh one (another instance, a restart)."""
    store = MemoryStore()
    cfg = StoreConfig(backend="memory")
    first = ResponseState(store, cfg, SEALER)
    req = _decode(
        [{"type": "compaction", "encrypted_content": _blob("S")}, {"role": "user", "content": "hi"}]
    )
    new = await first.expand(req, "")
    resp = {"id": "resp_1", "created_at": int(time.time()), "status": "completed", "output": []}
    await first.save(req, new, "", resp)
    state = first if state_for_turn_two == "same" else ResponseState(store, cfg, SEALER)
    follow = decode_request(
        {"model": "m", "input": "next", "previous_response_id": "resp_1"}, SEALER, (), []
    )
    await state.expand(follow, "")
    return follow


async def test_chained_compaction_item_on_the_same_instance() -> None:
    follow = await _continue_after("same")
    assert summary_text(follow.input[0]) == SUMMARY_PREFIX + "S"


async def test_chained_compaction_item_on_another_instance() -> None:
    follow = await _continue_after("fresh")
    assert summary_text(follow.input[0]) == SUMMARY_PREFIX + "S"
