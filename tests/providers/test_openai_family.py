"""Providers speaking OpenAI's format at their own URLs: Mistral, Together AI, Databricks, and
the OpenAI-compatible ones (Groq, DeepSeek, xAI, OpenRouter, Ollama)."""

from __future__ import annotations

import pytest

from mlflow.gateway.exceptions import AIGatewayException
from mlflow.gateway.providers import build_provider, provider_support_error
from mlflow.gateway.schemas import chat, completions
from mlflow.testing.providers import OpenAIFake
from mlflow.testing.providers.databricks import DatabricksFake
from mlflow.testing.providers.mistral import MistralFake
from mlflow.testing.providers.togetherai import TogetherAIFake
from tests.providers.conftest import CHAT_BODY, collect, endpoint, fast_policy

KEY = "key-0123456789abcdef"


def build(provider, config, fake_base, client, endpoint_type="llm/v1/chat", model="m-1"):
    ep = endpoint(provider, config, endpoint_type=endpoint_type, model=model)
    return build_provider(ep, client, fast_policy(), api_base=fake_base)


async def test_mistral_chat_stream_and_completions(client):
    async with MistralFake(api_key=KEY) as fake:
        provider = build("mistral", {"mistral_api_key": KEY}, fake.api_base, client)
        result = await provider.chat(CHAT_BODY)
        (sent,) = fake.requests
        assert sent.path == "/v1/chat/completions"
        assert sent.header("Authorization") == f"Bearer {KEY}"
        assert sent.json() == {"model": "m-1", **CHAT_BODY}
        assert result["choices"][0]["message"]["content"] == "Echo: hello there"
        assert chat.ResponsePayload.model_validate(result).model_dump(mode="json") == result

        chunks = await collect(provider.chat_stream({**CHAT_BODY, "stream": True}))
        assert "stream_options" not in fake.requests[-1].json()
        assert chunks[-1]["usage"]["total_tokens"] == 5
        assert chunks[-1]["choices"][0]["finish_reason"] == "stop"

        comp = build("mistral", {"mistral_api_key": KEY}, fake.api_base, client,
                     "llm/v1/completions")
        result = await comp.completions({"prompt": "hi", "temperature": 1.0, "stop": ["x"],
                                         "n": 1})
        assert fake.requests[-1].path == "/v1/chat/completions"
        assert fake.requests[-1].json() == {
            "model": "m-1", "temperature": 0.5, "messages": [{"role": "user", "content": "hi"}]}
        assert result["choices"] == [{"index": 0, "text": "Echo: hi", "finish_reason": "stop"}]
        assert completions.ResponsePayload.model_validate(result).model_dump(mode="json") == result
        chunks = await collect(comp.completions_stream({"prompt": "hi", "stream": True}))
        assert "".join(c["choices"][0]["text"] or "" for c in chunks) == "Echo: hi"


async def test_mistral_embeddings_and_errors(client):
    async with MistralFake(api_key="other-key-987654", echo_key_in_errors=True) as fake:
        provider = build("mistral", {"mistral_api_key": KEY}, fake.api_base, client,
                         "llm/v1/embeddings")
        with pytest.raises(AIGatewayException) as info:
            await provider.embeddings({"input": "a"})
        assert info.value.status_code == 401 and KEY not in info.value.detail
        assert info.value.detail.startswith("Unauthorized")
        fake.api_key = KEY
        result = await provider.embeddings({"input": ["a", "b"]})
        assert fake.requests[-1].json() == {"model": "m-1", "input": ["a", "b"]}
        assert len(result["data"]) == 2


