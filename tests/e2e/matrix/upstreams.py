"""Each upstream kind of the matrix: how to script its fake, how to read what it received.

An entry scripts the neutral ``Say`` answers onto its fake and tells, from the requests the fake
recorded, whether the model's reasoning came back on the next turn in that provider's own form.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.e2e.matrix.model import Say
from tests.support import fake_anthropic as fa
from tests.support import fake_responses as fr
from tests.support.fake_anthropic import Reply as AnthropicReply
from tests.support.fake_chat import FakeChat, Reply
from tests.support.fake_chatgpt import CodexReply
from tests.support.fake_responses import Reply as ResponsesReply


@dataclass
class Upstream:
    name: str
    fake_fixture: str  # the session fixture serving this kind's fake
    provider: Callable[[Any], dict[str, Any]]  # fake → provider config
    script: Callable[[Any, list[Say]], None]
    requests: Callable[[Any], list[dict[str, Any]]]  # request bodies, oldest first
    replayed: Callable[[Any, dict[str, Any], str], bool]  # did the body carry the reasoning back?
    tool_output: Callable[[dict[str, Any], str], str | None]  # the output sent for a call id
    # Whether reasoning shown as plain text (a Chat Completions client's reasoning_content) is
    # all this upstream needs to take it back; the Responses API wants its own encrypted blob.
    replays_plain_text: bool = True


def _chat_reply(say: Say) -> Reply:
    if say.error is not None:
        headers = {"Retry-After": say.retry_after} if say.retry_after else None
        return Reply.error(say.error, headers=headers)
    finish = "length" if say.finish == "length" else None
    if say.calls:
        return Reply.tool_calls(
            list(say.calls),
            content=say.text,
            reasoning_content=say.reasoning,
            chunk_size=5,
            **({"finish_reason": finish} if finish else {}),
        )
    return Reply.text(
        say.text or "",
        reasoning_content=say.reasoning,
        chunk_size=5,
        finish_reason=finish or "stop",
    )


def _chat_script(fake: FakeChat, says: list[Say]) -> None:
    fake.script(*[_chat_reply(s) for s in says])


def _chat_replayed(fake: FakeChat, body: dict[str, Any], reasoning: str) -> bool:
    return any(m.get("reasoning_content") == reasoning for m in body["messages"])


def _chat_tool_output(body: dict[str, Any], call_id: str) -> str | None:
    for m in body["messages"]:
        if m.get("role") == "tool" and m.get("tool_call_id") == call_id:
            return str(m.get("content"))
    return None


CHAT = Upstream(
    name="chat",
    fake_fixture="fake_chat_server",
    provider=lambda fake: {"base_url": fake.base_url, "api_key": "sk-up", "profile": "deepseek"},
    script=_chat_script,
    requests=lambda fake: [r.body for r in fake.chat_requests],
    replayed=_chat_replayed,
    tool_output=_chat_tool_output,
)


def _responses_reply(say: Say) -> ResponsesReply:
    if say.error is not None:
        headers = {"Retry-After": say.retry_after} if say.retry_after else None
        return ResponsesReply.error_reply(say.error, headers=headers)
    items = [fr.reasoning(say.reasoning)] if say.reasoning else []
    status = "incomplete" if say.finish == "length" else "completed"
    if say.text:
        items.append(fr.message(say.text, status=status))
    items += [fr.function_call(name, arguments, call_id=cid) for cid, name, arguments in say.calls]
    return ResponsesReply.items(*items, status=status, chunk_size=5)


def _responses_replayed(fake: Any, body: dict[str, Any], reasoning: str) -> bool:
    # The upstream's own reasoning item comes back with the blob it issued, never another's.
    return any(
        item.get("type") == "reasoning" and item.get("encrypted_content") in fake.issued
        for item in body["input"]
    )


def _responses_tool_output(body: dict[str, Any], call_id: str) -> str | None:
    for item in body["input"]:
        if item.get("type") == "function_call_output" and item.get("call_id") == call_id:
            return str(item.get("output"))
    return None


RESPONSES = Upstream(
    name="responses",
    fake_fixture="fake_responses_server",
    provider=lambda fake: {"api": "responses", "base_url": fake.base_url, "api_key": "sk-up"},
    script=lambda fake, says: fake.script(*[_responses_reply(s) for s in says]),
    requests=lambda fake: [r.body for r in fake.responses_requests],
    replayed=_responses_replayed,
    tool_output=_responses_tool_output,
    replays_plain_text=False,
)


def _chatgpt_reply(say: Say) -> CodexReply:
    if say.error is not None:
        headers = (("Retry-After", say.retry_after),) if say.retry_after else ()
        return CodexReply(
            kind="error", status=say.error, body={"error": {"message": "boom"}}, headers=headers
        )
    return CodexReply(
        kind="text" if say.text else "calls",
        text=say.text or "",
        calls=say.calls,
        chunk_size=5,
        reasoning=say.reasoning,
        incomplete=say.finish == "length",
    )


def _chatgpt_provider(fake: Any) -> dict[str, Any]:
    auth_file = Path(tempfile.mkdtemp(prefix="wb-matrix-")) / "auth.json"
    fake.write_auth_file(auth_file)
    return {
        "api": "chatgpt",
        "base_url": fake.backend_url,
        "chatgpt": {
            "auth_file": str(auth_file),
            "issuer": fake.issuer,
            "token_url": fake.token_url,
        },
    }


def _chatgpt_replayed(fake: Any, body: dict[str, Any], reasoning: str) -> bool:
    return any(
        item.get("type") == "reasoning"
        and str(item.get("encrypted_content", "")).startswith("enc_rs_fake")
        for item in body["input"]
    )


CHATGPT = Upstream(
    name="chatgpt",
    fake_fixture="fake_chatgpt_server",
    provider=_chatgpt_provider,
    script=lambda fake, says: fake.script(*[_chatgpt_reply(s) for s in says]),
    requests=lambda fake: [r.body for r in fake.backend_requests],
    replayed=_chatgpt_replayed,
    tool_output=_responses_tool_output,
    replays_plain_text=False,
)


def _anthropic_reply(say: Say) -> AnthropicReply:
    if say.error is not None:
        headers = {"retry-after": say.retry_after} if say.retry_after else None
        return AnthropicReply.error(say.error, headers=headers)
    # With thinking on (the Messages driver asks for it) Anthropic thinks before every tool call,
    # and refuses a tool-result turn whose assistant message does not start with thinking.
    thinking = say.reasoning or ("I will call the tool." if say.calls else None)
    blocks = [fa.thinking_block(thinking)] if thinking else []
    if say.text:
        blocks.append(fa.text_block(say.text))
    blocks += [fa.tool_use_block(name, json.loads(args), cid) for cid, name, args in say.calls]
    stop = "max_tokens" if say.finish == "length" else "tool_use" if say.calls else "end_turn"
    return AnthropicReply.of(*blocks, stop_reason=stop, chunk_size=5)


def _anthropic_replayed(fake: Any, body: dict[str, Any], reasoning: str) -> bool:
    # Anthropic takes thinking back only with the signature it issued, over the same text.
    return any(
        block.get("type") == "thinking"
        and block.get("thinking") == reasoning
        and fake.issued.get(block.get("signature")) == reasoning
        for m in body["messages"]
        if m["role"] == "assistant" and isinstance(m["content"], list)
        for block in m["content"]
    )


def _anthropic_tool_output(body: dict[str, Any], call_id: str) -> str | None:
    for m in body["messages"]:
        for block in m["content"] if isinstance(m["content"], list) else ():
            if block.get("type") == "tool_result" and block.get("tool_use_id") == call_id:
                content = block.get("content")
                if isinstance(content, list):
                    return "".join(part.get("text", "") for part in content)
                return str(content)
    return None


ANTHROPIC = Upstream(
    name="messages",
    fake_fixture="fake_anthropic_matrix",
    provider=lambda fake: {
        "api": "messages",
        "base_url": fake.base_url,
        "api_key": "sk-ant-upstream-test",
    },
    script=lambda fake, says: fake.script(*[_anthropic_reply(s) for s in says]),
    requests=lambda fake: [r.body for r in fake.message_requests],
    replayed=_anthropic_replayed,
    tool_output=_anthropic_tool_output,
    replays_plain_text=False,
)

UPSTREAMS = [CHAT, RESPONSES, CHATGPT, ANTHROPIC]
