"""The ``chatgpt:`` provider section and how the ChatGPT upstream builds its request body."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from wirebridge.auth.chatgpt import CODEX_CLIENT_ID, default_auth_file
from wirebridge.config import ConfigError, load_config
from wirebridge.errors import Untranslatable
from wirebridge.hub.request import HubRequest
from wirebridge.upstreams.codex import DEFAULT_BASE_URL, DEFAULT_SETTINGS, ChatGPTSettings
from wirebridge.upstreams.codex.adapter import (
    REFUSED_PARAMS,
    build_body,
    inject_instructions,
    session_id,
)


def load(tmp_path: Path, section: str, api: str = "chatgpt") -> ChatGPTSettings:
    text = textwrap.dedent(
        f"""\
        providers:
          sub:
            api: {api}
        """
    ) + textwrap.indent(textwrap.dedent(section), "    ")
    path = tmp_path / "config.yaml"
    path.write_text(text + "models:\n  - {model: m, provider: sub}\n")
    cfg = load_config(path, env={})
    settings = cfg.providers["sub"].sections.get("chatgpt", DEFAULT_SETTINGS)
    assert isinstance(settings, ChatGPTSettings)
    return settings


def test_defaults_without_a_section(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("models:\n  - {model: m, provider: {api: chatgpt}}\n")
    provider = load_config(path, env={}).providers["m"]
    assert provider.base_url == DEFAULT_BASE_URL == "https://chatgpt.com/backend-api/codex"
    assert provider.sections == {}
    d = DEFAULT_SETTINGS
    assert d.auth_path == default_auth_file()
    assert d.token_endpoint == "https://auth.openai.com/oauth/token"
    assert d.authorize_endpoint == "https://auth.openai.com/oauth/authorize"
    assert (d.client_id, d.instructions_mode, d.params) == (CODEX_CLIENT_ID, "append", "propagate")
    assert d.refresh_margin_seconds == 300


def test_every_key(tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "base.md").write_text("Base prompt.")
    s = load(
        tmp_path,
        """\
        chatgpt:
          auth_file: creds/auth.json
          issuer: http://127.0.0.1:9/
          token_url: http://127.0.0.1:9/token?x=1
          authorize_url: http://127.0.0.1:9/authorize
          client_id: " app_custom "
          refresh_margin_seconds: 0
          instructions_mode: OVERRIDE
          instructions_file: prompts/base.md
          params: block
        """,
    )
    assert s.auth_path == tmp_path / "creds" / "auth.json"  # relative to the config file
    assert s.issuer == "http://127.0.0.1:9"
    assert s.token_endpoint == "http://127.0.0.1:9/token?x=1"
    assert s.authorize_endpoint == "http://127.0.0.1:9/authorize"
    assert s.client_id == "app_custom"
    assert s.refresh_margin_seconds == 0
    assert (s.instructions_mode, s.instructions, s.params) == ("override", "Base prompt.", "block")


def test_issuer_decides_the_default_endpoints(tmp_path: Path) -> None:
    s = load(tmp_path, "chatgpt: {issuer: 'http://127.0.0.1:9'}\n")
    assert s.token_endpoint == "http://127.0.0.1:9/oauth/token"
    assert s.authorize_endpoint == "http://127.0.0.1:9/oauth/authorize"


def test_home_in_auth_file_is_expanded(tmp_path: Path) -> None:
    s = load(tmp_path, "chatgpt: {auth_file: ~/x/auth.json}\n")
    assert s.auth_path == Path.home() / "x" / "auth.json"


@pytest.mark.parametrize(
    ("section", "where", "says"),
    [
        ("chatgpt: {colour: red}\n", "providers.sub.chatgpt", "unknown key 'colour'"),
        ("chatgpt: {params: maybe}\n", "providers.sub.chatgpt.params", "propagate, block"),
        ("chatgpt: {instructions_mode: x}\n", "chatgpt.instructions_mode", "override, append"),
        ("chatgpt: {instructions_mode: override}\n", "instructions_mode", "needs the text"),
        ("chatgpt: {instructions: a, instructions_file: b}\n", "instructions_file", "not both"),
        ("chatgpt: {instructions_file: missing.md}\n", "instructions_file", "cannot read"),
        ("chatgpt: {token_url: ftp://x}\n", "chatgpt.token_url", "http:// or https://"),
        ("chatgpt: {refresh_margin_seconds: -1}\n", "refresh_margin_seconds", "positive"),
        ("chatgpt: [1]\n", "providers.sub.chatgpt", "must be a mapping"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, section: str, where: str, says: str) -> None:
    with pytest.raises(ConfigError) as e:
        load(tmp_path, section)
    assert where in e.value.key_path
    assert says in e.value.message


def test_section_only_for_chatgpt_providers(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="only for providers with api: chatgpt"):
        load(tmp_path, "base_url: http://127.0.0.1:1/v1\nchatgpt: {params: block}\n", api="chat")


# -- the request body --------------------------------------------------------------------------


def req(**kw: object) -> HubRequest:
    base: dict[str, object] = {"model": "m", "input": [{"role": "user", "content": "hi"}]}
    return HubRequest(**{**base, **kw})  # type: ignore[arg-type]


def test_body_is_streamed_stateless_and_without_refused_params() -> None:
    r = req(
        temperature=0.1,
        top_p=0.5,
        max_output_tokens=9,
        metadata={"a": "b"},
        user="u",
        service_tier="flex",
        store=True,
        previous_response_id="resp_1",
        stream=False,
        prompt_cache_key="pck",
    )
    body = build_body(r, "gpt-x", DEFAULT_SETTINGS, "sub")
    assert body["model"] == "gpt-x"
    assert body["stream"] is True and body["store"] is False
    assert not set(REFUSED_PARAMS) & set(body)
    assert "previous_response_id" not in body
    assert body["prompt_cache_key"] == "pck"


def test_blocked_params_are_named_in_a_400() -> None:
    settings = ChatGPTSettings(params="block")
    with pytest.raises(Untranslatable) as e:
        build_body(req(temperature=0.1, user="u"), "gpt-x", settings, "sub")
    assert e.value.http_status == 400
    assert "temperature, user" in e.value.message and e.value.param == "temperature"
    build_body(req(), "gpt-x", settings, "sub")  # nothing refused: fine


@pytest.mark.parametrize(
    ("mode", "text", "client", "instructions", "developer"),
    [
        ("override", "BASE", "CLIENT", "BASE", "CLIENT"),
        ("override", "BASE", None, "BASE", None),
        ("append", "BASE", "CLIENT", "BASE\n\nCLIENT", None),
        ("append", "BASE", "  ", "BASE", None),
        ("append", None, "CLIENT", "CLIENT", None),
        ("disabled", "BASE", "CLIENT", "CLIENT", None),
        ("disabled", "BASE", None, None, None),
    ],
)
def test_instruction_modes(
    mode: str, text: str | None, client: str | None, instructions: str | None, developer: str | None
) -> None:
    body: dict[str, object] = {"input": [{"role": "user", "content": "hi"}]}
    if client is not None:
        body["instructions"] = client
    inject_instructions(body, ChatGPTSettings(instructions_mode=mode, instructions=text))
    assert body.get("instructions") == instructions
    items = body["input"]
    assert isinstance(items, list)
    if developer is None:
        assert items == [{"role": "user", "content": "hi"}]
    else:
        assert items[0] == {
            "type": "message",
            "role": "developer",
            "content": [{"type": "input_text", "text": developer}],
        }
        assert items[1:] == [{"role": "user", "content": "hi"}]


def test_session_id_sources() -> None:
    assert session_id(req(prompt_cache_key="pck")) == "pck"
    meta = {"client_metadata": {"session_id": "from-meta"}}
    assert session_id(req(extra=meta)) == "from-meta"
    a, b = session_id(req()), session_id(req())
    assert a != b and len(a) == 36
