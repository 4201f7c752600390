"""The OpenAI Agents SDK with its WebSocket Responses model, through the gateway."""

from __future__ import annotations

from agents import Agent, function_tool, responses_websocket_session
from agents.tracing import set_tracing_disabled

from tests.support.fake_chat import FakeChat, Reply
from tests.support.gateway import Gateway

set_tracing_disabled(True)  # the SDK would otherwise export traces to OpenAI


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"It is sunny in {city}."


async def test_agent_runs_a_tool_over_the_websocket(fake_chat: FakeChat, gateway: Gateway) -> None:
    fake_chat.script(
        Reply.tool_calls([("call_agent", "get_weather", '{"city": "Lisbon"}')]),
        Reply.text("Lisbon is sunny today."),
    )
    agent = Agent(
        name="weather", instructions="Answer briefly.", model="fake-model", tools=[get_weather]
    )
    async with responses_websocket_session(
        api_key="sk-client",
        base_url=gateway.url("/v1"),
        websocket_base_url=gateway.url("/v1").replace("http://", "ws://"),
    ) as session:
        result = await session.run(agent, "Weather in Lisbon?")
    assert result.final_output == "Lisbon is sunny today."
    assert "websocket connection opened" in gateway.log_text()
    second = fake_chat.chat_requests[1].body["messages"]
    tool = [m for m in second if m["role"] == "tool"]
    assert tool == [
        {"role": "tool", "tool_call_id": "call_agent", "content": "It is sunny in Lisbon."}
    ]
    assert second[0] == {"role": "system", "content": "Answer briefly."}
