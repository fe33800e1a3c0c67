"""Fixtures: the loopback servers (in the test's loop, or on a thread for blocking tests) and a
clean environment for every test."""

from __future__ import annotations

import pytest

import mlflow.deployments.databricks as databricks_module
import mlflow.deployments.utils as deployment_utils
from mlflow.testing import DatabricksServer, GatewayEndpoint, GatewayServer, OpenAIServer
from mlflow.utils.rest_utils import MlflowHostCreds

_ISOLATED_ENV = (
    "MLFLOW_DEPLOYMENTS_TARGET",
    "MLFLOW_DEPLOYMENT_PREDICT_TIMEOUT",
    "MLFLOW_DEPLOYMENT_PREDICT_TOTAL_TIMEOUT",
    "MLFLOW_DEPLOYMENT_CLIENT_HTTP_REQUEST_TIMEOUT",
    "MLFLOW_HTTP_REQUEST_TIMEOUT",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_AUTH",
    "MLFLOW_TRACKING_AWS_SIGV4",
    "MLFLOW_GATEWAY_URI",
    "OPENAI_API_KEY",
    "OPENAI_API_BASE",
    "OPENAI_API_TYPE",
    "OPENAI_API_VERSION",
    "OPENAI_DEPLOYMENT_NAME",
    "DATABRICKS_HOST",
    "DATABRICKS_TOKEN",
    "raiseError",
    "FAKETARGET_PREDICT_DELAY",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in _ISOLATED_ENV:
        monkeypatch.delenv(name, raising=False)
    # Fast, bounded retries: no backoff sleeps, at most two retries.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", "0")
    monkeypatch.setattr(deployment_utils, "_deployments_target", None)


def five_endpoints() -> list[GatewayEndpoint]:
    return [
        GatewayEndpoint("chat", "llm/v1/chat", "gpt-4o-mini"),
        GatewayEndpoint("completions", "llm/v1/completions", "gpt-3.5-turbo-instruct"),
        GatewayEndpoint("embeddings", "llm/v1/embeddings", "text-embedding-3-small"),
        GatewayEndpoint(
            "limited", "llm/v1/chat", "gpt-4o", limit={"calls": 2, "renewal_period": "minute"}
        ),
        GatewayEndpoint("chat-2", "llm/v1/chat", "claude", provider="anthropic"),
    ]


@pytest.fixture
def gateway_server():
    """A gateway on a background thread (for blocking tests), listing 2 endpoints per page."""
    server = GatewayServer(five_endpoints(), page_size=2)
    server.start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture
async def agateway_server():
    """The same gateway, served by the running test loop (for async tests)."""
    async with GatewayServer(five_endpoints(), page_size=2) as server:
        yield server


@pytest.fixture
def openai_server(monkeypatch):
    server = OpenAIServer()
    server.start_in_thread()
    monkeypatch.setenv("OPENAI_API_KEY", server.api_key)
    monkeypatch.setenv("OPENAI_API_BASE", server.api_base)
    yield server
    server.stop_thread()


@pytest.fixture
async def aopenai_server(monkeypatch):
    async with OpenAIServer() as server:
        monkeypatch.setenv("OPENAI_API_KEY", server.api_key)
        monkeypatch.setenv("OPENAI_API_BASE", server.api_base)
        yield server


def _point_databricks_at(monkeypatch, server: DatabricksServer) -> None:
    # Stand-in for the workspace's credential resolution (DATABRICKS_HOST / DATABRICKS_TOKEN).
    monkeypatch.setattr(
        databricks_module,
        "get_databricks_host_creds",
        lambda target_uri: MlflowHostCreds(host=server.base_url, token=server.token),
    )


@pytest.fixture
def databricks_server(monkeypatch):
    server = DatabricksServer()
    server.start_in_thread()
    _point_databricks_at(monkeypatch, server)
    yield server
    server.stop_thread()


@pytest.fixture
async def adatabricks_server(monkeypatch):
    async with DatabricksServer() as server:
        _point_databricks_at(monkeypatch, server)
        yield server


@pytest.fixture
def record_http(monkeypatch):
    """Wrap ``ahttp_request`` where the clients call it; returns the list of call kwargs."""
    import mlflow.deployments._http as shared_http
    import mlflow.deployments.mlflow as mlflow_client
    import mlflow.deployments.openai as openai_client
    import mlflow.deployments.openai._sdk as openai_sdk

    calls: list[dict] = []
    # The management calls (and every Databricks call) go through ``_http.acall``; the openai
    # target's predictions go through the SDK's transport (``_sdk``).
    for module in (shared_http, mlflow_client, openai_client, openai_sdk):
        real = module.ahttp_request

        async def recording(*args, _real=real, **kwargs):
            calls.append(kwargs)
            return await _real(*args, **kwargs)

        monkeypatch.setattr(module, "ahttp_request", recording)
    return calls
