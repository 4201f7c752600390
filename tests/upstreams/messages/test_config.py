"""The ``anthropic:`` provider section, the default base URL, and the headers a call sends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import wirebridge.upstreams.registry  # noqa: F401  (registers the upstream kinds and sections)
from wirebridge.config.errors import ConfigError, Where
from wirebridge.config.load import config_from_tree
from wirebridge.engine.routing import Router
from wirebridge.hub.request import HubRequest
from wirebridge.transport.client import HttpClient
from wirebridge.upstreams.messages import AnthropicSettings
from wirebridge.upstreams.messages.adapter import MessagesCall
from wirebridge.upstreams.registry import ADAPTERS, CallContext


def load(provider: dict[str, Any], tmp_path: Path) -> Any:
    tree = {
        "providers": {"claude": {"api": "messages", "api_key": "sk-ant-x", **provider}},
        "models": [{"model": "c", "provider": "claude", "downstream_model": "claude-x"}],
    }
    return config_from_tree(tree, Where("test.yaml"), base_dir=tmp_path, source="test")


def test_registered_for_api_messages() -> None:
    assert ADAPTERS["messages"] == MessagesCall.create


def test_base_url_defaults_to_anthropic(tmp_path: Path) -> None:
    assert load({}, tmp_path).providers["claude"].base_url == "https://api.anthropic.com/v1"


def test_section_parsed(tmp_path: Path) -> None:
    section = {"betas": ["a-2025", "b-2025"], "max_tokens": 4000, "thinking": "adaptive"}
    cfg = load({"anthropic": section}, tmp_path)
    assert cfg.providers["claude"].sections["anthropic"] == AnthropicSettings(
        betas=("a-2025", "b-2025"), max_tokens=4000, thinking="adaptive"
    )


def test_betas_as_one_string(tmp_path: Path) -> None:
    cfg = load({"anthropic": {"betas": "a-2025, b-2025"}}, tmp_path)
    assert cfg.providers["claude"].sections["anthropic"].betas == ("a-2025", "b-2025")


@pytest.mark.parametrize(
    ("section", "where"),
    [
        ({"thinking": "always"}, "providers.claude.anthropic.thinking"),
        ({"max_tokens": 0}, "providers.claude.anthropic.max_tokens"),
        ({"betas": 3}, "providers.claude.anthropic.betas"),
        ({"beta": ["x"]}, "providers.claude.anthropic.beta"),
    ],
    ids=["bad_thinking_mode", "max_tokens_zero", "betas_not_a_list", "unknown_key"],
)
def test_section_errors(section: dict[str, Any], where: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load({"anthropic": section}, tmp_path)
    assert info.value.key_path == where


def test_section_only_for_api_messages(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load({"api": "chat", "base_url": "http://x.test/v1", "anthropic": {}}, tmp_path)
    assert "messages" in info.value.message


def _headers(
    provider: dict[str, Any], tmp_path: Path, stream: bool = True, req: HubRequest | None = None
) -> dict[str, str]:
    route = Router(load(provider, tmp_path)).resolve("c")
    ctx = CallContext(
        client=HttpClient(),
        session=None,  # type: ignore[arg-type]  # headers need no session
        seal=lambda data: "",
        open_blob=lambda blob: None,
        reasoning_as="summary",
        timeout=5,
        services={},
    )
    call = MessagesCall(req or HubRequest(model="c", input=[]), route, stream, ctx)
    return call.headers()


def test_headers(tmp_path: Path) -> None:
    h = _headers({"anthropic": {"betas": ["x-2025", "y-2025"]}}, tmp_path)
    assert h["x-api-key"] == "sk-ant-x"
    assert h["anthropic-version"] == "2023-06-01"
    assert h["anthropic-beta"] == "x-2025,y-2025"
    assert h["Accept"] == "text/event-stream"
    assert "Authorization" not in h


def test_provider_headers_win(tmp_path: Path) -> None:
    h = _headers({"headers": {"anthropic-beta": "z-2025", "Authorization": "Bearer t"}}, tmp_path)
    assert h["anthropic-beta"] == "z-2025"
    assert h["Authorization"] == "Bearer t"


def test_no_beta_header_unless_configured(tmp_path: Path) -> None:
    h = _headers({}, tmp_path, stream=False)
    assert "anthropic-beta" not in h and "Accept" not in h


def test_messages_client_betas_follow_the_configured_ones(tmp_path: Path) -> None:
    extra = {"_anthropic_beta": "b-2025, context-management-2025-06-27", "top_k": 3}
    req = HubRequest(model="c", input=[], source="messages", extra=extra)
    h = _headers({"anthropic": {"betas": ["a-2025", "b-2025"]}}, tmp_path, req=req)
    assert h["anthropic-beta"] == "a-2025,b-2025,context-management-2025-06-27"
    other = HubRequest(model="c", input=[], source="responses", extra=extra)
    assert "anthropic-beta" not in _headers({}, tmp_path, req=other)
