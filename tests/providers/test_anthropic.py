"""Anthropic's Messages API against its fake."""

from __future__ import annotations

import json

import pytest

from mlflow.gateway.exceptions import AIGatewayException
from mlflow.gateway.providers import build_provider
from mlflow.gateway.schemas import chat
from mlflow.testing.providers.anthropic import AnthropicFake
from tests.providers.conftest import CHAT_BODY, collect, endpoint, fast_policy

KEY = "sk-ant-test-0123456789"


@pytest.fixture
async def fake():
    async with AnthropicFake(api_key=KEY) as server:
        yield server


def provider_for(fake, client, endpoint_type="llm/v1/chat"):
    config = endpoint("anthropic", {"anthropic_api_key": KEY}, endpoint_type=endpoint_type,
                      model="claude-sonnet-4-5")
    return build_provider(config, client, fast_policy(), api_base=fake.api_base)


async def test_chat_translation(fake, client):
    provider = provider_for(fake, client)
    body = {"messages": [{"role": "system", "content": "Be brief."},
                         {"role": "user", "content": "hello there"}],
            "temperature": 1.0, "stop": ["END"], "n": 1}
    result = await provider.chat(body)
    (sent,) = fake.requests
    assert sent.path == "/v1/messages"
    assert sent.header("x-api-key") == KEY and sent.header("anthropic-version") == "2023-06-01"
    assert sent.json() == {
        "model": "claude-sonnet-4-5", "max_tokens": 8192,
        "messages": [{"role": "user", "content": "hello there"}],
        "temperature": 0.5, "stop_sequences": ["END"], "system": "Be brief.",
    }
    assert result["choices"] == [{
        "index": 0,
        "message": {"role": "assistant", "content": "Echo: hello there", "tool_calls": None,
                    "refusal": None},
        "finish_reason": "stop",
    }]
    assert result["usage"] == {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}
    assert result["id"].startswith("msg_") and result["provider"] == "anthropic"
    assert result["model"] == "claude-sonnet-4-5"
    assert chat.ResponsePayload.model_validate(result).model_dump(mode="json") == result


async def test_tools_round_trip(client):
    async with AnthropicFake(api_key=KEY, tool_call={"name": "weather",
                                                      "arguments": {"city": "Paris"}}) as fake:
        provider = provider_for(fake, client)
        tools = [{"type": "function", "function": {
            "name": "weather", "description": "Weather of a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
        body = {"messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "t0", "type": "function",
                 "function": {"name": "weather", "arguments": '{"city": "Rome"}'}}]},
            {"role": "tool", "tool_call_id": "t0", "content": "sunny"},
        ], "tools": tools, "tool_choice": "required"}
        result = await provider.chat(body)
        sent = fake.requests[-1].json()
        assert sent["tools"] == [{"name": "weather", "description": "Weather of a city",
                                  "input_schema": tools[0]["function"]["parameters"]}]
        assert sent["tool_choice"] == {"type": "any"}
        assert sent["messages"][1] == {"role": "assistant", "content": [
            {"type": "tool_use", "id": "t0", "name": "weather", "input": {"city": "Rome"}}]}
        assert sent["messages"][2] == {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t0", "content": "sunny"}]}
        choice = result["choices"][0]
        assert choice["finish_reason"] == "tool_calls"
        assert choice["message"]["tool_calls"] == [{
            "id": "toolu_01", "type": "function",
            "function": {"name": "weather", "arguments": json.dumps({"city": "Paris"})}}]
        chunks = await collect(provider.chat_stream({**body, "stream": True}))
        calls = [c["choices"][0]["delta"]["tool_calls"] for c in chunks
                 if c["choices"][0]["delta"]["tool_calls"]]
        assert calls[0][0]["id"] == "toolu_01" and calls[0][0]["function"]["name"] == "weather"
        args = "".join(c[0]["function"]["arguments"] or "" for c in calls)
        assert json.loads(args) == {"city": "Paris"}
        assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


async def test_chat_stream(fake, client):
    chunks = await collect(provider_for(fake, client).chat_stream({**CHAT_BODY, "stream": True}))
    assert fake.requests[0].json()["stream"] is True
    text = "".join(c["choices"][0]["delta"]["content"] or "" for c in chunks)
    assert text == "Echo: hello there"
    assert all(c["id"].startswith("msg_") and c["provider"] == "anthropic" for c in chunks)
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == "stop"
    assert last["usage"] == {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}
    for c in chunks:
        assert chat.StreamResponsePayload.model_validate(c).model_dump(mode="json") == c


async def test_completions_through_messages(fake, client):
    provider = provider_for(fake, client, "llm/v1/completions")
    result = await provider.completions({"prompt": "say hi", "max_tokens": 10})
    assert fake.requests[-1].json()["messages"] == [{"role": "user", "content": "say hi"}]
    assert result["choices"] == [{"index": 0, "text": "Echo: say hi", "finish_reason": "stop"}]
    chunks = await collect(provider.completions_stream({"prompt": "say hi", "stream": True}))
    assert "".join(c["choices"][0]["text"] or "" for c in chunks) == "Echo: say hi"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({**CHAT_BODY, "n": 2}, "'n' must be '1'"),
        ({**CHAT_BODY, "temperature": 0.5, "top_p": 0.5}, "both 'temperature' and 'top_p'"),
        ({**CHAT_BODY, "max_tokens": 2_000_000}, "cannot exceed"),
    ],
)
async def test_refused_before_sending(fake, client, body, words):
    with pytest.raises(AIGatewayException) as info:
        await provider_for(fake, client).chat(body)
    assert info.value.status_code == 422 and words in info.value.detail
    assert fake.requests == []


async def test_errors(client):
    async with AnthropicFake(api_key="other-key-123456", echo_key_in_errors=True) as fake:
        provider = provider_for(fake, client)
        with pytest.raises(AIGatewayException) as info:
            await provider.chat(CHAT_BODY)
        assert info.value.status_code == 401 and KEY not in info.value.detail
        assert info.value.detail == "invalid x-api-key (sent: [REDACTED])"
        fake.api_key = KEY
        fake.inject(529, {"type": "error", "error": {"type": "overloaded_error",
                                                    "message": "Overloaded"}})
        with pytest.raises(AIGatewayException) as info:
            await provider.chat(CHAT_BODY)
        assert info.value.status_code == 529 and info.value.detail == "Overloaded"
    assert len(fake.requests) == 2  # neither 401 nor 529 is retried


async def test_retry_after_and_stream_failures(fake, client):
    provider = provider_for(fake, client)
    fake.inject(429, {"type": "error", "error": {"type": "rate_limit_error",
                                                "message": "slow down"}},
                headers={"retry-after": "0.01"}, times=2)
    result = await provider.chat(CHAT_BODY)
    assert result["choices"][0]["message"]["content"] == "Echo: hello there"
    assert len(fake.requests) == 3
    fake.inject(400, {"type": "error", "error": {"type": "invalid_request_error",
                                                "message": "bad"}})
    stream = provider.chat_stream({**CHAT_BODY, "stream": True})
    with pytest.raises(AIGatewayException) as info:
        await stream.__anext__()
    assert info.value.status_code == 400 and info.value.detail == "bad"
    fake.inject(stream_error_after=3)
    got = []
    with pytest.raises(AIGatewayException) as info:
        async for chunk in provider.chat_stream({**CHAT_BODY, "stream": True}):
            got.append(chunk)
    assert info.value.status_code == 502 and "Overloaded" in info.value.detail
    assert len(got) == 1  # message_start and ping yield nothing; the block start does
