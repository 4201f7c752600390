"""What the harness sends, and the configs of the systems under test.

Every scenario is one front door of the gateway over the same Chat Completions mock. Its
``direct`` twin is the request that calls the mock itself (the baseline for added latency).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODEL = "bench-model"  # served by the fast mock
SLOW_MODEL = "bench-slow"  # served by the slow mock (10 ms between chunks)
CHUNKS = 50
SLOW_DELAY_MS = 10.0
BENCH_KEY = "wb-bench-key-0123456789abcdefghijklmnopqrstuvwxyzABC"  # static client key

_USER = "Write a short greeting for the benchmark, please."
_SYSTEM = "You are a helpful assistant."


@dataclass(frozen=True)
class Scenario:
    name: str
    path: str
    body: dict[str, Any]
    stream: bool
    marker: str  # must be in the tail of the answer (a complete JSON answer / finished stream)
    direct: str | None  # name of the direct-to-mock twin ("chat-json" / "chat-sse")
    headers: tuple[tuple[str, str], ...] = ()

    def body_bytes(self, **override: Any) -> bytes:
        return json.dumps({**self.body, **override}).encode()


def _responses(stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": MODEL,
        "instructions": _SYSTEM,
        "input": [{"role": "user", "content": [{"type": "input_text", "text": _USER}]}],
        "store": False,
    }
    if stream:
        body["stream"] = True
    return body


def _chat(stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": MODEL,
        "messages": [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": _USER}],
    }
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def _messages(stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 1024,
        "system": _SYSTEM,
        "messages": [{"role": "user", "content": _USER}],
    }
    if stream:
        body["stream"] = True
    return body


def _codex(stream: bool) -> dict[str, Any]:
    """A real Codex CLI turn (``bodies/codex-turn.json``): 39 KB of instructions, ten tools (a
    custom one and two hosted ones among them) and a history with reasoning and a tool call."""
    body = json.loads((_BODIES / "codex-turn.json").read_text())
    return {**body, "model": MODEL, "stream": stream, "store": False}


def _codex_chat(stream: bool) -> dict[str, Any]:
    """What the gateway sent the mock for that turn (``bodies/codex-turn.chat.json``): the
    direct twin, so that the mock alone parses a body of the same size."""
    body = json.loads((_BODIES / "codex-turn.chat.json").read_text())
    if not stream:
        body.pop("stream", None)
        body.pop("stream_options", None)
    return {**body, "model": MODEL}


def _claude(stream: bool) -> dict[str, Any]:
    """A real Claude Code turn (``bodies/claude-turn.json``): 64 KB of tool definitions (24
    tools), a system prompt in blocks with cache marks, and a history with a thinking block, a
    tool call and its result."""
    body = json.loads((_BODIES / "claude-turn.json").read_text())
    return {**body, "model": MODEL, "stream": stream}


def _claude_chat(stream: bool) -> dict[str, Any]:
    """What the gateway sent the mock for that turn (``bodies/claude-turn.chat.json``)."""
    body = json.loads((_BODIES / "claude-turn.chat.json").read_text())
    if not stream:
        body.pop("stream", None)
        body.pop("stream_options", None)
    return {**body, "model": MODEL}


_BODIES = Path(__file__).resolve().parent / "bodies"
_ANTHROPIC = (("anthropic-version", "2023-06-01"),)
# Claude Code's own headers for that turn (the betas it asks for), as it sent them.
_CLAUDE_CODE = (
    *_ANTHROPIC,
    (
        "anthropic-beta",
        "claude-code-20250219,context-1m-2025-08-07,interleaved-thinking-2025-05-14,"
        "thinking-token-count-2026-05-13,context-management-2025-06-27,"
        "prompt-caching-scope-2026-01-05,mid-conversation-system-2026-04-07,effort-2025-11-24",
    ),
    ("x-app", "cli"),
)

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("responses-json", "/v1/responses", _responses(False), False, '"completed"',
                 "chat-json"),
        Scenario("responses-sse", "/v1/responses", _responses(True), True, "response.completed",
                 "chat-sse"),
        Scenario("chat-json", "/v1/chat/completions", _chat(False), False, '"finish_reason"',
                 "chat-json"),
        Scenario("chat-sse", "/v1/chat/completions", _chat(True), True, "[DONE]", "chat-sse"),
        Scenario("messages-json", "/v1/messages", _messages(False), False, '"stop_reason"',
                 "chat-json", _ANTHROPIC),
        Scenario("messages-sse", "/v1/messages", _messages(True), True, "message_stop",
                 "chat-sse", _ANTHROPIC),
        Scenario("codex-json", "/v1/responses", _codex(False), False, '"completed"',
                 "codex-chat-json"),
        Scenario("codex-sse", "/v1/responses", _codex(True), True, "response.completed",
                 "codex-chat-sse"),
        Scenario("claude-json", "/v1/messages", _claude(False), False, '"stop_reason"',
                 "claude-chat-json", _CLAUDE_CODE),
        Scenario("claude-sse", "/v1/messages", _claude(True), True, "message_stop",
                 "claude-chat-sse", _CLAUDE_CODE),
        # the twins of the recorded turns, only ever sent to the mock itself
        Scenario("codex-chat-json", "/v1/chat/completions", _codex_chat(False), False,
                 '"finish_reason"', None),
        Scenario("codex-chat-sse", "/v1/chat/completions", _codex_chat(True), True, "[DONE]",
                 None),
        Scenario("claude-chat-json", "/v1/chat/completions", _claude_chat(False), False,
                 '"finish_reason"', None),
        Scenario("claude-chat-sse", "/v1/chat/completions", _claude_chat(True), True, "[DONE]",
                 None),
    )
}  # fmt: skip

TWINS_ONLY = {"codex-chat-json", "codex-chat-sse", "claude-chat-json", "claude-chat-sse"}
DEFAULT_SCENARIOS = [name for name in SCENARIOS if name not in TWINS_ONLY]
QUICK_SCENARIOS = ["responses-json", "responses-sse"]
# extra scenarios, by name, for --scenarios
EXTRAS = ["features", "shared", "slow-streams", "workers2", "profile"]


def wirebridge_config(
    port: int,
    mock_port: int,
    slow_port: int,
    *,
    store_path: str | None = None,
    store_url: str | None = None,
    api_keys: bool = False,
    rate_limits: str | None = None,
) -> str:
    """A YAML config: two models over the two mocks; optional store (a sqlite file, or a
    ``redis://`` or ``postgresql://`` URL), client keys, and rate limits (``"memory"`` or a
    ``redis://`` URL to count in) so high that they never refuse: what counting costs."""
    lines = [
        "server:",
        f'  listen_addr: "127.0.0.1:{port}"',
        "  log_level: warning",
        "  request_timeout: 300",
        '  secret_key: "bench-secret-key-not-for-production-use-0123456789"',
    ]
    if api_keys:
        lines += ["  api_keys:", f'    - "{BENCH_KEY}"']
    if rate_limits:
        lines += ["  rate_limits:"]
        if rate_limits != "memory":
            lines += ["    storage: redis", f'    redis_url: "{rate_limits}"']
        lines += [
            f"    per_key: {{rpm: {10**9}, rpd: {10**10}, tpm: {10**12}}}",
            f"    per_ip: {{rpm: {10**9}, rpd: {10**10}}}",
        ]
    if store_url:
        backend = "redis" if store_url.startswith("redis") else "postgres"
        lines += ["store:", f"  backend: {backend}", f'  url: "{store_url}"']
    elif store_path:
        lines += ["store:", "  backend: sqlite", f'  path: "{store_path}"']
    else:
        lines += ["store:", "  backend: memory"]
    lines += [
        "providers:",
        "  mock:",
        f"    base_url: http://127.0.0.1:{mock_port}/v1",
        "    api_key: sk-mock",
        "  slowmock:",
        f"    base_url: http://127.0.0.1:{slow_port}/v1",
        "    api_key: sk-mock",
        "models:",
        f"  - model: {MODEL}",
        "    provider: mock",
        f"  - model: {SLOW_MODEL}",
        "    provider: slowmock",
        f"    downstream_model: {MODEL}",
    ]
    return "\n".join(lines) + "\n"


def litellm_config(mock_port: int, slow_port: int) -> str:
    """LiteLLM proxy: the same mocks through its ``openai/`` provider. ``use_chat_completions_api``
    makes ``/v1/responses`` go over the mock's Chat Completions (the openai provider would
    otherwise call the upstream's own ``/v1/responses``, which the mock does not serve)."""
    entries = []
    for name, port in ((MODEL, mock_port), (SLOW_MODEL, slow_port)):
        entries += [
            f"  - model_name: {name}",
            "    litellm_params:",
            f"      model: openai/{MODEL}",
            f"      api_base: http://127.0.0.1:{port}/v1",
            "      api_key: sk-mock",
            "      use_chat_completions_api: true",
        ]
    return (
        "model_list:\n"
        + "\n".join(entries)
        + "\nlitellm_settings:\n  telemetry: false\n  drop_params: true\n"
        + "  turn_off_message_logging: true\n"
        + "general_settings:\n  disable_spend_logs: true\n"
    )


LITELLM_ENV = {
    # no master key: LiteLLM's auth is off, as the bare gateway's is
    "LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY": "true",
    "LITELLM_TELEMETRY": "False",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no download of the price map at start-up
    "LITELLM_LOG": "ERROR",
    "DISABLE_ADMIN_UI": "True",
    "NO_DOCS": "True",
    "HF_HUB_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "DO_NOT_TRACK": "1",
}
