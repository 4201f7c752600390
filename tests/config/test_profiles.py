"""Provider profiles defined in the config file: a new host's quirks are a config row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.support.fake_chat import FakeChat, Reply
from wirebridge.config import ConfigError, load_config

CONFIG = """
profiles:
  myhost:
    base: deepseek
    reasoning_request: reasoning_object
    params: [temperature]
    stream_usage: false
providers:
  mine: {base_url: "http://127.0.0.1:9/v1", profile: myhost}
"""


def load(tmp_path: Path, text: str) -> Any:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return load_config(path, env={})


def test_a_profile_row_starts_from_its_base(tmp_path: Path) -> None:
    profile = load(tmp_path, CONFIG).profiles["myhost"]
    assert profile.family == "myhost"
    assert profile.reasoning_request == "reasoning_object"
    assert profile.replay_reasoning is True  # from deepseek
    assert profile.params == frozenset({"temperature"})
    assert profile.stream_usage is False


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("providers: {p: {base_url: 'http://h', profile: nope}}", "providers.p.profile"),
        ("profiles: {x: {base: nope}}", "profiles.x.base"),
        ("profiles: {x: {params: [tempreature]}}", "profiles.x.params"),
        ("profiles: {x: {reasoning_request: psychic}}", "profiles.x.reasoning_request"),
        ("profiles: {x: {stream_usage: maybe}}", "profiles.x.stream_usage"),
        ("profiles: {x: {colour: blue}}", "profiles.x.colour"),
    ],
)
def test_mistakes_name_the_key(tmp_path: Path, text: str, where: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load(tmp_path, text)
    assert exc.value.key_path == where


def test_the_gateway_follows_a_config_profile(fake_chat: FakeChat, start_gateway: Any) -> None:
    gw = start_gateway(
        {
            "profiles": {
                "myhost": {
                    "reasoning_request": "reasoning_object",
                    "stream_usage": False,
                    "params": ["temperature"],
                }
            },
            "providers": {
                "mine": {"base_url": fake_chat.base_url, "profile": "myhost", "retries": 0}
            },
            "models": [{"model": "m", "provider": "mine", "downstream_model": "up"}],
        }
    )
    fake_chat.script(Reply.text("ok"))
    body = {
        "model": "m",
        "input": "hi",
        "stream": True,
        "temperature": 0.5,
        "seed": 7,
        "reasoning": {"effort": "high"},
    }
    r = httpx2.post(gw.url("/v1/responses"), json=body, timeout=30)
    assert r.status_code == 200
    sent = fake_chat.last.body
    assert sent["reasoning"] == {"effort": "high"}
    assert "stream_options" not in sent and "seed" not in sent
    assert sent["temperature"] == 0.5
