"""Each upstream kind of the matrix: how to script its fake, how to read what it received.

An entry scripts the neutral ``Say`` answers onto its fake and tells, from the requests the fake
recorded, whether the model's reasoning came back on the next turn in that provider's own form.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.e2e.matrix.model import Say
from tests.support.fake_chat import FakeChat, Reply


@dataclass
class Upstream:
    name: str
    fake_fixture: str  # the session fixture serving this kind's fake
    provider: Callable[[Any], dict[str, Any]]  # fake → provider config
    script: Callable[[Any, list[Say]], None]
    requests: Callable[[Any], list[dict[str, Any]]]  # request bodies, oldest first
    replayed: Callable[[dict[str, Any], str], bool]  # did this body carry that reasoning back?
    tool_output: Callable[[dict[str, Any], str], str | None]  # the output sent for a call id


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


def _chat_replayed(body: dict[str, Any], reasoning: str) -> bool:
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

UPSTREAMS = [CHAT]
