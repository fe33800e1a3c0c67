"""OpenAIDeploymentClient against the loopback OpenAI-compatible server: predictions through the
openai SDK over our engine (as MLflow makes them), streams and models through our engine."""

from __future__ import annotations

import openai
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
    # MLflow's target raises the openai SDK's error type (it was requests.HTTPError here).
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-secret-value")
    with pytest.raises(openai.AuthenticationError, match="Error code: 401") as info:
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


# --- MLflow's contract: the openai SDK's behaviour (observed with MLflow 3.17.2 + openai 3.57) --
MLFLOW_CHAT_KEYS = {
    "id", "choices", "created", "model", "object", "metadata", "moderation", "service_tier",
    "system_fingerprint", "usage",
}


def test_predict_returns_the_sdks_model_dump_with_none_valued_keys(client):
    result = client.predict(endpoint="gpt-4o-mini", inputs=CHAT)
    assert set(result) >= MLFLOW_CHAT_KEYS
    assert result["system_fingerprint"] is None and result["service_tier"] is None
    message = result["choices"][0]["message"]
    assert message["tool_calls"] is None and message["refusal"] is None
    assert result["choices"][0]["logprobs"] is None
    assert result["usage"]["completion_tokens_details"] is None
    assert result["usage"]["prompt_tokens_details"] is None


class FailingOpenAI:
    """A loopback OpenAI API answering every call 500, recording attempts; ``retry-after-ms: 1``
    makes the SDK's backoff 1 ms, so its full retry budget runs in milliseconds."""

    def __init__(self):
        from aiohttp import web

        self.attempts: list[dict] = []

        async def fail(request):
            self.attempts.append({"path": request.path, "retry": request.headers.get(
                "x-stainless-retry-count"), "body": await request.json()})
            return web.json_response(
                {"error": {"message": "boom", "type": "server_error"}},
                status=500, headers={"retry-after-ms": "1"},
            )

        self.app = web.Application()
        self.app.router.add_post("/{tail:.*}", fail)


@pytest.fixture
def failing_openai(monkeypatch):
    import asyncio
    import threading

    from aiohttp import web

    server = FailingOpenAI()
    started, holder = threading.Event(), {}

    def run():
        loop = holder["loop"] = asyncio.new_event_loop()
        runner = web.AppRunner(server.app)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        holder["port"] = site._server.sockets[0].getsockname()[1]
        started.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(10)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    server.base = f"http://127.0.0.1:{holder['port']}"
    yield server
    holder["loop"].call_soon_threadsafe(holder["loop"].stop)
    thread.join(10)


@pytest.mark.timeout(60)
def test_a_server_500_costs_the_sdks_six_attempts_and_raises_its_error(failing_openai, monkeypatch):
    monkeypatch.setenv("OPENAI_API_BASE", failing_openai.base + "/v1")
    with pytest.raises(openai.InternalServerError) as info:
        get_deploy_client("openai").predict(endpoint="gpt-4o", inputs=CHAT)
    assert str(info.value) == "Error code: 500 - boom"  # as MLflow 3.17.2 raises it
    # max_retries=5 as MLflow configures the SDK: 6 attempts, numbered by the SDK.
    assert [a["retry"] for a in failing_openai.attempts] == ["0", "1", "2", "3", "4", "5"]


@pytest.mark.timeout(60)
def test_azure_request_is_the_sdks(failing_openai, monkeypatch):
    monkeypatch.setenv("OPENAI_API_TYPE", "azure")
    monkeypatch.setenv("OPENAI_API_BASE", failing_openai.base)
    monkeypatch.setenv("OPENAI_API_VERSION", "2024-06-01")
    monkeypatch.setenv("OPENAI_DEPLOYMENT_NAME", "dep")
    with pytest.raises(openai.InternalServerError):
        get_deploy_client("openai").predict(endpoint="gpt-4o", inputs=CHAT)
    first = failing_openai.attempts[0]
    assert first["path"] == "/openai/deployments/dep/chat/completions"
    # With openai 3.57 the SDK (so MLflow) sends the model in Azure bodies too.
    assert first["body"] == {"model": "gpt-4o", **CHAT}
