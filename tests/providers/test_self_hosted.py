"""Self-hosted and legacy upstreams: Hugging Face TGI, MosaicML, an MLflow model server."""

from __future__ import annotations

import pytest

from mlflow.gateway.exceptions import AIGatewayException
from mlflow.gateway.providers import build_provider
from mlflow.gateway.schemas import chat, completions
from mlflow.testing.providers.huggingface import TGIFake
from mlflow.testing.providers.mlflow_serving import MlflowServingFake
from mlflow.testing.providers.mosaicml import MosaicMLFake
from tests.providers.conftest import CHAT_BODY, collect, endpoint, fast_policy

KEY = "mosaic-key-0123456789"


def tgi(fake, client, endpoint_type="llm/v1/completions"):
    ep = endpoint("huggingface-text-generation-inference", {"hf_server_url": fake.base_url},
                  endpoint_type=endpoint_type, model="tgi")
    return build_provider(ep, client, fast_policy())


async def test_tgi_completions(client):
    async with TGIFake() as fake:
        provider = tgi(fake, client)
        result = await provider.completions({"prompt": "hi there", "max_tokens": 10,
                                             "temperature": 0.1, "stop": ["x"]})
        (sent,) = fake.requests
        assert sent.path == "/generate"
        assert sent.json() == {"inputs": "hi there", "parameters": {
            "max_new_tokens": 10, "temperature": 5.0, "stop": ["x"], "details": True,
            "decoder_input_details": True}}
        assert result["choices"] == [{"index": 0, "text": "Echo: hi there",
                                      "finish_reason": "eos_token"}]
        assert result["usage"] == {"prompt_tokens": 2, "completion_tokens": 3,
                                   "total_tokens": 5}
        assert completions.ResponsePayload.model_validate(result).model_dump(mode="json") == \
            result
        chunks = await collect(provider.completions_stream({"prompt": "hi there",
                                                            "stream": True}))
        assert fake.requests[-1].path == "/generate_stream"
        assert "".join(c["choices"][0]["text"] for c in chunks) == "Echo: hi there"
        assert chunks[-1]["choices"][0]["finish_reason"] == "eos_token"
        with pytest.raises(AIGatewayException) as info:
            await provider.completions({"prompt": "x", "max_new_tokens": 3})
        assert info.value.status_code == 422
        fake.inject(stream_error_after=1)
        with pytest.raises(AIGatewayException) as info:
            await collect(provider.completions_stream({"prompt": "hi", "stream": True}))
        assert "CUDA out of memory" in info.value.detail


async def test_tgi_chat_through_messages_api(client):
    async with TGIFake() as fake:
        provider = tgi(fake, client, "llm/v1/chat")
        result = await provider.chat(CHAT_BODY)
        assert fake.requests[-1].path == "/v1/chat/completions"
        assert result["choices"][0]["message"]["content"] == "Echo: hello there"
        chunks = await collect(provider.chat_stream({**CHAT_BODY, "stream": True}))
        assert "".join(c["choices"][0]["delta"]["content"] or "" for c in chunks
                       if c["choices"]) == "Echo: hello there"


async def test_mosaicml(client):
    async with MosaicMLFake(api_key=KEY) as fake:
        ep = endpoint("mosaicml", {"mosaicml_api_key": KEY, "mosaicml_api_base": fake.base_url},
                      model="llama2-70b-chat")
        provider = build_provider(ep, client, fast_policy())
        body = {"messages": [{"role": "system", "content": "S"},
                             {"role": "user", "content": "U"}], "max_tokens": 5}
        result = await provider.chat(body)
        (sent,) = fake.requests
        assert sent.path == "/llama2-70b-chat/v1/predict" and sent.header("Authorization") == KEY
        assert sent.json() == {"inputs": ["<s>[INST] <<SYS>> S <</SYS>> U [/INST]"],
                               "parameters": {"max_new_tokens": 5}}
        assert result["choices"][0]["message"]["content"].startswith("Echo: <s>[INST]")
        assert result["usage"] == {"prompt_tokens": None, "completion_tokens": None,
                                   "total_tokens": None}
        assert chat.ResponsePayload.model_validate(result).model_dump(mode="json") == result
        chunks = await collect(provider.chat_stream({**body, "stream": True}))
        assert len(chunks) == 1 and chunks[0]["choices"][0]["delta"]["role"] == "assistant"
        assert "stream" not in fake.requests[-1].json()["parameters"]
        with pytest.raises(AIGatewayException) as info:
            await provider.chat({**body, "max_tokens": 10_000})
        assert info.value.status_code == 422 and "max output tokens" in info.value.detail
        emb = build_provider(endpoint("mosaicml", {"mosaicml_api_key": KEY,
                                                   "mosaicml_api_base": fake.base_url},
                                      endpoint_type="llm/v1/embeddings", model="instructor-embed"),
                             client, fast_policy())
        result = await emb.embeddings({"input": "x"})
        assert fake.requests[-1].json() == {"inputs": ["x"]}
        assert len(result["data"][0]["embedding"]) == 8


async def test_mlflow_model_server(client):
    async with MlflowServingFake() as fake:
        def make(endpoint_type):
            ep = endpoint("mlflow-model-serving", {"model_server_url": fake.base_url},
                          endpoint_type=endpoint_type, model="my-model")
            return build_provider(ep, client, fast_policy())

        result = await make("llm/v1/completions").completions({"prompt": "p", "top_k": 3})
        assert fake.requests[-1].path == "/invocations"
        assert fake.requests[-1].json() == {"inputs": ["p"], "params": {"top_k": 3}}
        assert result["choices"] == [{"index": 0, "text": "Echo: p", "finish_reason": None}]
        result = await make("llm/v1/chat").chat({"messages": [{"role": "user",
                                                               "content": "q"}]})
        assert fake.requests[-1].json() == {"inputs": ["q"]}
        assert result["choices"][0]["message"]["content"] == "Echo: q"
        with pytest.raises(AIGatewayException) as info:
            await make("llm/v1/chat").chat({"messages": [{"role": "user", "content": "a"},
                                                         {"role": "user", "content": "b"}]})
        assert info.value.status_code == 422 and "2 queries" in info.value.detail
        with pytest.raises(AIGatewayException) as info:
            await make("llm/v1/embeddings").embeddings({"input": ["a"]})
        assert info.value.status_code == 502  # the fake answers texts, not vectors
        fake.embeddings = True
        result = await make("llm/v1/embeddings").embeddings({"input": ["a", "b"]})
        assert len(result["data"]) == 2
