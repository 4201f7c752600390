"""The gateway over a native Responses upstream (``api: responses``) and Azure OpenAI.

One gateway process serves the module, over ``FakeResponses`` (OpenAI's ``/v1/responses`` and
Azure's routes) and, for DeepSeek-style reasoning, the conftest's ``FakeChat``. Clients are the
official openai SDK (Responses and Chat Completions) and the real Codex CLI. Every JSON body and
stream event the gateway sends a Responses client is validated against the schema and the
stream checked for order.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
from openai._models import construct_type
from openai.types.responses import Response

from tests.e2e.codex_harness import CodexResult, run_codex
from tests.support.fake_chat import FakeChat
from tests.support.fake_chat import Reply as ChatReply
from tests.support.fake_responses import (
    FakeResponses,
    Reply,
    function_call,
    message,
    reasoning,
    responses_usage,
)
from tests.support.gateway import Gateway, RecordingTransport
from tests.support.validate import check_event_order, parse_sse, validate_event, validate_response

MODEL = "resp-model"
AZ_KEY = "az-secret"
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeResponses]:
    fake = FakeResponses().start()
    try:
        yield fake
    finally:
        fake.close()


@pytest.fixture
def fake(upstream: FakeResponses) -> Iterator[FakeResponses]:
    upstream.reset()
    upstream.azure_key = AZ_KEY
    upstream.azure_deployments = {"deploy-r", "deploy-c", "gpt-up"}
    yield upstream
    upstream.reset()


def config(fake: FakeResponses, fake_chat: FakeChat) -> dict[str, Any]:
    root = fake.root_url
    return {
        "server": {"request_timeout": 30},
        "providers": {
            "oai": {"api": "responses", "base_url": fake.base_url, "api_key": "sk-up"},
            "az": {
                "api": "responses",
                "base_url": root,
                "api_key": AZ_KEY,
                "azure": {"deployments": {"gpt-up": "deploy-r"}},
            },
            "azdated": {
                "api": "responses",
                "base_url": root + "/openai",
                "api_key": AZ_KEY,
                "azure": {"api_version": "2025-03-01-preview"},
            },
            "azchat": {
                "api": "chat",
                "base_url": root,
                "api_key": AZ_KEY,
                "profile": "openai",
                "azure": {"deployments": {"gpt-up": "deploy-c"}, "api_version": "2024-10-21"},
            },
            "ds": {"base_url": fake_chat.base_url, "api_key": "sk-ds", "profile": "deepseek"},
        },
        "models": [
            {"model": MODEL, "provider": "oai", "downstream_model": "gpt-up"},
            {"model": "gpt-5.5", "provider": "oai", "downstream_model": "gpt-up"},
            {"model": "az-resp", "provider": "az", "downstream_model": "gpt-up"},
            {"model": "az-dated", "provider": "azdated", "downstream_model": "gpt-up"},
            {"model": "az-chat", "provider": "azchat", "downstream_model": "gpt-up"},
            {"model": "ds-model", "provider": "ds", "downstream_model": "upstream-model"},
        ],
    }


@pytest.fixture(scope="module")
def gw(
    upstream: FakeResponses, fake_chat_server: FakeChat, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    gateway = Gateway.start(
        config(upstream, fake_chat_server), tmp_path_factory.mktemp("gw_responses")
    )
    try:
        yield gateway
    finally:
        gateway.stop()


@pytest.fixture
def client(gw: Gateway) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gw.url("/v1"), api_key="sk-client", max_retries=0, timeout=30) as c:
        yield c


# -- helpers -----------------------------------------------------------------------------------


def create(client: openai.OpenAI, **kw: Any) -> tuple[Any, dict[str, Any]]:
    kw.setdefault("model", MODEL)
    raw = client.responses.with_raw_response.create(**kw)
    body = raw.http_response.json()
    validate_response(body)
    return raw.parse(), body


def stream(gw: Gateway, **kw: Any) -> tuple[list[dict[str, Any]], Any]:
    """``responses.stream`` through the SDK; the raw events validated and order-checked."""
    kw.setdefault("model", MODEL)
    rec = RecordingTransport()
    http = httpx2.Client(transport=rec, timeout=30)
    with (
        openai.OpenAI(
            base_url=gw.url("/v1"), api_key="sk-client", max_retries=0, http_client=http
        ) as client,
        client.responses.stream(**kw) as s,
    ):
        sdk_types = [e.type for e in s]
    events, _ = parse_sse(bytes(rec.bodies[-1]))
    # (the SDK's get_final_response() knows only response.completed; build it as the SDK does)
    final = construct_type(type_=Response, value=events[-1]["response"])
    assert [e["type"] for e in events] == sdk_types
    for event in events:
        validate_event(event)
    check_event_order(events)
    return events, final


def sent(fake: FakeResponses, n: int = -1) -> dict[str, Any]:
    reqs = fake.responses_requests
    assert reqs, "the upstream received no Responses request"
    body = reqs[n].body
    assert isinstance(body, dict)
    return body


def dumped(items: list[Any]) -> list[dict[str, Any]]:
    return [i.model_dump(exclude_none=True) if hasattr(i, "model_dump") else i for i in items]


# -- basics ------------------------------------------------------------------------------------


def test_text_json(fake: FakeResponses, client: openai.OpenAI) -> None:
    fake.script(Reply.text("Hello from upstream", usage=responses_usage(11, 4)))
    resp, body = create(client, input="Say hi", instructions="Be brief.")
    assert resp.output_text == "Hello from upstream"
    assert resp.model == MODEL and resp.id.startswith("resp_")
    assert body["usage"]["input_tokens"] == 11 and body["usage"]["output_tokens"] == 4
    (req,) = fake.responses_requests
    assert req.path == "/v1/responses"
    assert req.headers["authorization"] == "Bearer sk-up"
    up = req.body
    assert up["model"] == "gpt-up"
    assert up["instructions"] == "Be brief."
    assert up["input"] == [{"type": "message", "role": "user", "content": "Say hi"}]
    assert up["store"] is False and up["stream"] is False
    assert "previous_response_id" not in up


def test_text_stream(gw: Gateway, fake: FakeResponses) -> None:
    fake.script(Reply.text("Streaming works.", "Plan the answer.", chunk_size=3))
    events, final = stream(gw, input="hi", reasoning={"effort": "low", "summary": "auto"})
    assert final.output_text == "Streaming works."
    deltas = [e["delta"] for e in events if e["type"] == "response.output_text.delta"]
    assert "".join(deltas) == "Streaming works." and len(deltas) > 1
    assert {e["response"]["id"] for e in events if "response" in e} == {final.id}
    up = sent(fake)
    assert up["stream"] is True
    assert up["include"] == ["reasoning.encrypted_content"]  # the gateway keeps reasoning
    rs = final.output[0]
    assert rs.type == "reasoning" and rs.encrypted_content.startswith("wb1.")


def test_unknown_request_fields_reach_the_upstream(
    fake: FakeResponses, client: openai.OpenAI
) -> None:
    fake.script(Reply.text("ok"))
    create(
        client,
        input="x",
        extra_body={"client_metadata": {"thread": "t1"}, "future_knob": {"level": 3}},
        text={"verbosity": "low"},
        prompt_cache_key="pck",
    )
    up = sent(fake)
    assert up["client_metadata"] == {"thread": "t1"}
    assert up["future_knob"] == {"level": 3}
    assert up["text"] == {"verbosity": "low"}
    assert up["prompt_cache_key"] == "pck"


@pytest.mark.parametrize("streamed", [False, True])
def test_tool_round_trip(gw: Gateway, fake: FakeResponses, streamed: bool) -> None:
    fake.script(
        Reply.tool_call("get_weather", '{"city": "Oslo"}', call_id="call_w1", chunk_size=4),
        Reply.text("Snowing in Oslo."),
    )
    ask = [{"role": "user", "content": "Weather in Oslo?"}]
    with openai.OpenAI(base_url=gw.url("/v1"), api_key="k", max_retries=0) as client:
        if streamed:
            _, first = stream(gw, input=ask, tools=[WEATHER], store=False)
        else:
            first = client.responses.create(
                model=MODEL,
                input=ask,  # type: ignore[arg-type]
                tools=[WEATHER],  # type: ignore[list-item]
                store=False,
            )
        (call,) = first.output
        assert (call.type, call.call_id, call.name) == ("function_call", "call_w1", "get_weather")
        assert json.loads(call.arguments) == {"city": "Oslo"}
        second = client.responses.create(
            model=MODEL,
            input=[  # type: ignore[arg-type]
                *ask,
                call.model_dump(exclude_none=True),
                {"type": "function_call_output", "call_id": "call_w1", "output": "snow"},
            ],
            tools=[WEATHER],  # type: ignore[list-item]
            store=False,
        )
    assert second.output_text == "Snowing in Oslo."
    first_up, second_up = sent(fake, 0), sent(fake, 1)
    assert first_up["tools"] == [WEATHER]
    kinds = [i["type"] for i in second_up["input"]]
    assert kinds == ["message", "function_call", "function_call_output"]
    assert second_up["input"][1]["call_id"] == "call_w1"
    assert second_up["input"][1]["id"] == call.id  # the upstream's item id came back
    assert second_up["input"][2]["output"] == "snow"


def deepseek_reasoning(client: openai.OpenAI, fake_chat: FakeChat) -> dict[str, Any]:
    """A reasoning item the gateway sealed for the DeepSeek family (from a chat upstream)."""
    fake_chat.script(ChatReply.text("hi", reasoning_content="deep secret thoughts"))
    resp = client.responses.create(model="ds-model", input="hi", store=False)
    rs = resp.output[0].model_dump(exclude_none=True)
    assert rs["type"] == "reasoning" and rs["encrypted_content"].startswith("wb1.")
    return rs


def test_reasoning_blob_replayed_intact_and_foreign_one_dropped(
    fake: FakeResponses, fake_chat: FakeChat, client: openai.OpenAI
) -> None:
    ds_item = deepseek_reasoning(client, fake_chat)
    fake.script(
        Reply.tool_call("get_weather", '{"city": "Rome"}', call_id="c1", reasoning_summary="plan"),
        Reply.text("Sunny."),
    )
    ask = {"role": "user", "content": "Rome?"}
    issued_before = set(fake.issued)
    first = client.responses.create(
        model=MODEL,
        input=[ask],  # type: ignore[list-item]
        tools=[WEATHER],  # type: ignore[list-item]
        reasoning={"effort": "medium"},
        store=False,
    )
    rs, call = first.output
    (issued_blob,) = fake.issued - issued_before
    assert rs.encrypted_content != issued_blob  # the client sees the gateway's seal
    assert issued_blob not in first.model_dump_json()
    replay = [
        ask,
        ds_item,
        rs.model_dump(exclude_none=True),
        call.model_dump(exclude_none=True),
        {"type": "function_call_output", "call_id": "c1", "output": "sun"},
    ]
    second = client.responses.create(
        model=MODEL,
        input=replay,  # type: ignore[arg-type]
        tools=[WEATHER],  # type: ignore[list-item]
        reasoning={"effort": "medium"},
        store=False,
    )
    assert second.output_text == "Sunny."
    up = sent(fake)
    reasoning_items = [i for i in up["input"] if i["type"] == "reasoning"]
    # only the upstream's own blob, exactly as it issued it, under its own item id
    (item,) = reasoning_items
    assert item["encrypted_content"] == issued_blob
    assert item["id"] == rs.id
    assert "deep secret thoughts" not in json.dumps(up)
    assert not any(k.startswith("_") for i in up["input"] for k in i)


def test_empty_output_completed_is_back_filled(gw: Gateway, fake: FakeResponses) -> None:
    fake.script(
        Reply.text("Back-filled.", chunk_size=4, stream_shape="empty_terminal"),
        Reply.text("Thin stream.", stream_shape="minimal"),
    )
    _, final = stream(gw, input="hi")
    assert final.output_text == "Back-filled."
    events, final = stream(gw, input="hi")
    assert final.output_text == "Thin stream."
    assert "response.output_text.delta" in [e["type"] for e in events]


def test_length_cut_is_incomplete(gw: Gateway, fake: FakeResponses, client: openai.OpenAI) -> None:
    fake.script(
        Reply.text("Once upon", status="incomplete", usage=responses_usage(5, 16)),
        Reply.text("Once upon", status="incomplete", chunk_size=2),
    )
    resp, body = create(client, input="story", max_output_tokens=16)
    assert resp.status == "incomplete"
    assert body["incomplete_details"] == {"reason": "max_output_tokens"}
    assert body["usage"]["output_tokens"] == 16
    assert sent(fake)["max_output_tokens"] == 16
    events, final = stream(gw, input="story", max_output_tokens=16)
    assert events[-1]["type"] == "response.incomplete"
    assert final.incomplete_details.reason == "max_output_tokens"


def test_rate_limit_keeps_status_and_retry_after(
    fake: FakeResponses, client: openai.OpenAI
) -> None:
    fake.script(Reply.error_reply(429, headers={"Retry-After": "30"}))
    with pytest.raises(openai.RateLimitError) as exc:
        client.responses.create(model=MODEL, input="x")
    assert exc.value.status_code == 429
    assert exc.value.response.headers["retry-after"] == "30"


def test_failed_stream_ends_with_response_failed(gw: Gateway, fake: FakeResponses) -> None:
    fake.script(Reply.text("partial", stream_error={"code": "server_error", "message": "boom"}))
    # (the SDK raises at the error event, as it should: read the raw stream)
    resp = httpx2.post(
        gw.url("/v1/responses"),
        json={"model": MODEL, "input": "x", "stream": True},
        headers={"Authorization": "Bearer k"},
        timeout=30,
    )
    events, _ = parse_sse(resp.content)
    for event in events:
        validate_event(event)
    final = check_event_order(events)
    assert [e["type"] for e in events[-2:]] == ["error", "response.failed"]
    assert events[-2]["message"] == "boom"
    assert final["error"] == {"code": "server_error", "message": "boom"}
    assert [o["type"] for o in final["output"]] == ["message"]  # what came before the failure


def test_previous_response_id_is_emulated_from_the_gateways_store(
    fake: FakeResponses, client: openai.OpenAI
) -> None:
    fake.script(Reply.text("Nice to meet you, Ada."), Reply.text("Your name is Ada."))
    one = client.responses.create(model=MODEL, input="I am Ada.")
    two = client.responses.create(model=MODEL, input="Who am I?", previous_response_id=one.id)
    assert two.output_text == "Your name is Ada."
    assert two.previous_response_id == one.id
    up = sent(fake)
    assert up["store"] is False and "previous_response_id" not in up  # the fake would refuse it
    texts = [
        i["content"] if isinstance(i["content"], str) else i["content"][0]["text"]
        for i in up["input"]
    ]
    assert texts == ["I am Ada.", "Nice to meet you, Ada.", "Who am I?"]
    assert up["input"][1]["role"] == "assistant"


# -- Azure -------------------------------------------------------------------------------------


def test_azure_v1_responses(fake: FakeResponses, client: openai.OpenAI) -> None:
    fake.script(Reply.text("from azure"))
    resp, _ = create(client, model="az-resp", input="hi")
    assert resp.output_text == "from azure"
    (req,) = fake.responses_requests
    assert req.path == "/openai/v1/responses" and req.query == {}
    assert req.headers["api-key"] == AZ_KEY and "authorization" not in req.headers
    assert req.body["model"] == "deploy-r"


def test_azure_dated_responses(gw: Gateway, fake: FakeResponses) -> None:
    fake.script(Reply.text("dated", chunk_size=2))
    _, final = stream(gw, model="az-dated", input="hi")
    assert final.output_text == "dated"
    (req,) = fake.responses_requests
    assert req.path == "/openai/responses"
    assert req.query == {"api-version": "2025-03-01-preview"}
    assert req.body["model"] == "gpt-up"  # no deployment mapped: the model is the deployment


def test_azure_chat_deployment(fake: FakeResponses, client: openai.OpenAI) -> None:
    fake.script(ChatReply.text("azure chat says hi"), ChatReply.text("again", chunk_size=3))
    resp, _ = create(client, model="az-chat", input="hi")
    assert resp.output_text == "azure chat says hi"
    chat = client.chat.completions.create(
        model="az-chat", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in chat if c.choices) == "again"
    for req in fake.chat_requests:
        assert req.path == "/openai/deployments/deploy-c/chat/completions"
        assert req.query == {"api-version": "2024-10-21"}
        assert req.headers["api-key"] == AZ_KEY and "authorization" not in req.headers
        assert req.body["model"] == "deploy-c"


def test_azure_wrong_key_is_a_gateway_error(fake: FakeResponses, client: openai.OpenAI) -> None:
    fake.azure_key = "another-key"
    with pytest.raises(openai.APIStatusError) as exc:
        client.responses.create(model="az-resp", input="hi")
    assert exc.value.status_code == 502  # the gateway's credentials, not the client's


# -- Chat Completions front door ---------------------------------------------------------------


def test_chat_front_door_over_responses_upstream(
    fake: FakeResponses, client: openai.OpenAI
) -> None:
    fake.script(
        Reply.tool_call("get_weather", '{"city": "Lima"}', call_id="call_c1"),
        Reply.text("Warm in Lima.", chunk_size=3),
    )
    tool = {"type": "function", "function": {k: v for k, v in WEATHER.items() if k != "type"}}
    messages: list[Any] = [{"role": "user", "content": "Lima?"}]
    first = client.chat.completions.create(
        model=MODEL,
        messages=messages,
        tools=[tool],  # type: ignore[list-item]
        extra_body={"chat_only_knob": 1},
    )
    (call,) = first.choices[0].message.tool_calls or []
    assert first.choices[0].finish_reason == "tool_calls"
    assert (call.id, call.function.name) == ("call_c1", "get_weather")
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": "call_c1", "content": "warm"},
    ]
    chunks = client.chat.completions.create(
        model=MODEL,
        messages=messages,
        tools=[tool],  # type: ignore[list-item]
        stream=True,
        stream_options={"include_usage": True},
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Warm in Lima."
    first_up, second_up = sent(fake, 0), sent(fake, 1)
    assert "chat_only_knob" not in first_up  # a chat client's extras are not Responses fields
    assert first_up["tools"][0]["name"] == "get_weather"
    assert [i["type"] for i in second_up["input"]] == [
        "message",
        "function_call",
        "function_call_output",
    ]
    assert second_up["input"][2] == {
        "type": "function_call_output",
        "call_id": "call_c1",
        "output": "warm",
    }


def test_chat_front_door_stop_is_refused(fake: FakeResponses, client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "x"}], stop=["\n"]
        )
    assert "stop" in str(exc.value)
    assert not fake.responses_requests


# -- the real Codex CLI ------------------------------------------------------------------------


def codex(gw: Gateway, tmp_path: Path, prompt: str) -> CodexResult:
    return run_codex(prompt, base_url=gw.url("/v1"), tmp_path=tmp_path, model="gpt-5.5")


def describe(fake: FakeResponses) -> str:
    lines = []
    for n, req in enumerate(fake.requests):
        body = req.body if isinstance(req.body, dict) else {}
        items = [
            {k: v for k, v in i.items() if k in ("type", "role", "call_id", "name")}
            for i in body.get("input") or []
            if isinstance(i, dict)
        ]
        lines.append(f"#{n} {req.method} {req.path}: {json.dumps(items)[:2000]}")
    return "\n".join(lines) or "(no upstream request)"


@pytest.mark.e2e
def test_codex_text_turn(gw: Gateway, fake: FakeResponses, tmp_path: Path) -> None:
    fake.script(Reply.text("Hello from the Responses upstream, Codex!", "greet", chunk_size=4))
    result = codex(gw, tmp_path, "Say hello.")
    assert result.ok, result.describe() + "\n" + describe(fake)
    assert (result.last_message or "").strip() == "Hello from the Responses upstream, Codex!"
    (req,) = fake.responses_requests
    body = req.body
    assert body["model"] == "gpt-up" and body["stream"] is True and body["store"] is False
    assert "reasoning.encrypted_content" in body["include"]
    assert "client_metadata" in body  # Codex's own fields pass through
    names = {(t["type"], t.get("name")) for t in body["tools"]}
    assert ("function", "exec_command") in names and ("custom", "apply_patch") in names
    assert not any(t["type"] in ("web_search", "tool_search") for t in body["tools"])


@pytest.mark.e2e
def test_codex_shell_round_trip(gw: Gateway, fake: FakeResponses, tmp_path: Path) -> None:
    cmd = "echo wirebridge-responses > marker.txt && cat marker.txt"
    fake.script(
        Reply.tool_call(
            "exec_command",
            json.dumps({"cmd": cmd}),
            call_id="call_codex_1",
            reasoning_summary="I will write the marker with the shell.",
            chunk_size=7,
        ),
        Reply.text("The marker is written."),
    )
    result = codex(gw, tmp_path, "Write the marker file.")
    assert result.ok, result.describe() + "\n" + describe(fake)
    assert (result.workdir / "marker.txt").read_text() == "wirebridge-responses\n"
    assert "The marker is written." in (result.last_message or "")
    first, second = (r.body for r in fake.responses_requests)
    items = second["input"]
    outputs = [i for i in items if i.get("type") == "function_call_output"]
    assert [o["call_id"] for o in outputs] == ["call_codex_1"]
    assert "wirebridge-responses" in json.dumps(outputs[0]["output"])
    calls = [i for i in items if i.get("type") == "function_call"]
    assert [c["name"] for c in calls] == ["exec_command"]
    # Codex replayed the reasoning item; the upstream got its own blob back, intact
    (rs,) = [i for i in items if i.get("type") == "reasoning"]
    assert rs["encrypted_content"] in fake.issued
    assert not any(k.startswith("_") for i in items for k in i)
    assert first["store"] is False and "previous_response_id" not in second


def test_models_of_every_item_kind_are_accepted(fake: FakeResponses, client: openai.OpenAI) -> None:
    """Output items of each kind the fake makes come through JSON as the upstream made them."""
    items = [reasoning("r"), message("m"), function_call("get_weather", "{}")]
    fake.script(Reply.items(*items))
    resp, body = create(client, input="x", tools=[WEATHER], include=["reasoning.encrypted_content"])
    assert [o["type"] for o in body["output"]] == ["reasoning", "message", "function_call"]
    assert [o["id"] for o in body["output"]] == [i["id"] for i in items]
    assert dumped(resp.output)[1]["content"][0]["text"] == "m"