async def test_togetherai(client):
    async with TogetherAIFake(api_key=KEY) as fake:
        provider = build("togetherai", {"togetherai_api_key": KEY}, fake.api_base, client)
        result = await provider.chat(CHAT_BODY)
        assert fake.requests[-1].path == "/v1/chat/completions"
        assert fake.requests[-1].header("Authorization") == f"Bearer {KEY}"
        assert result["usage"]["total_tokens"] == 5
        chunks = await collect(provider.chat_stream({**CHAT_BODY, "stream": True}))
        assert chunks[-1]["usage"]["total_tokens"] == 5
        comp = build("togetherai", {"togetherai_api_key": KEY}, fake.api_base, client,
                     "llm/v1/completions")
        result = await comp.completions({"prompt": "yo"})
        assert fake.requests[-1].path == "/v1/completions"
        assert result["choices"][0]["text"] == "Echo: yo"
        chunks = await collect(comp.completions_stream({"prompt": "yo", "stream": True}))
        assert "".join(c["choices"][0]["text"] for c in chunks) == "Echo: yo"
        fake.api_key = "something-else-1"
        fake.echo_key_in_errors = True
        with pytest.raises(AIGatewayException) as info:
            await provider.chat(CHAT_BODY)
        assert info.value.status_code == 401 and KEY not in info.value.detail


async def test_databricks(client, monkeypatch):
    async with DatabricksFake(token=KEY, endpoints=("my-llm",)) as fake:
        config = {"databricks_api_token": KEY, "databricks_api_base": fake.base_url}
        ep = endpoint("databricks", config, model="my-llm")
        provider = build_provider(ep, client, fast_policy())
        result = await provider.chat(CHAT_BODY)
        (sent,) = fake.requests
        assert sent.path == "/serving-endpoints/chat/completions"
        assert sent.json() == {"model": "my-llm", **CHAT_BODY}
        assert sent.header("Authorization") == f"Bearer {KEY}"
        assert result["choices"][0]["message"]["content"] == "Echo: hello there"
        assert result["provider"] == "databricks"
        chunks = await collect(provider.chat_stream({**CHAT_BODY, "stream": True}))
        assert "".join(c["choices"][0]["delta"]["content"] or "" for c in chunks
                       if c["choices"]) == "Echo: hello there"
        missing = build_provider(endpoint("databricks", config, model="nope"), client,
                                 fast_policy())
        with pytest.raises(AIGatewayException) as info:
            await missing.chat(CHAT_BODY)
        assert info.value.status_code == 404
        assert info.value.detail == "Endpoint with name 'nope' does not exist."
    monkeypatch.delenv("DATABRICKS_HOST", raising=False)
    reason = provider_support_error(endpoint("databricks", {"databricks_api_token": KEY}))
    assert reason is not None and "databricks_api_base" in reason


@pytest.mark.parametrize(
    ("provider", "endpoint_type"),
    [("groq", "llm/v1/chat"), ("deepseek", "llm/v1/chat"), ("xai", "llm/v1/embeddings"),
     ("openrouter", "llm/v1/chat"), ("ollama", "llm/v1/completions")],
)
async def test_openai_compatible(client, provider, endpoint_type):
    async with OpenAIFake(api_key=None) as fake:
        ep = endpoint(provider, {"api_key": KEY, "api_base": fake.api_base},
                      endpoint_type=endpoint_type, model="gpt-4o-mini")
        prov = build_provider(ep, client, fast_policy())
        if endpoint_type == "llm/v1/chat":
            result = await prov.chat(CHAT_BODY)
            assert result["provider"] == provider
            assert fake.requests[-1].path == "/v1/chat/completions"
        elif endpoint_type == "llm/v1/embeddings":
            result = await prov.embeddings({"input": "x"})
            assert fake.requests[-1].path == "/v1/embeddings"
        else:
            result = await prov.completions({"prompt": "x"})
            assert fake.requests[-1].path == "/v1/completions"
        assert result["model"] == "gpt-4o-mini"
        assert fake.requests[-1].header("Authorization") == f"Bearer {KEY}"


async def test_ollama_sends_no_placeholder_key(client):
    async with OpenAIFake(api_key=None) as fake:
        ep = endpoint("ollama", {"api_base": fake.api_base}, model="llama3")
        await build_provider(ep, client, fast_policy()).chat(CHAT_BODY)
        assert fake.requests[-1].header("Authorization") is None
