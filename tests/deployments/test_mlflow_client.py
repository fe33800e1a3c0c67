"""MlflowDeploymentClient against the loopback MLflow-gateway-compatible server, blocking and
awaited."""

from __future__ import annotations

import pytest
import requests

from mlflow.deployments import MlflowDeploymentClient, get_deploy_client
from mlflow.deployments.server.config import Endpoint
from mlflow.exceptions import BAD_REQUEST, INVALID_PARAMETER_VALUE, MlflowException

CHAT = {"messages": [{"role": "user", "content": "Tell me a joke"}]}
NAMES = ["chat", "completions", "embeddings", "limited", "chat-2"]


@pytest.fixture
def client(gateway_server) -> MlflowDeploymentClient:
    return get_deploy_client(gateway_server.base_url)


@pytest.fixture
async def aclient(agateway_server) -> MlflowDeploymentClient:
    return get_deploy_client(agateway_server.base_url)


# --- endpoints --------------------------------------------------------------------------------
def _check_listing(server, endpoints):
    assert [e.name for e in endpoints] == NAMES
    assert all(isinstance(e, Endpoint) for e in endpoints)
    assert endpoints[0].endpoint_url == f"{server.base_url}/gateway/chat/invocations"
    limited = endpoints[3].limit
    assert (limited.calls, limited.renewal_period, limited.key) == (2, "minute", None)
    pages = server.requests_to("/api/2.0/endpoints/", "GET")
    # 5 endpoints, 2 per page: 3 pages, the later ones asked for with the previous page's token.
    assert [r.query.get("page_token") is None for r in pages] == [True, False, False]
    assert pages[1].query["page_token"] != pages[2].query["page_token"]


def test_list_endpoints_follows_pages(client, gateway_server):
    _check_listing(gateway_server, client.list_endpoints())


async def test_alist_endpoints_follows_pages(aclient, agateway_server):
    _check_listing(agateway_server, await aclient.alist_endpoints())


def test_list_endpoints_single_page(client, gateway_server):
    page = client._list_endpoints()
    assert [e.name for e in page] == ["chat", "completions"] and page.token
    second = client._list_endpoints(page.token)
    assert [e.name for e in second] == ["embeddings", "limited"]


def test_get_endpoint(client, gateway_server):
    endpoint = client.get_endpoint("completions")
    assert endpoint.model_dump() == {
        "name": "completions",
        "endpoint_type": "llm/v1/completions",
        "model": {"name": "gpt-3.5-turbo-instruct", "provider": "openai"},
        "endpoint_url": f"{gateway_server.base_url}/gateway/completions/invocations",
        "limit": None,
    }
    assert gateway_server.requests[-1].path == "/api/2.0/endpoints/completions"


async def test_aget_endpoint(aclient, agateway_server):
    endpoint = await aclient.aget_endpoint("limited")
    assert endpoint.endpoint_url == f"{agateway_server.base_url}/gateway/limited/invocations"
    assert endpoint.limit.calls == 2


def test_get_unknown_endpoint_raises_http_error_with_detail(client):
    with pytest.raises(requests.HTTPError, match="404") as info:
        client.get_endpoint("nope")
    assert "The endpoint 'nope' is not present or active on the server" in str(info.value)


async def test_aget_unknown_endpoint(aclient):
    with pytest.raises(requests.HTTPError, match="is not present or active"):
        await aclient.aget_endpoint("nope")


def test_invalid_endpoint_name_is_a_clear_error(client):
    for bad in (None, ""):
        with pytest.raises(MlflowException, match="Invalid endpoint") as info:
            client.predict(endpoint=bad, inputs=CHAT)
        assert info.value.error_code == INVALID_PARAMETER_VALUE


# --- predict ----------------------------------------------------------------------------------
def test_predict_chat_completions_embeddings(client, gateway_server):
    chat = client.predict(endpoint="chat", inputs=CHAT)
    assert chat["object"] == "chat.completion"
    assert chat["choices"][0]["message"] == {"role": "assistant", "content": "Echo: Tell me a joke"}
    completion = client.predict(endpoint="completions", inputs={"prompt": "one small step"})
    assert completion["choices"][0]["text"] == "Echo: one small step"
    embeddings = client.predict(endpoint="embeddings", inputs={"input": ["a", "b"]})
    assert [d["index"] for d in embeddings["data"]] == [0, 1]
    posted = gateway_server.requests_to("/endpoints/*/invocations", "POST")
    assert [r.path for r in posted] == [
        "/endpoints/chat/invocations",
        "/endpoints/completions/invocations",
        "/endpoints/embeddings/invocations",
    ]
    assert posted[0].json() == CHAT


