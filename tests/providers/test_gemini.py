"""Gemini's generateContent / streamGenerateContent / embedContent against its fake."""

from __future__ import annotations

import json

import pytest

from mlflow.gateway.exceptions import AIGatewayException
from mlflow.gateway.providers import build_provider
from mlflow.gateway.schemas import chat, embeddings
from mlflow.testing.providers.gemini import GeminiFake
from tests.providers.conftest import CHAT_BODY, collect, endpoint, fast_policy

KEY = "AIza-test-0123456789"


@pytest.fixture
async def fake():
    async with GeminiFake(api_key=KEY) as server:
        yield server


def provider_for(fake, client, endpoint_type="llm/v1/chat", model="gemini-2.0-flash"):
    config = endpoint("gemini", {"gemini_api_key": KEY}, endpoint_type=endpoint_type,
                      model=model)
    return build_provider(config, client, fast_policy(), api_base=fake.api_base)


async def test_chat_translation(fake, client):
    body = {"messages": [{"role": "system", "content": "Be brief."},
                         {"role": "user", "content": "hello there"}],
            "temperature": 0.3, "max_tokens": 50, "stop": ["x"], "n": 1, "top_k": 3}
    result = await provider_for(fake, client).chat(body)
    (sent,) = fake.requests
    assert sent.path == "/v1beta/models/gemini-2.0-flash:generateContent"
    assert sent.header("x-goog-api-key") == KEY and "key" not in sent.query
    assert sent.json() == {
        "contents": [{"role": "user", "parts": [{"text": "hello there"}]}],
        "system_instruction": {"parts": [{"text": "Be brief."}]},
        "generationConfig": {"temperature": 0.3, "maxOutputTokens": 50, "stopSequences": ["x"],
                             "candidateCount": 1, "topK": 3},
    }
    assert result["choices"] == [{
        "index": 0,
        "message": {"role": "assistant", "content": "Echo: hello there", "tool_calls": None,
                    "refusal": None},
        "finish_reason": "stop",
    }]
    assert result["usage"] == {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}
    assert result["model"] == "gemini-2.0-flash" and result["provider"] == "gemini"
    assert chat.ResponsePayload.model_validate(result).model_dump(mode="json") == result


async def test_native_names_refused(fake, client):
    with pytest.raises(AIGatewayException) as info:
        await provider_for(fake, client).chat({**CHAT_BODY, "maxOutputTokens": 5})
    assert info.value.status_code == 422
    assert info.value.detail == "Invalid parameter maxOutputTokens. Use max_tokens instead."
    assert fake.requests == []


