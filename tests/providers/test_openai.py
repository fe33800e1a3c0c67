"""The OpenAI and Azure OpenAI providers against the OpenAI fake: wire requests, MLflow's
response shapes, streams, and upstream failures mapped to the gateway's statuses."""

from __future__ import annotations

import pytest

from mlflow.gateway.exceptions import AIGatewayException
from mlflow.gateway.schemas import chat, completions, embeddings
from mlflow.testing.providers import OpenAIFake
from tests.providers.conftest import CHAT_BODY, collect, endpoint, fast_policy, make

KEY = "sk-test-key-0123456789"


@pytest.fixture
async def fake():
    async with OpenAIFake(api_key=KEY) as server:
        yield server


def openai_endpoint(fake, endpoint_type="llm/v1/chat", model="gpt-4o-mini", **config):
    return endpoint(
        "openai",
        {"openai_api_key": KEY, "openai_api_base": fake.api_base, **config},
        endpoint_type=endpoint_type,
        model=model,
    )


async def test_chat_request_and_response(fake, client):
    provider = make(openai_endpoint(fake, openai_organization="org-1"), client)
    result = await provider.chat({**CHAT_BODY, "n": 1, "temperature": 0.5})

    (sent,) = fake.requests_to("/v1/chat/completions")
    assert sent.json() == {"model": "gpt-4o-mini", **CHAT_BODY, "n": 1, "temperature": 0.5}
    assert sent.header("Authorization") == f"Bearer {KEY}"
    assert sent.header("OpenAI-Organization") == "org-1"
    assert sent.header("Content-Type") == "application/json"

    assert result["object"] == "chat.completion" and result["provider"] == "openai"
    assert result["model"] == "gpt-4o-mini" and result["id"].startswith("chatcmpl-")
    assert result["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Echo: hello there",
                        "tool_calls": None, "refusal": None},
            "finish_reason": "stop",
        }
    ]
    assert result["usage"] == {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}
    assert chat.ResponsePayload.model_validate(result).model_dump(mode="json") == result