async def test_apredict_chat_completions_embeddings(aclient, agateway_server):
    chat = await aclient.apredict(endpoint="chat", inputs=CHAT)
    assert chat["choices"][0]["finish_reason"] == "stop"
    completion = await aclient.apredict(endpoint="completions", inputs={"prompt": "hi"})
    assert completion["object"] == "text_completion"
    embeddings = await aclient.apredict(endpoint="embeddings", inputs={"input": "x"})
    assert len(embeddings["data"][0]["embedding"]) == 8
    assert len(agateway_server.requests_to("/endpoints/*/invocations")) == 3


def test_predict_unknown_endpoint(client):
    with pytest.raises(requests.HTTPError, match="404") as info:
        client.predict(endpoint="nope", inputs=CHAT)
    assert '{"detail": "Not Found"}' in str(info.value)


def test_predict_invalid_payload_surfaces_validation_error(client):
    with pytest.raises(requests.HTTPError, match="422") as info:
        client.predict(endpoint="chat", inputs={"prompt": "wrong shape"})
    assert "messages" in str(info.value)


def test_predict_retries_transient_statuses(client, gateway_server):
    gateway_server.inject(503, times=1, path="/endpoints/chat/invocations")
    gateway_server.inject(429, times=1, path="/endpoints/chat/invocations")
    assert client.predict(endpoint="chat", inputs=CHAT)["object"] == "chat.completion"
    assert len(gateway_server.requests_to("/endpoints/chat/invocations")) == 3


def test_predict_does_not_retry_other_errors(client, gateway_server):
    gateway_server.inject(504, times=1, path="/endpoints/chat/invocations")
    with pytest.raises(requests.HTTPError, match="504"):
        client.predict(endpoint="chat", inputs=CHAT)
    assert len(gateway_server.requests_to("/endpoints/chat/invocations")) == 1


