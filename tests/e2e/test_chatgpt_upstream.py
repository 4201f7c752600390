"""The ChatGPT / Codex subscription upstream (``api: chatgpt``) end to end, all on loopback.

A gateway process whose provider speaks ``api: chatgpt`` with every endpoint (backend, token
endpoint, issuer) at ``FakeChatGPT``: the OpenAI SDK through it (JSON and streamed), tokens
refreshed near expiry and after a 401, the backend's quirks (stream, store, refused parameters,
instructions), ``wirebridge login chatgpt`` as a subprocess completing the PKCE flow with this
test playing the browser, and the real Codex CLI through the gateway to the fake backend.
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.conftest import GatewayFactory
from tests.e2e.codex_harness import run_codex
from tests.support.fake_chatgpt import CodexReply, FakeChatGPT
from tests.support.gateway import Gateway

MODEL = "gpt-5.5"
UPSTREAM_MODEL = "gpt-5.5-codex"


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeChatGPT]:
    server = FakeChatGPT().start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def fake(fake_server: FakeChatGPT) -> Iterator[FakeChatGPT]:
    fake_server.reset()
    yield fake_server
    fake_server.reset()


def chatgpt_config(fake: FakeChatGPT, auth_file: Path, **section: Any) -> dict[str, Any]:
    return {
        "server": {"request_timeout": 30},
        "providers": {
            "chatgpt": {
                "api": "chatgpt",
                "base_url": fake.backend_url,
                "chatgpt": {
                    "auth_file": str(auth_file),
                    "issuer": fake.issuer,
                    "token_url": fake.token_url,
                    **section,
                },
            }
        },
        "models": [{"model": MODEL, "provider": "chatgpt", "downstream_model": UPSTREAM_MODEL}],
    }


@pytest.fixture
def start(
    fake: FakeChatGPT, start_gateway: GatewayFactory, tmp_path: Path
) -> Callable[..., tuple[Gateway, Path]]:
    """``start(ttl=3600, **section)``: an auth.json with tokens living ``ttl`` seconds and a
    gateway using it; returns ``(gateway, auth_file)``."""

    def make(ttl: float = 3600, **section: Any) -> tuple[Gateway, Path]:
        auth = tmp_path / f"codex{len(start_gateway.gateways)}" / "auth.json"
        fake.write_auth_file(auth, ttl=ttl)
        return start_gateway(chatgpt_config(fake, auth, **section)), auth

    return make


def client(gw: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url("/v1"), api_key="sk-client", max_retries=0, timeout=30)


def tokens_in(auth: Path) -> dict[str, Any]:
    tokens: dict[str, Any] = json.loads(auth.read_text())["tokens"]
    return tokens


# -- requests ----------------------------------------------------------------------------------


def test_json_request_reaches_the_backend_as_codex_would_send_it(
    fake: FakeChatGPT, start: Callable[..., tuple[Gateway, Path]]
) -> None:
    gw, auth = start()
    fake.script(CodexReply.message("Hello from ChatGPT.", chunk_size=4))
    with client(gw) as c:
        resp = c.responses.create(model=MODEL, input="Say hello.", instructions="Be brief.")
    assert resp.status == "completed"
    assert resp.output_text == "Hello from ChatGPT."
    assert resp.model == MODEL
    assert resp.usage is not None and resp.usage.total_tokens == 30
    (req,) = fake.backend_requests
    assert req.status == 200
    h = req.headers
    assert h["authorization"] == f"Bearer {tokens_in(auth)['access_token']}"
    assert h["chatgpt-account-id"] == fake.account_id
    assert h["openai-beta"] == "responses=experimental"
    assert h["originator"] == "codex_cli_rs"
    assert h["session_id"]
    assert h["accept"] == "text/event-stream"
    body = req.body
    assert body["model"] == UPSTREAM_MODEL
    assert body["stream"] is True and body["store"] is False  # whatever the client asked
    assert body["instructions"] == "Be brief."  # append mode without configured text
    assert "previous_response_id" not in body
    assert body["input"][-1]["content"] in (
        "Say hello.",
        [{"type": "input_text", "text": "Say hello."}],
    )
    assert fake.refresh_calls == []


def test_streamed_request(fake: FakeChatGPT, start: Callable[..., tuple[Gateway, Path]]) -> None:
    gw, _ = start()
    fake.script(CodexReply.message("one two three", chunk_size=3))
    with client(gw) as c:
        stream = c.responses.create(model=MODEL, input="Count.", stream=True)
        events = list(stream)
    kinds = [e.type for e in events]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert "".join(deltas) == "one two three" and len(deltas) > 1
    assert events[-1].response.output_text == "one two three"
    ids = {e.response.id for e in events if hasattr(e, "response")}
    assert len(ids) == 1 and not ids.pop().startswith("resp_fake")  # the gateway's own id


def test_tool_call_turn_and_session_id_from_prompt_cache_key(
    fake: FakeChatGPT, start: Callable[..., tuple[Gateway, Path]]
) -> None:
    gw, _ = start()
    fake.script(CodexReply.tool_calls([("get_weather", '{"city":"Paris"}')]))
    tool = {
        "type": "function",
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
    with client(gw) as c:
        resp = c.responses.create(
            model=MODEL, input="Weather?", tools=[tool], prompt_cache_key="conv-123"
        )
    (call,) = [o for o in resp.output if o.type == "function_call"]
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris"}
    req = fake.backend_requests[0]
    assert req.headers["session_id"] == "conv-123"
    assert req.body["prompt_cache_key"] == "conv-123"
    assert req.body["tools"][0]["name"] == "get_weather"


def test_reasoning_is_sealed_for_the_client_and_unsealed_for_the_backend(
    fake: FakeChatGPT, start: Callable[..., tuple[Gateway, Path]]
) -> None:
    """store: false upstream: the next turn replays the reasoning item, whose blob the client
    only ever sees sealed by the gateway; the backend gets its own blob and item id back."""
    gw, _ = start()
    fake.script(CodexReply.message("4", reasoning="adding"), CodexReply.message("8"))
    with client(gw) as c:
        first = c.responses.create(
            model=MODEL,
            input="2+2?",
            reasoning={"effort": "low", "summary": "auto"},
            include=["reasoning.encrypted_content"],
            store=False,
        )
        (rs,) = [o for o in first.output if o.type == "reasoning"]
        assert rs.summary[0].text == "adding"
        assert rs.encrypted_content and not rs.encrypted_content.startswith("enc_")
        history = [o.model_dump(exclude_none=True) for o in first.output]
        second = c.responses.create(
            model=MODEL,
            input=[*history, {"role": "user", "content": "times two?"}],  # type: ignore[list-item]
            reasoning={"effort": "low"},
            store=False,
        )
    assert second.output_text == "8"
    replayed = [i for i in fake.backend_requests[1].body["input"] if i.get("type") == "reasoning"]
    original = fake.backend_requests[0]
    assert original.body["include"] == ["reasoning.encrypted_content"]
    (item,) = replayed
    assert item["encrypted_content"] == f"enc_{item['id']}"  # the backend's own blob and id


# -- tokens ------------------------------------------------------------------------------------


def test_token_near_expiry_is_refreshed_before_the_request(
    fake: FakeChatGPT, start: Callable[..., tuple[Gateway, Path]]
) -> None:
    gw, auth = start(ttl=60)  # inside the default 300 s margin
    old = tokens_in(auth)
    fake.script(CodexReply.message("fresh"), CodexReply.message("again"))
    with client(gw) as c:
        assert c.responses.create(model=MODEL, input="hi").output_text == "fresh"
        assert c.responses.create(model=MODEL, input="hi").output_text == "again"
    assert len(fake.refresh_calls) == 1  # the second request uses the refreshed token
    new = tokens_in(auth)
    assert new["access_token"] != old["access_token"]
    assert new["refresh_token"] != old["refresh_token"]
    assert stat.S_IMODE(auth.stat().st_mode) == 0o600
    assert [r.headers["authorization"] for r in fake.backend_requests] == [
        f"Bearer {new['access_token']}"
    ] * 2
    assert "refreshed the ChatGPT access token" in gw.log_text()


def test_refresh_margin_is_configurable(
    fake: FakeChatGPT, start: Callable[..., tuple[Gateway, Path]]
) -> None:
    gw, _ = start(ttl=60, refresh_margin_seconds=10)
    fake.script(CodexReply.message("no refresh needed"))
    with client(gw) as c:
        c.responses.create(model=MODEL, input="hi")
    assert fake.refresh_calls == []


def test_a_401_refreshes_once_and_retries(
    fake: FakeChatGPT, start: Callable[..., tuple[Gateway, Path]]
) -> None:
    gw, auth = start()
    first = tokens_in(auth)["access_token"]
    fake.revoke(first)  # not expired by its exp, but the backend refuses it
    fake.script(CodexReply.message("after refresh"))
    with client(gw) as c:
        resp = c.responses.create(model=MODEL, input="hi")
    assert resp.output_text == "after refresh"
    assert [r.status for r in fake.backend_requests] == [401, 200]
    assert fake.backend_requests[0].headers["authorization"] == f"Bearer {first}"
    second = tokens_in(auth)["access_token"]
    assert second != first
    assert fake.backend_requests[1].headers["authorization"] == f"Bearer {second}"
    assert len(fake.refresh_calls) == 1


def test_concurrent_401s_share_one_refresh(
    fake: FakeChatGPT, start: Callable[..., tuple[Gateway, Path]]
) -> None:
    import concurrent.futures

    gw, auth = start()
    fake.revoke(tokens_in(auth)["access_token"])
    fake.refresh_delay = 0.5
    n = 6
    fake.script(*(CodexReply.message(f"r{i}") for i in range(n)))
    with client(gw) as c, concurrent.futures.ThreadPoolExecutor(n) as pool:
        futures = [pool.submit(c.responses.create, model=MODEL, input="hi") for _ in range(n)]
        texts = sorted(f.result().output_text for f in futures)
    assert texts == sorted(f"r{i}" for i in range(n))
    assert len(fake.refresh_calls) == 1


def test_a_second_401_is_an_error_after_one_refresh(
    fake: FakeChatGPT, start: Callable[..., tuple[Gateway, Path]]
) -> None:
    gw, _ = start()
    fake.refuse_all_tokens = True  # the refreshed token is refused too
    with client(gw) as c, pytest.raises(openai.APIStatusError) as e:
        c.responses.create(model=MODEL, input="hi")
    assert e.value.status_code == 502
    assert "wirebridge login chatgpt" in str(e.value)
    assert [r.status for r in fake.backend_requests] == [401, 401]
    assert len(fake.refresh_calls) == 1


def test_a_used_up_refresh_token_asks_for_a_new_login(
    fake: FakeChatGPT, start: Callable[..., tuple[Gateway, Path]]
) -> None:
    gw, _ = start(ttl=-60)  # expired: nothing to fall back on
    fake.fail_refresh(401, "refresh_token_reused")
    with client(gw) as c, pytest.raises(openai.APIStatusError) as e:
        c.responses.create(model=MODEL, input="hi")
    assert e.value.status_code == 502
    body = e.value.response.json()["error"]
    assert body["code"] == "chatgpt_login_required"
    assert "already used" in body["message"] and "wirebridge login chatgpt" in body["message"]
    assert fake.backend_requests == []


def test_missing_auth_file_is_a_clear_error(
    fake: FakeChatGPT, start_gateway: GatewayFactory, tmp_path: Path
) -> None:
    gw = start_gateway(chatgpt_config(fake, tmp_path / "nowhere" / "auth.json"))
    with client(gw) as c, pytest.raises(openai.APIStatusError) as e:
        c.responses.create(model=MODEL, input="hi")
    assert e.value.status_code == 502
    assert "No ChatGPT sign-in" in str(e.value) and "wirebridge login chatgpt" in str(e.value)


# -- the backend's rules -----------------------------------------------------------------------


def test_refused_parameters_are_dropped_by_default(
    fake: FakeChatGPT, start: Callable[..., tuple[Gateway, Path]]
) -> None:
    gw, _ = start()
    fake.script(CodexReply.message("ok"))
    with client(gw) as c:
        resp = c.responses.create(
            model=MODEL,
            input="hi",
            temperature=0.2,
            top_p=0.9,
            max_output_tokens=500,
            metadata={"k": "v"},
            user="someone",
        )
    assert resp.output_text == "ok"
    body = fake.backend_requests[0].body
    for name in ("temperature", "top_p", "max_output_tokens", "metadata", "user"):
        assert name not in body
    assert resp.temperature == 0.2  # the client's own request is still echoed to it


def test_refused_parameters_are_a_400_when_blocked(
    fake: FakeChatGPT, start: Callable[..., tuple[Gateway, Path]]
) -> None:
    gw, _ = start(params="block")
    with client(gw) as c, pytest.raises(openai.BadRequestError) as e:
        c.responses.create(model=MODEL, input="hi", temperature=0.2, max_output_tokens=50)
    message = e.value.response.json()["error"]["message"]
    assert "temperature" in message and "max_output_tokens" in message
    assert fake.backend_requests == []


def test_instructions_override_keeps_the_clients_as_a_developer_message(
    fake: FakeChatGPT, start: Callable[..., tuple[Gateway, Path]], tmp_path: Path
) -> None:
    prompt = tmp_path / "codex_prompt.md"
    prompt.write_text("You are Codex, based on GPT-5.\n")
    gw, _ = start(instructions_mode="override", instructions_file=str(prompt))
    fake.script(CodexReply.message("ok"))
    with client(gw) as c:
        c.responses.create(model=MODEL, input="hi", instructions="Answer in French.")
    body = fake.backend_requests[0].body
    assert body["instructions"] == "You are Codex, based on GPT-5.\n"
    first = body["input"][0]
    assert first["role"] == "developer"
    assert first["content"] == [{"type": "input_text", "text": "Answer in French."}]


def test_instructions_append(fake: FakeChatGPT, start: Callable[..., tuple[Gateway, Path]]) -> None:
    gw, _ = start(instructions_mode="append", instructions="Base text.")
    fake.script(CodexReply.message("ok"), CodexReply.message("ok"))
    with client(gw) as c:
        c.responses.create(model=MODEL, input="hi", instructions="Client text.")
        c.responses.create(model=MODEL, input="hi")
    first, second = (r.body for r in fake.backend_requests)
    assert first["instructions"] == "Base text.\n\nClient text."
    assert second["instructions"] == "Base text."


def test_instructions_disabled(
    fake: FakeChatGPT, start: Callable[..., tuple[Gateway, Path]]
) -> None:
    gw, _ = start(instructions_mode="disabled", instructions="Never sent.")
    fake.script(CodexReply.message("ok"))
    with client(gw) as c:
        c.responses.create(model=MODEL, input="hi", instructions="Client text.")
    assert fake.backend_requests[0].body["instructions"] == "Client text."


def test_chat_completions_client_through_the_chatgpt_upstream(
    fake: FakeChatGPT, start: Callable[..., tuple[Gateway, Path]]
) -> None:
    gw, _ = start()
    fake.script(CodexReply.message("Bonjour"))
    with client(gw) as c:
        done = c.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "hi"}],
            max_tokens=20,
            temperature=0.5,
        )
    assert done.choices[0].message.content == "Bonjour"
    body = fake.backend_requests[0].body
    assert body["stream"] is True and "max_output_tokens" not in body


# -- wirebridge login chatgpt ------------------------------------------------------------------


def login_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "wirebridge", "login", "chatgpt", "--no-browser", *args]


def _no_proxy_opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def test_login_subprocess_completes_pkce_and_the_file_works(
    fake: FakeChatGPT, start_gateway: GatewayFactory, tmp_path: Path
) -> None:
    auth = tmp_path / "home" / ".codex" / "auth.json"
    cmd = login_cmd(
        "--auth-file", str(auth), "--issuer", fake.issuer, "--port", "0", "--timeout", "30"
    )
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path
    )
    try:
        assert proc.stdout is not None
        url = None
        deadline = time.monotonic() + 20
        seen = []
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            if line.strip().startswith(fake.issuer + "/oauth/authorize?"):
                url = line.strip()
        assert url is not None, "no sign-in URL printed:\n" + "".join(seen)
        # the browser: the issuer signs the user in and redirects to the local callback
        with _no_proxy_opener().open(url, timeout=20) as page:
            assert page.status == 200
            assert page.geturl().startswith("http://localhost:")
            assert "Signed in" in page.read().decode()
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "Signed in" in out and str(auth) in out
    assert stat.S_IMODE(auth.stat().st_mode) == 0o600
    data = json.loads(auth.read_text())
    assert data["OPENAI_API_KEY"] is None
    assert data["tokens"]["account_id"] == fake.account_id
    assert len(fake.code_exchanges) == 1
    (authorize,) = fake.authorize_requests[-1:]
    assert authorize["code_challenge_method"] == "S256"

    gw = start_gateway(chatgpt_config(fake, auth))
    fake.script(CodexReply.message("signed in and working"))
    with client(gw) as c:
        assert c.responses.create(model=MODEL, input="hi").output_text == "signed in and working"
    assert fake.backend_requests[0].headers["authorization"] == (
        f"Bearer {data['tokens']['access_token']}"
    )


def test_login_reads_the_provider_section_of_a_config(fake: FakeChatGPT, tmp_path: Path) -> None:
    import yaml

    auth = tmp_path / "from-config.json"
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(chatgpt_config(fake, auth, client_id="app_other")))
    proc = subprocess.run(
        login_cmd("--config", str(config), "--port", "0", "--timeout", "0.5"),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 1  # nobody opened the URL
    assert "No sign-in arrived" in proc.stderr
    url = next(line.strip() for line in proc.stdout.splitlines() if "/oauth/authorize?" in line)
    assert url.startswith(fake.issuer + "/oauth/authorize?") and "client_id=app_other" in url


# -- the real Codex CLI ------------------------------------------------------------------------


@pytest.mark.e2e
def test_codex_cli_through_the_gateway_to_the_chatgpt_backend(
    fake: FakeChatGPT, start: Callable[..., tuple[Gateway, Path]], tmp_path: Path
) -> None:
    gw, auth = start(ttl=120)  # refreshed on the way
    fake.script(CodexReply.message("Hello from the fake ChatGPT backend.", chunk_size=7))
    result = run_codex("Say hello.", base_url=gw.url("/v1"), tmp_path=tmp_path, model=MODEL)
    assert result.ok, result.describe() + "\n" + gw.log_text()
    assert result.last_message is not None
    assert result.last_message.strip() == "Hello from the fake ChatGPT backend."
    (req,) = fake.backend_requests
    assert req.status == 200
    assert req.headers["authorization"] == f"Bearer {tokens_in(auth)['access_token']}"
    assert req.headers["chatgpt-account-id"] == fake.account_id
    body = req.body
    assert body["model"] == UPSTREAM_MODEL and body["stream"] is True and body["store"] is False
    assert req.headers["session_id"] == body["prompt_cache_key"]  # Codex's conversation id
    assert body["include"] == ["reasoning.encrypted_content"]
    assert "client_metadata" in body  # Codex's own fields pass through
    assert len(fake.refresh_calls) == 1