async def test_chat_tool_calls_pass_through(client):
    calls = [{"id": "call_1", "type": "function",
              "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]
    async with OpenAIFake(api_key=KEY, message={"role": "assistant", "content": None,
                                                "tool_calls": calls}) as fake:
        result = await make(openai_endpoint(fake), client).chat(CHAT_BODY)
    choice = result["choices"][0]
    assert choice["message"]["tool_calls"] == calls and choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None


async def test_chat_stream(fake, client):
    provider = make(openai_endpoint(fake), client)
    chunks = await collect(provider.chat_stream({**CHAT_BODY, "stream": True}))
    (sent,) = fake.requests_to("/v1/chat/completions")
    assert sent.json()["stream"] is True
    assert sent.json()["stream_options"] == {"include_usage": True}
    text = "".join(c["choices"][0]["delta"]["content"] for c in chunks if c["choices"])
    assert text == "Echo: hello there"
    first = chunks[0]
    assert first["object"] == "chat.completion.chunk" and first["provider"] == "openai"
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": "Echo: ",
                                            "tool_calls": None}
    assert first["usage"] is None
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 5
    for c in chunks:
        assert chat.StreamResponsePayload.model_validate(c).model_dump(mode="json") == c


async def test_completions_and_stream(fake, client):
    provider = make(openai_endpoint(fake, "llm/v1/completions", "gpt-3.5-turbo-instruct"), client)
    result = await provider.completions({"prompt": "hi you", "max_tokens": 5, "n": 1})
    assert fake.requests[-1].json() == {"model": "gpt-3.5-turbo-instruct", "prompt": "hi you",
                                        "max_tokens": 5, "n": 1}
    assert result["object"] == "text_completion"
    assert result["choices"] == [{"index": 0, "text": "Echo: hi you", "finish_reason": "stop"}]
    assert completions.ResponsePayload.model_validate(result).model_dump(mode="json") == result
    chunks = await collect(provider.completions_stream({"prompt": "hi you", "stream": True}))
    assert "".join(c["choices"][0]["text"] for c in chunks if c["choices"]) == "Echo: hi you"
    assert chunks[0]["object"] == "text_completion_chunk" and "provider" not in chunks[0]
    assert chunks[-1]["usage"]["prompt_tokens"] == 2


async def test_embeddings(fake, client):
    provider = make(openai_endpoint(fake, "llm/v1/embeddings", "text-embedding-3-small"), client)
    result = await provider.embeddings({"input": ["a", "b c"]})
    assert fake.requests[-1].json() == {"model": "text-embedding-3-small", "input": ["a", "b c"]}
    assert [d["index"] for d in result["data"]] == [0, 1]
    assert len(result["data"][0]["embedding"]) == 8
    assert result["usage"] == {"prompt_tokens": 3, "total_tokens": 3}
    assert embeddings.ResponsePayload.model_validate(result).model_dump(mode="json") == result


@pytest.mark.parametrize("api_type", ["azure", "azuread"])
async def test_azure_urls_and_auth(fake, client, api_type):
    config = endpoint("openai", {
        "openai_api_key": KEY, "openai_api_type": api_type, "openai_api_base": fake.base_url,
        "openai_deployment_name": "my-dep", "openai_api_version": "2024-06-01",
    })
    provider = make(config, client)
    result = await provider.chat(CHAT_BODY)
    (sent,) = fake.requests_to("/openai/deployments/my-dep/chat/completions")
    assert sent.query == {"api-version": "2024-06-01"}
    assert "model" not in sent.json()
    if api_type == "azure":
        assert sent.header("api-key") == KEY and sent.header("Authorization") is None
    else:
        assert sent.header("Authorization") == f"Bearer {KEY}" and sent.header("api-key") is None
    assert result["model"] == "my-dep"
    chunks = await collect(provider.chat_stream({**CHAT_BODY, "stream": True}))
    assert chunks[0]["choices"][0]["delta"]["content"] == "Echo: "


async def test_model_in_payload_is_refused_before_sending(fake, client):
    with pytest.raises(AIGatewayException) as info:
        await make(openai_endpoint(fake), client).chat({**CHAT_BODY, "model": "x"})
    assert info.value.status_code == 422 and "'model' is not permitted" in info.value.detail
    assert fake.requests == []


async def test_upstream_error_keeps_status_and_scrubs_the_key(client):
    async with OpenAIFake(api_key="sk-other-key-987654", echo_key_in_errors=True) as fake:
        provider = make(openai_endpoint(fake), client)
        with pytest.raises(AIGatewayException) as info:
            await provider.chat(CHAT_BODY)
        assert info.value.status_code == 401
        assert KEY not in info.value.detail and "[REDACTED]" in info.value.detail
        with pytest.raises(AIGatewayException) as info:
            await collect(provider.chat_stream({**CHAT_BODY, "stream": True}))
        assert info.value.status_code == 401 and KEY not in info.value.detail
    assert len(fake.requests) == 2  # a 401 is not retried


async def test_retry_after_is_honoured_by_the_engine(fake, client):
    fake.inject(429, {"error": {"message": "Rate limit reached", "type": "requests"}},
                headers={"Retry-After": "0.01"}, times=2)
    result = await make(openai_endpoint(fake), client).chat(CHAT_BODY)
    assert result["choices"][0]["message"]["content"] == "Echo: hello there"
    assert len(fake.requests) == 3


async def test_retry_after_beyond_budget_answers_429_at_once(fake, client):
    fake.inject(429, {"error": {"message": "Rate limit reached", "type": "requests"}},
                headers={"Retry-After": "30"}, times=5)
    provider = make(openai_endpoint(fake), client, fast_policy(total_timeout=2.0))
    with pytest.raises(AIGatewayException) as info:
        await provider.chat(CHAT_BODY)
    assert info.value.status_code == 429 and info.value.headers == {"Retry-After": "30"}
    assert len(fake.requests) == 1


async def test_exhausted_429_passed_on_with_retry_after(fake, client):
    fake.inject(429, {"error": {"message": "Slow down", "type": "requests"}},
                headers={"Retry-After": "0.01"}, times=10)
    provider = make(openai_endpoint(fake), client, fast_policy(max_retries=1))
    with pytest.raises(AIGatewayException) as info:
        await provider.chat(CHAT_BODY)
    assert info.value.status_code == 429 and info.value.detail == "Slow down"
    assert info.value.headers == {"Retry-After": "1"}
    assert len(fake.requests) == 2


async def test_server_error_retried_then_passed_on(fake, client):
    fake.inject(503, {"error": {"message": "overloaded", "type": "server_error"}}, times=10)
    provider = make(openai_endpoint(fake), client, fast_policy(max_retries=2))
    with pytest.raises(AIGatewayException) as info:
        await provider.chat(CHAT_BODY)
    assert info.value.status_code == 503 and info.value.detail == "overloaded"
    assert len(fake.requests) == 3


async def test_connect_failure_is_502(client):
    async with OpenAIFake(api_key=KEY) as fake:
        config = openai_endpoint(fake)
    provider = make(config, client, fast_policy(max_retries=1))
    with pytest.raises(AIGatewayException) as info:
        await provider.chat(CHAT_BODY)
    assert info.value.status_code == 502 and "Could not connect" in info.value.detail
    assert KEY not in info.value.detail


async def test_timeout_is_504(fake, client):
    fake.inject(delay=0.5, times=5)
    provider = make(openai_endpoint(fake), client, fast_policy(max_retries=0),
                    attempt_timeout=0.1)
    with pytest.raises(AIGatewayException) as info:
        await provider.chat(CHAT_BODY)
    assert info.value.status_code == 504


async def test_stream_refused_raises_before_the_first_chunk(fake, client):
    fake.inject(400, {"error": {"message": "bad request", "type": "invalid_request_error"}})
    stream = make(openai_endpoint(fake), client).chat_stream({**CHAT_BODY, "stream": True})
    with pytest.raises(AIGatewayException) as info:
        await stream.__anext__()
    assert info.value.status_code == 400 and info.value.detail == "bad request"


async def test_stream_error_event_mid_stream(fake, client):
    fake.inject(stream_error_after=2)
    stream = make(openai_endpoint(fake), client).chat_stream({**CHAT_BODY, "stream": True})
    got = []
    with pytest.raises(AIGatewayException) as info:
        async for chunk in stream:
            got.append(chunk)
    assert len(got) == 2 and info.value.status_code == 502
    assert "error while processing" in info.value.detail


async def test_stream_connection_drop_mid_stream(fake, client):
    fake.inject(break_stream_after=1)
    stream = make(openai_endpoint(fake), client).chat_stream({**CHAT_BODY, "stream": True})
    got = []
    with pytest.raises(AIGatewayException) as info:
        async for chunk in stream:
            got.append(chunk)
    assert len(got) == 1 and info.value.status_code == 502