async def test_tool_calls(client):
    async with GeminiFake(api_key=KEY, tool_call={"name": "weather",
                                                   "arguments": {"city": "Paris"}}) as fake:
        tools = [{"type": "function", "function": {"name": "weather", "parameters": {
            "type": "object", "properties": {"city": {"type": "string"}}}}}]
        body = {"messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "tool_calls": [{"id": "c0", "type": "function", "function": {
                "name": "weather", "arguments": '{"city": "Rome"}'}}]},
            {"role": "tool", "tool_call_id": "c0", "content": "sunny"},
        ], "tools": tools, "tool_choice": "required"}
        provider = provider_for(fake, client)
        result = await provider.chat(body)
        sent = fake.requests[-1].json()
        assert sent["contents"][1] == {"role": "model", "parts": [{"functionCall": {
            "id": "c0", "name": "weather", "args": {"city": "Rome"}}}]}
        assert sent["contents"][2] == {"role": "user", "parts": [{"functionResponse": {
            "id": "c0", "name": "weather", "response": {"result": "sunny"}}}]}
        assert sent["tools"] == [{"functionDeclarations": [{
            "name": "weather", "description": None,
            "parametersJsonSchema": tools[0]["function"]["parameters"]}]}]
        assert sent["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
        choice = result["choices"][0]
        assert choice["finish_reason"] == "tool_calls"
        (call,) = choice["message"]["tool_calls"]
        assert call["function"] == {"name": "weather", "arguments": json.dumps({"city": "Paris"})}
        assert call["id"].startswith("call_")
        chunks = await collect(provider.chat_stream({**body, "stream": True}))
        assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
        assert chunks[0]["choices"][0]["delta"]["tool_calls"][0]["index"] == 0


async def test_stream(fake, client):
    chunks = await collect(provider_for(fake, client).chat_stream({**CHAT_BODY, "stream": True}))
    (sent,) = fake.requests
    assert sent.path == "/v1beta/models/gemini-2.0-flash:streamGenerateContent"
    assert sent.query == {"alt": "sse"}
    assert "".join(c["choices"][0]["delta"]["content"] for c in chunks) == "Echo: hello there"
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"]["total_tokens"] == 5 and chunks[0]["usage"] is None
    for c in chunks:
        assert chat.StreamResponsePayload.model_validate(c).model_dump(mode="json") == c


async def test_completions(fake, client):
    provider = provider_for(fake, client, "llm/v1/completions")
    result = await provider.completions({"prompt": "hi"})
    assert fake.requests[-1].json()["contents"] == [{"role": "user", "parts": [{"text": "hi"}]}]
    assert result["choices"] == [{"index": 0, "text": "Echo: hi", "finish_reason": "stop"}]
    chunks = await collect(provider.completions_stream({"prompt": "hi", "stream": True}))
    assert "".join(c["choices"][0]["text"] for c in chunks) == "Echo: hi"


async def test_embeddings_single_and_batch(fake, client):
    provider = provider_for(fake, client, "llm/v1/embeddings", "text-embedding-004")
    one = await provider.embeddings({"input": "a"})
    assert fake.requests[-1].path == "/v1beta/models/text-embedding-004:embedContent"
    assert fake.requests[-1].json() == {"content": {"parts": [{"text": "a"}]}}
    assert len(one["data"]) == 1 and len(one["data"][0]["embedding"]) == 8
    many = await provider.embeddings({"input": ["a", "b"]})
    assert fake.requests[-1].path == "/v1beta/models/text-embedding-004:batchEmbedContents"
    assert fake.requests[-1].json()["requests"][1] == {
        "model": "models/text-embedding-004", "content": {"parts": [{"text": "b"}]}}
    assert [d["index"] for d in many["data"]] == [0, 1]
    assert many["data"][0]["embedding"] == one["data"][0]["embedding"]
    assert embeddings.ResponsePayload.model_validate(many).model_dump(mode="json") == many


async def test_errors_and_stream_failures(client):
    async with GeminiFake(api_key="AIza-other-987654", echo_key_in_errors=True) as fake:
        provider = provider_for(fake, client)
        with pytest.raises(AIGatewayException) as info:
            await provider.chat(CHAT_BODY)
        assert info.value.status_code == 400 and KEY not in info.value.detail
        assert info.value.detail.startswith("API key not valid.")
        fake.api_key = KEY
        fake.inject(429, {"error": {"code": 429, "message": "Resource has been exhausted",
                                    "status": "RESOURCE_EXHAUSTED"}},
                    headers={"Retry-After": "0.01"}, times=1)
        assert (await provider.chat(CHAT_BODY))["choices"]
        fake.inject(503, {"error": {"code": 503, "message": "The model is overloaded.",
                                    "status": "UNAVAILABLE"}}, times=10)
        stream = provider.chat_stream({**CHAT_BODY, "stream": True})
        with pytest.raises(AIGatewayException) as info:
            await stream.__anext__()
        assert info.value.status_code == 503 and info.value.detail == "The model is overloaded."
        fake.clear_faults()
        fake.inject(stream_error_after=1)
        got = []
        with pytest.raises(AIGatewayException) as info:
            async for chunk in provider.chat_stream({**CHAT_BODY, "stream": True}):
                got.append(chunk)
        assert len(got) == 1 and "An internal error has occurred." in info.value.detail
