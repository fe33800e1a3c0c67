"""Cohere's v2 chat and embed APIs against the Cohere fake."""

from __future__ import annotations

import json

import pytest

from mlflow.gateway.exceptions import AIGatewayException
from mlflow.gateway.providers import build_provider
from mlflow.gateway.schemas import chat, embeddings
from mlflow.testing.providers.cohere import CohereFake
from tests.providers.conftest import CHAT_BODY, collect, endpoint, fast_policy

KEY = "co-test-0123456789"


@pytest.fixture
async def fake():
    async with CohereFake(api_key=KEY) as server:
        yield server


def provider_for(fake, client, endpoint_type="llm/v1/chat", model="command-r"):
    ep = endpoint("cohere", {"cohere_api_key": KEY}, endpoint_type=endpoint_type, model=model)
    return build_provider(ep, client, fast_policy(), api_base=fake.base_url)


async def test_chat(fake, client):
    body = {**CHAT_BODY, "top_p": 0.5, "top_k": 4, "stop": ["x"], "temperature": 0.2}
    result = await provider_for(fake, client).chat(body)
    (sent,) = fake.requests
    assert sent.path == "/v2/chat" and sent.header("Authorization") == f"Bearer {KEY}"
    assert sent.json() == {"model": "command-r", "messages": CHAT_BODY["messages"], "p": 0.5,
                           "k": 4, "stop_sequences": ["x"], "temperature": 0.2}
    assert result["choices"] == [{
        "index": 0,
        "message": {"role": "assistant", "content": "Echo: hello there", "tool_calls": None,
                    "refusal": None},
        "finish_reason": "stop",
    }]
    assert result["usage"] == {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}
    assert chat.ResponsePayload.model_validate(result).model_dump(mode="json") == result


async def test_tools_and_stream(client):
    async with CohereFake(api_key=KEY, tool_call={"name": "f", "arguments": {"a": 1}}) as fake:
        tools = [{"type": "function", "function": {"name": "f"}}]
        provider = provider_for(fake, client)
        result = await provider.chat({**CHAT_BODY, "tools": tools, "tool_choice": "required"})
        assert fake.requests[-1].json()["tool_choice"] == "REQUIRED"
        assert result["choices"][0]["finish_reason"] == "tool_calls"
        assert result["choices"][0]["message"]["tool_calls"] == [
            {"id": "call_0", "type": "function", "function": {"name": "f",
                                                              "arguments": '{"a": 1}'}}]
        chunks = await collect(provider.chat_stream({**CHAT_BODY, "tools": tools,
                                                     "stream": True}))
        calls = [c["choices"][0]["delta"]["tool_calls"][0] for c in chunks
                 if c["choices"][0]["delta"]["tool_calls"]]
        assert calls[0]["id"] == "call_0" and calls[0]["function"]["name"] == "f"
        assert json.loads("".join(c["function"]["arguments"] for c in calls)) == {"a": 1}
        assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


async def test_text_stream(fake, client):
    chunks = await collect(provider_for(fake, client).chat_stream({**CHAT_BODY, "stream": True}))
    assert fake.requests[-1].json()["stream"] is True
    assert "".join(c["choices"][0]["delta"]["content"] or "" for c in chunks) == \
        "Echo: hello there"
    assert chunks[-1]["usage"]["total_tokens"] == 5 and chunks[0]["usage"] is None
    for c in chunks:
        assert chat.StreamResponsePayload.model_validate(c).model_dump(mode="json") == c
    fake.inject(stream_error_after=2)
    with pytest.raises(AIGatewayException) as info:
        await collect(provider_for(fake, client).chat_stream({**CHAT_BODY, "stream": True}))
    assert info.value.status_code == 502 and "internal error" in info.value.detail


async def test_completions_and_embeddings(fake, client):
    comp = provider_for(fake, client, "llm/v1/completions")
    result = await comp.completions({"prompt": "hi"})
    assert result["choices"] == [{"index": 0, "text": "Echo: hi", "finish_reason": "stop"}]
    sent = fake.requests[-1].json()  # the prompt travels as the user message, not as a field
    assert "prompt" not in sent and sent["messages"] == [{"role": "user", "content": "hi"}]
    emb = provider_for(fake, client, "llm/v1/embeddings", "embed-english-v3.0")
    result = await emb.embeddings({"input": ["a", "b"]})
    assert fake.requests[-1].path == "/v2/embed"
    assert fake.requests[-1].json() == {"model": "embed-english-v3.0", "texts": ["a", "b"],
                                        "input_type": "search_document",
                                        "embedding_types": ["float"]}
    assert [d["index"] for d in result["data"]] == [0, 1]
    assert result["usage"] == {"prompt_tokens": 2, "total_tokens": 2}
    assert embeddings.ResponsePayload.model_validate(result).model_dump(mode="json") == result


async def test_errors(client):
    async with CohereFake(api_key="other-0123456789", echo_key_in_errors=True) as fake:
        provider = provider_for(fake, client)
        with pytest.raises(AIGatewayException) as info:
            await provider.chat(CHAT_BODY)
        assert info.value.status_code == 401 and KEY not in info.value.detail
        with pytest.raises(AIGatewayException) as info:
            await provider.chat({**CHAT_BODY, "n": 2})
        assert info.value.status_code == 422
        assert len(fake.requests) == 1


async def test_structured_output_translated(fake, client):
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    body = {**CHAT_BODY, "response_format": {"type": "json_schema",
                                             "json_schema": {"name": "x", "schema": schema}}}
    await provider_for(fake, client).chat(body)
    assert fake.requests[-1].json()["response_format"] == {"type": "json_object",
                                                           "json_schema": schema}