def test_gateway_limit_is_enforced_with_429(gateway_server, monkeypatch):
    # The client would pace itself to the advertised limit (see tests/deployments/
    # test_throttling.py); unthrottled, the gateway's own enforcement shows.
    client = MlflowDeploymentClient(gateway_server.base_url, throttle=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    for _ in range(2):
        client.predict(endpoint="limited", inputs=CHAT)
    with pytest.raises(requests.HTTPError, match="429") as info:
        client.predict(endpoint="limited", inputs=CHAT)
    assert "Rate limit exceeded: 2 per 1 minute" in str(info.value)
    assert gateway_server.rejected == 1


def test_predict_timeout_names_the_environment_variable(client, gateway_server, monkeypatch):
    monkeypatch.setenv("MLFLOW_DEPLOYMENT_PREDICT_TIMEOUT", "1")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    gateway_server.inject(delay=1.5, times=None, path="/endpoints/chat/invocations")
    with pytest.raises(MlflowException, match="MLFLOW_DEPLOYMENT_PREDICT_TIMEOUT") as info:
        client.predict(endpoint="chat", inputs=CHAT)
    assert info.value.error_code == BAD_REQUEST
    assert "The provider has timed out" in info.value.message


async def test_apredict_timeout_names_the_environment_variable(
    aclient, agateway_server, monkeypatch
):
    monkeypatch.setenv("MLFLOW_DEPLOYMENT_PREDICT_TIMEOUT", "1")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    agateway_server.inject(delay=1.5, times=None, path="/endpoints/chat/invocations")
    with pytest.raises(MlflowException, match="MLFLOW_DEPLOYMENT_PREDICT_TIMEOUT"):
        await aclient.apredict(endpoint="chat", inputs=CHAT)


# --- timeouts and retry settings passed to the transport --------------------------------------
def test_management_calls_use_the_deployment_client_timeout(client, record_http, monkeypatch):
    client.get_endpoint("chat")
    client.list_endpoints()
    assert {c["timeout"] for c in record_http} == {300}
    monkeypatch.setenv("MLFLOW_DEPLOYMENT_CLIENT_HTTP_REQUEST_TIMEOUT", "420")
    client.get_endpoint("chat")
    assert record_http[-1]["timeout"] == 420
    assert record_http[-1]["retry_codes"] == frozenset({429, 500, 502, 503})
    assert record_http[-1]["raise_on_status"] is False


def test_callers_timeout_wins(client, record_http, monkeypatch):
    monkeypatch.setenv("MLFLOW_DEPLOYMENT_CLIENT_HTTP_REQUEST_TIMEOUT", "420")
    assert client._call_endpoint("GET", "/api/2.0/endpoints/chat", timeout=7)["name"] == "chat"
    assert record_http[-1]["timeout"] == 7


def test_predict_uses_the_predict_timeout(client, record_http, monkeypatch):
    monkeypatch.setenv("MLFLOW_DEPLOYMENT_PREDICT_TIMEOUT", "33")
    client.predict(endpoint="chat", inputs=CHAT)
    list(client.predict_stream(endpoint="chat", inputs=CHAT))
    assert [c["timeout"] for c in record_http] == [33, 33]
    assert [c.get("stream") for c in record_http] == [False, True]


def test_every_query_goes_through_the_predict_seam(client, monkeypatch):
    seen = []
    real = MlflowDeploymentClient._asend_predict

    async def spy(self, endpoint, body, *, stream=False, **options):
        seen.append((endpoint, stream))
        return await real(self, endpoint, body, stream=stream, **options)

    monkeypatch.setattr(MlflowDeploymentClient, "_asend_predict", spy)
    client.predict(endpoint="chat", inputs=CHAT)
    list(client.predict_stream(endpoint="completions", inputs={"prompt": "a"}))
    assert seen == [("chat", False), ("completions", True)]


def test_tracking_token_is_sent_as_bearer(client, gateway_server, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok-123")
    client.get_endpoint("chat")
    assert gateway_server.requests[-1].header("Authorization") == "Bearer tok-123"


# --- streaming --------------------------------------------------------------------------------
def test_predict_stream_chat(client, gateway_server):
    chunks = list(client.predict_stream(endpoint="chat", inputs=CHAT))
    text = "".join(c["choices"][0]["delta"]["content"] for c in chunks)
    assert text == "Echo: Tell me a joke"
    assert chunks[0]["object"] == "chat.completion.chunk"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    # The limit lookup runs beside the query and may land after it: look at the POST.
    assert gateway_server.requests_to("/endpoints/chat/invocations")[-1].json() == {
        **CHAT,
        "stream": True,
    }


async def test_apredict_stream_completions(aclient, agateway_server):
    chunks = [
        c async for c in aclient.apredict_stream(endpoint="completions", inputs={"prompt": "a b c"})
    ]
    assert "".join(c["choices"][0]["text"] for c in chunks) == "Echo: a b c"
    posts = agateway_server.requests_to("/endpoints/completions/invocations")
    assert posts[-1].json()["stream"] is True


def test_predict_stream_stops_at_done_marker(gateway_server, client):
    gateway_server.done_marker = True
    chunks = list(client.predict_stream(endpoint="chat", inputs=CHAT))
    assert len(chunks) == 5


def test_predict_stream_error_status(client):
    with pytest.raises(requests.HTTPError, match="404"):
        list(client.predict_stream(endpoint="nope", inputs=CHAT))


def test_predict_stream_closed_early(client, gateway_server):
    gateway_server.stream_delay = 0.01
    stream = client.predict_stream(endpoint="chat", inputs=CHAT)
    first = next(stream)
    stream.close()
    assert first["choices"][0]["delta"]["role"] == "assistant"
    # The client is still usable afterwards.
    assert client.predict(endpoint="chat", inputs=CHAT)["object"] == "chat.completion"


# --- not supported ----------------------------------------------------------------------------
def test_management_of_deployments_and_endpoints_is_not_implemented(client):
    calls = [
        lambda: client.create_endpoint(name="test"),
        lambda: client.update_endpoint(endpoint="test"),
        lambda: client.delete_endpoint(endpoint="test"),
        lambda: client.create_deployment("d", "uri"),
        lambda: client.update_deployment("d"),
        lambda: client.delete_deployment("d"),
        lambda: client.list_deployments(),
        lambda: client.get_deployment("d"),
    ]
    for call in calls:
        with pytest.raises(NotImplementedError):
            call()


async def test_async_management_is_not_implemented(aclient):
    for coro in (
        aclient.acreate_endpoint("test"),
        aclient.aupdate_endpoint("test"),
        aclient.adelete_endpoint("test"),
        aclient.acreate_deployment("d", "uri"),
        aclient.aupdate_deployment("d"),
        aclient.adelete_deployment("d"),
        aclient.alist_deployments(),
        aclient.aget_deployment("d"),
    ):
        with pytest.raises(NotImplementedError):
            await coro
