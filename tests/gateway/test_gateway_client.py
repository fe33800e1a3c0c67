"""The legacy MlflowGatewayClient and mlflow.gateway's module functions (deprecated), on the same
core, against the loopback gateway and the fake Databricks workspace."""

from __future__ import annotations

import pytest
import requests

import mlflow.deployments.databricks as databricks_module
import mlflow.gateway.utils as gateway_utils
from mlflow import gateway
from mlflow.exceptions import BAD_REQUEST, INVALID_PARAMETER_VALUE, MlflowException
from mlflow.gateway import MlflowGatewayClient
from mlflow.gateway.config import LimitsConfig, Route
from mlflow.testing import DatabricksServer, GatewayEndpoint, GatewayServer
from mlflow.utils.rest_utils import MlflowHostCreds

DEPRECATED = r"MLflow AI gateway is deprecated.*mlflow\.deployments"
CHAT = {"messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(autouse=True)
def clean(monkeypatch):
    monkeypatch.setattr(gateway_utils, "_gateway_uri", None)
    for name in ("MLFLOW_GATEWAY_URI", "MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")


@pytest.fixture
def server():
    endpoints = [GatewayEndpoint(f"r{i}", "llm/v1/chat") for i in range(3)]
    endpoints.append(GatewayEndpoint("completions", "llm/v1/completions"))
    server = GatewayServer(endpoints, page_size=2)
    server.start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture
def client(server):
    with pytest.warns(FutureWarning, match=DEPRECATED):
        return MlflowGatewayClient(server.base_url)


@pytest.fixture
def databricks(monkeypatch):
    server = DatabricksServer()
    server.start_in_thread()
    monkeypatch.setattr(
        databricks_module,
        "get_databricks_host_creds",
        lambda uri: MlflowHostCreds(host=server.base_url, token=server.token),
    )
    yield server
    server.stop_thread()


def test_gateway_uri(monkeypatch):
    with (
        pytest.raises(MlflowException, match="No Gateway server uri has been set"),
        pytest.warns(FutureWarning, match=DEPRECATED),
    ):
        gateway.get_gateway_uri()
    monkeypatch.setenv("MLFLOW_GATEWAY_URI", "http://env:1")
    with pytest.warns(FutureWarning, match=DEPRECATED):
        assert gateway.get_gateway_uri() == "http://env:1"
    for uri in ("databricks", "databricks://profile", "http://set:2"):
        with pytest.warns(FutureWarning, match=DEPRECATED):
            gateway.set_gateway_uri(uri)
        with pytest.warns(FutureWarning):
            assert gateway.get_gateway_uri() == uri
    with (
        pytest.raises(MlflowException, match="missing required elements") as info,
        pytest.warns(FutureWarning),
    ):
        gateway.set_gateway_uri("not-a-uri")
    assert info.value.error_code == INVALID_PARAMETER_VALUE


def test_get_route_and_search_routes(client, server):
    with pytest.warns(FutureWarning, match=DEPRECATED):
        route = client.get_route("r1")
    assert isinstance(route, Route)
    assert route.route_url == f"{server.base_url}/gateway/r1/invocations"
    assert route.route_type == "llm/v1/chat"
    with pytest.warns(FutureWarning):
        page = client.search_routes()
    assert [r.name for r in page] == ["r0", "r1"] and page.token
    with pytest.warns(FutureWarning):
        rest = client.search_routes(page_token=page.token)
    assert [r.name for r in rest] == ["r2", "completions"] and rest.token is None
    assert server.requests[-1].query == {"page_token": page.token}


def test_query(client, server):
    with pytest.warns(FutureWarning, match=DEPRECATED):
        response = client.query("completions", {"prompt": "one small step"})
    assert response["choices"][0]["text"] == "Echo: one small step"
    assert server.requests[-1].path == "/gateway/completions/invocations"
    with pytest.raises(requests.HTTPError, match="404"), pytest.warns(FutureWarning):
        client.query("nope", CHAT)


async def test_async_twins():
    async with GatewayServer() as server:
        with pytest.warns(FutureWarning):
            client = MlflowGatewayClient(server.base_url)
        with pytest.warns(FutureWarning, match=DEPRECATED):
            route = await client.aget_route("chat")
        assert route.name == "chat"
        with pytest.warns(FutureWarning):
            assert len(await client.asearch_routes()) == 3
        with pytest.warns(FutureWarning):
            response = await client.aquery("chat", CHAT)
        assert response["object"] == "chat.completion"


def test_databricks_only_operations_elsewhere(client, server):
    with (
        pytest.raises(MlflowException, match="The create_route API is only available") as info,
        pytest.warns(FutureWarning),
    ):
        client.create_route("x", "llm/v1/chat", {"name": "m", "provider": "openai"})
    assert info.value.error_code == BAD_REQUEST
    with (
        pytest.raises(MlflowException, match="The delete_route API is only available"),
        pytest.warns(FutureWarning),
    ):
        client.delete_route("x")
    # Limits: the gateway itself refuses, as MLflow's does.
    with pytest.raises(requests.HTTPError, match="501"), pytest.warns(FutureWarning):
        client.set_limits("r0", [{"calls": 1, "renewal_period": "minute"}])
    with (
        pytest.raises(requests.HTTPError, match="The get_limits API is not available yet"),
        pytest.warns(FutureWarning),
    ):
        client.get_limits("r0")
    with (
        pytest.raises(MlflowException, match="A non-empty string is required for the route"),
        pytest.warns(FutureWarning),
    ):
        client.get_limits("")


def test_databricks_routes_and_limits(databricks):
    with pytest.warns(FutureWarning):
        client = MlflowGatewayClient("databricks")
    model = {"name": "gpt-4", "provider": "openai", "openai_config": {"openai_api_key": "k"}}
    with pytest.warns(FutureWarning):
        created = client.create_route("my-route", "llm/v1/chat", model)
    assert created.name == "my-route"
    limits = [{"key": "user", "renewal_period": "minute", "calls": 50}]
    with pytest.warns(FutureWarning):
        result = client.set_limits("my-route", limits)
    assert isinstance(result, LimitsConfig) and result.limits[0].calls == 50
    with pytest.warns(FutureWarning):
        assert client.get_limits("my-route").limits[0].key == "user"
    with pytest.warns(FutureWarning):
        assert client.query("my-route", CHAT)["object"] == "chat.completion"
    with pytest.warns(FutureWarning):
        client.delete_route("my-route")
    assert databricks.routes == {}
    assert all(r.header("authorization") == "Bearer dapi-test-token" for r in databricks.requests)


def test_fluent_functions(server):
    with pytest.warns(FutureWarning):
        gateway.set_gateway_uri(server.base_url)
    with pytest.warns(FutureWarning, match=DEPRECATED) as caught:
        routes = gateway.search_routes()
    assert len(caught) == 1  # one warning per call, not one per page or client
    assert [r.name for r in routes] == ["r0", "r1", "r2", "completions"]
    with pytest.warns(FutureWarning):
        assert gateway.get_route("r2").name == "r2"
    with pytest.warns(FutureWarning):
        assert gateway.query("r0", CHAT)["choices"][0]["message"]["content"] == "Echo: hi"
    with pytest.raises(MlflowException, match="only available"), pytest.warns(FutureWarning):
        gateway.create_route("x")
    with pytest.raises(MlflowException, match="only available"), pytest.warns(FutureWarning):
        gateway.delete_route("x")
    with pytest.raises(requests.HTTPError, match="501"), pytest.warns(FutureWarning):
        gateway.get_limits("r0")
    with pytest.raises(requests.HTTPError, match="501"), pytest.warns(FutureWarning):
        gateway.set_limits("r0", [])


def test_client_uses_gateway_uri_from_environment(server, monkeypatch):
    monkeypatch.setenv("MLFLOW_GATEWAY_URI", server.base_url)
    with pytest.warns(FutureWarning):
        client = MlflowGatewayClient()
    assert client.gateway_uri == server.base_url
    assert "MlflowGatewayClient(gateway_uri=" in repr(client)
