"""In-process plumbing for the Chat Completions front door tests, no sockets.

* ``decode(body)`` — a chat request body (``model`` defaulted) → (HubRequest, ChatOptions).
* ``upstream(body, profile)`` — a chat request body as the chat upstream receives it
  (``decode_request`` → ``bind_route`` → ``encode_request``, as ``http/chat.py`` wires them).
* ``run(chunks, ...)`` — upstream chunks → ``ChatStreamDecoder`` → ``ResponseBuilder`` →
  ``ChatChunkEncoder``: the chunks a streaming client gets and the ``chat.completion`` a JSON
  client gets for the same answer.
* ``fold(chunks)`` — what a client accumulates from a chunk stream (as the SDK's helper does).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from tests.upstreams.chat.pipeline import SEALER
from wirebridge.frontends.chat.request import ChatOptions, bind_route, decode_request
from wirebridge.frontends.chat.response import encode_completion
from wirebridge.frontends.chat.stream import ChatChunkEncoder
from wirebridge.hub.accumulate import ResponseBuilder
from wirebridge.hub.request import HubRequest
from wirebridge.providers.profiles import PROFILES
from wirebridge.upstreams.chat.request import encode_request
from wirebridge.upstreams.chat.stream import ChatStreamDecoder

Body = dict[str, Any]
Chunk = dict[str, Any]
RESPONSE_ID = "resp_0123abcd"


def decode(body: Body) -> tuple[HubRequest, ChatOptions]:
    return decode_request({"model": "m", **copy.deepcopy(body)})


def upstream(body: Body, profile: str = "deepseek", api: str = "chat") -> Body:
    req, _ = decode(body)
    prof = PROFILES[profile]
    bind_route(req, api, prof.family)
    return encode_request(req, "up-model", prof, req.stream)


@dataclass
class Run:
    chunks: list[Chunk]  # as streamed, [DONE] not included
    completion: dict[str, Any]  # the JSON answer for the same upstream answer
    response: dict[str, Any]  # the hub's final Response


def run(
    chunks: list[Chunk],
    body: Body | None = None,
    *,
    req: HubRequest | None = None,
    opts: ChatOptions | None = None,
    profile: str = "deepseek",
    fail: tuple[str, str] | None = None,
) -> Run:
    if req is None:
        req, decoded = decode(body or {"messages": [{"role": "user", "content": "hi"}]})
        opts = opts or decoded
    opts = opts or ChatOptions()
    builder = ResponseBuilder(RESPONSE_ID, req)
    decoder = ChatStreamDecoder(req.tools, PROFILES[profile], SEALER.seal)
    enc = ChatChunkEncoder(builder.id, builder.model, builder.created_at, opts)
    out = enc.start()
    for c in chunks:
        for ev in decoder.feed(copy.deepcopy(c)):
            out += enc.feed(builder.feed(ev))
    if fail is not None:
        decoder.fail(*fail)
    for ev in decoder.finish():
        out += enc.feed(builder.feed(ev))
    out += enc.finish()
    resp = builder.response
    assert resp is not None
    completion = encode_completion(resp, opts) if resp["status"] != "failed" else {}
    return Run(out, completion, resp)


def fold(chunks: list[Chunk]) -> dict[str, Any]:
    """The message, finish_reason and usage a client accumulates from ``chunks``."""
    msg: dict[str, Any] = {"role": None, "content": None, "refusal": None}
    calls: dict[int, dict[str, Any]] = {}
    out: dict[str, Any] = {"message": msg, "finish_reason": None, "usage": None, "logprobs": []}
    for c in chunks:
        if "error" in c:
            out["error"] = c["error"]
            continue
        if c.get("usage"):
            out["usage"] = c["usage"]
        for choice in c["choices"]:
            _fold_delta(msg, calls, choice["delta"])
            if choice["finish_reason"]:
                out["finish_reason"] = choice["finish_reason"]
            if choice["logprobs"]:
                out["logprobs"] += choice["logprobs"]["content"]
    if calls:
        msg["tool_calls"] = [calls[i] for i in sorted(calls)]
    return out


def _fold_delta(msg: dict[str, Any], calls: dict[int, dict[str, Any]], delta: Chunk) -> None:
    for key in ("content", "refusal", "reasoning_content"):
        if delta.get(key) is not None:
            msg[key] = (msg.get(key) or "") + delta[key]
    if delta.get("role"):
        msg["role"] = delta["role"]
    if "function_call" in delta:
        fc = msg.setdefault("function_call", {"name": "", "arguments": ""})
        fc["name"] += delta["function_call"].get("name", "")
        fc["arguments"] += delta["function_call"].get("arguments", "")
    for tc in delta.get("tool_calls") or ():
        call = calls.get(tc["index"])
        if call is None:
            call = calls[tc["index"]] = {
                "id": tc["id"],
                "type": tc["type"],
                "function": {"name": tc["function"]["name"], "arguments": ""},
            }
        call["function"]["arguments"] += tc["function"].get("arguments", "")
