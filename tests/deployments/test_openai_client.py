"""OpenAIDeploymentClient against the loopback OpenAI-compatible server (no openai SDK)."""

from __future__ import annotations

import pytest
import requests

from mlflow.deployments import get_deploy_client
from mlflow.exceptions import INVALID_PARAMETER_VALUE, MlflowException

CHAT = {"messages": [{"role": "user", "content": "Hello!"}]}


@pytest.fixture
def client(openai_server):
    return get_deploy_client("openai")


@pytest.fixture
async def aclient(aopenai_server):
    return get_deploy_client("openai")


def test_missing_api_key_is_a_clear_error(monkeypatch):
    client = get_deploy_client("openai")
    with pytest.raises(MlflowException, match="OPENAI_API_KEY environment variable not set") as e:
        client.predict(endpoint="gpt-4o-mini", inputs=CHAT)
    assert e.value.error_code == INVALID_PARAMETER_VALUE
    with pytest.raises(MlflowException, match="OPENAI_API_KEY"):
        client.list_endpoints()


def test_wrong_key_is_rejected_without_echoing_it(client, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-secret-value")
    with pytest.raises(requests.HTTPError, match="401") as info:
        client.predict(endpoint="gpt-4o-mini", inputs=CHAT)
    assert "sk-wrong-secret-value" not in str(info.value)


def test_predict_chat_completions_embeddings(client, openai_server):
    chat = client.predict(endpoint="gpt-4o-mini", inputs=CHAT)
    assert chat["choices"][0]["message"]["content"] == "Echo: Hello!"
    completion = client.predict(endpoint="gpt-3.5-turbo-instruct", inputs={"prompt": "hi"})
    assert completion["choices"][0]["text"] == "Echo: hi"
    embeddings = client.predict(endpoint="text-embedding-3-small", inputs={"input": ["a", "b"]})
    assert len(embeddings["data"]) == 2
    paths = [r.path for r in openai_server.requests]
    assert paths == ["/v1/chat/completions", "/v1/completions", "/v1/embeddings"]
    first = openai_server.requests[0]
    assert first.json() == {**CHAT, "model": "gpt-4o-mini"}
    assert first.header("Authorization") == f"Bearer {openai_server.api_key}"


async def test_apredict(aclient, aopenai_server):
    chat = await aclient.apredict(endpoint="gpt-4o-mini", inputs={**CHAT, "temperature": 0})
    assert chat["model"] == "gpt-4o-mini"
    assert aopenai_server.requests[-1].json()["temperature"] == 0


def test_inputs_must_name_the_task(client):
    with pytest.raises(MlflowException, match="'messages' \\(chat\\), 'prompt'"):
        client.predict(endpoint="gpt-4o-mini", inputs={"text": "x"})
    with pytest.raises(MlflowException, match="pass a dict"):
        client.predict(endpoint="gpt-4o-mini", inputs="hello")


def test_predict_stream(client, openai_server):
    chunks = list(client.predict_stream(endpoint="gpt-4o-mini", inputs=CHAT))
    assert "".join(c["choices"][0]["delta"]["content"] for c in chunks) == "Echo: Hello!"
    assert openai_server.requests[-1].json()["stream"] is True


async def test_apredict_stream(aclient):
    chunks = [
        c
        async for c in aclient.apredict_stream(
            endpoint="gpt-3.5-turbo-instruct", inputs={"prompt": "x y"}
        )
    ]
    assert [c["choices"][0]["text"] for c in chunks] == ["Echo: ", "x ", "y"]


def test_list_and_get_models(client):
    models = client.list_endpoints()
    assert [m["id"] for m in models["data"]][0] == "gpt-4o-mini"
    assert client.get_endpoint("gpt-4o-mini")["id"] == "gpt-4o-mini"
    with pytest.raises(requests.HTTPError, match="model_not_found"):
        client.get_endpoint("no-such-model")


async def test_alist_and_aget_models(aclient):
    assert len((await aclient.alist_endpoints())["data"]) == 3
    assert (await aclient.aget_endpoint("text-embedding-3-small"))["object"] == "model"


def test_azure(client, openai_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_TYPE", "azure")
    monkeypatch.setenv("OPENAI_API_BASE", openai_server.base_url)
    monkeypatch.setenv("OPENAI_API_VERSION", "2024-06-01")
    monkeypatch.setenv("OPENAI_DEPLOYMENT_NAME", "my-deployment")
    response = client.predict(endpoint="ignored", inputs=CHAT)
    assert response["model"] == "my-deployment"
    request = openai_server.requests[-1]
    assert request.path == "/openai/deployments/my-deployment/chat/completions"
    assert request.query == {"api-version": "2024-06-01"}
    assert request.header("api-key") == openai_server.api_key
    assert request.header("Authorization") is None
    with pytest.raises(NotImplementedError, match="Azure"):
        client.list_endpoints()


def test_azure_needs_version(client, monkeypatch):
    monkeypatch.setenv("OPENAI_API_TYPE", "azure")
    with pytest.raises(MlflowException, match="OPENAI_API_VERSION is not set"):
        client.predict(endpoint="x", inputs=CHAT)


def test_invalid_api_type(client, monkeypatch):
    monkeypatch.setenv("OPENAI_API_TYPE", "bogus")
    with pytest.raises(MlflowException, match="Invalid OPENAI_API_TYPE 'bogus'"):
        client.predict(endpoint="x", inputs=CHAT)


def test_management_is_not_implemented(client):
    for call in (
        lambda: client.create_endpoint("e"),
        lambda: client.update_endpoint("e"),
        lambda: client.delete_endpoint("e"),
        lambda: client.create_deployment("d", "uri"),
        lambda: client.list_deployments(),
    ):
        with pytest.raises(NotImplementedError):
            call()
