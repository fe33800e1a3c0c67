"""DatabricksDeploymentClient against the loopback fake workspace, blocking and awaited."""

from __future__ import annotations

import warnings

import pytest
import requests

from mlflow.deployments import DatabricksEndpoint, get_deploy_client
from mlflow.exceptions import MlflowException

CHAT = {"messages": [{"role": "user", "content": "Hello!"}]}
HEADER = ("x-databricks-endpoints-api-client", "Databricks Deployment Client")
NEW_STYLE = {
    "name": "test",
    "config": {"served_entities": [{"external_model": {"name": "gpt-4", "provider": "openai"}}]},
}


@pytest.fixture
def client(databricks_server):
    return get_deploy_client("databricks")


@pytest.fixture
async def aclient(adatabricks_server):
    return get_deploy_client("databricks")


def _assert_client_header_on_every_call(server):
    assert server.requests
    assert all(r.header(HEADER[0]) == HEADER[1] for r in server.requests)
    assert all(r.header("authorization") == f"Bearer {server.token}" for r in server.requests)


# --- management -------------------------------------------------------------------------------
def test_endpoint_lifecycle(client, databricks_server):
    assert [e["name"] for e in client.list_endpoints()] == ["chat", "completions", "embeddings"]
    created = client.create_endpoint(config=NEW_STYLE)
    assert isinstance(created, DatabricksEndpoint) and created.name == "test"
    assert client.get_endpoint("test").state.ready == "READY"
    updated = client.update_endpoint_config("test", {"served_entities": []})
    assert updated["config"] == {"served_entities": []}
    tags = client.update_endpoint_tags("test", {"add_tags": [{"key": "team", "value": "ml"}]})
    assert tags == {"tags": [{"key": "team", "value": "ml"}]}
    limits = {"rate_limits": [{"calls": 10, "key": "endpoint", "renewal_period": "minute"}]}
    assert client.update_endpoint_rate_limits("test", limits) == limits
    gateway = {"usage_tracking_config": {"enabled": True}}
    assert client.update_endpoint_ai_gateway("test", gateway) == gateway
    assert client.delete_endpoint("test") == {}
    with pytest.raises(requests.HTTPError, match="RESOURCE_DOES_NOT_EXIST"):
        client.get_endpoint("test")
    methods_and_paths = [(r.method, r.path) for r in databricks_server.requests]
    assert methods_and_paths == [
        ("GET", "/api/2.0/serving-endpoints/"),
        ("POST", "/api/2.0/serving-endpoints/"),
        ("GET", "/api/2.0/serving-endpoints/test"),
        ("PUT", "/api/2.0/serving-endpoints/test/config"),
        ("PATCH", "/api/2.0/serving-endpoints/test/tags"),
        ("PUT", "/api/2.0/serving-endpoints/test/rate-limits"),
        ("PUT", "/api/2.0/serving-endpoints/test/ai-gateway"),
        ("DELETE", "/api/2.0/serving-endpoints/test"),
        ("GET", "/api/2.0/serving-endpoints/test"),
    ]
    _assert_client_header_on_every_call(databricks_server)


async def test_async_endpoint_lifecycle(aclient, adatabricks_server):
    assert len(await aclient.alist_endpoints()) == 3
    with pytest.warns(UserWarning, match="deprecated"):
        created = await aclient.acreate_endpoint(name="legacy", config={"served_entities": []})
    assert created["name"] == "legacy"
    assert (await aclient.aget_endpoint("legacy"))["config"] == {"served_entities": []}
    assert (await aclient.aupdate_endpoint_config("legacy", {"x": 1}))["config"] == {"x": 1}
    assert await aclient.aupdate_endpoint_tags("legacy", {"add_tags": []}) == {"tags": []}
    assert await aclient.aupdate_endpoint_rate_limits("legacy", {"rate_limits": []}) == {
        "rate_limits": []
    }
    assert await aclient.aupdate_endpoint_ai_gateway("legacy", {"a": 1}) == {"a": 1}
    with pytest.warns(FutureWarning, match="aupdate_endpoint`` is deprecated"), \
            pytest.warns(UserWarning, match="`update_endpoint` method is deprecated"):
        await aclient.aupdate_endpoint("legacy", {"rate_limits": []})
    assert await aclient.adelete_endpoint("legacy") == {}
    assert adatabricks_server.requests[-2].path.endswith("/legacy/rate-limits")
    _assert_client_header_on_every_call(adatabricks_server)


def test_create_endpoint_payload_styles(client, databricks_server):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        client.create_endpoint(config=NEW_STYLE)  # the full payload: no warning
    with pytest.warns(
        UserWarning,
        match="Passing 'name' as a parameter is deprecated. Please "
        "specify 'name' only within the config dictionary.",
    ):
        client.create_endpoint(name="n2", config={**NEW_STYLE, "name": "n2"})
    with pytest.warns(
        UserWarning,
        match="Passing 'name', 'config', and 'route_optimized' as "
        "separate parameters is deprecated",
    ):
        client.create_endpoint(
            name="n3",
            config={"served_entities": [], "tags": [{"key": "k", "value": "v"}]},
            route_optimized=True,
        )
    legacy = databricks_server.requests[-1].json()
    assert legacy == {
        "name": "n3",
        "config": {"served_entities": []},
        "route_optimized": True,
        "tags": [{"key": "k", "value": "v"}],
    }
    with pytest.raises(MlflowException, match="Name mismatch. Found 'a' as parameter and 'b'"):
        client.create_endpoint(name="a", config={**NEW_STYLE, "name": "b"})
    with pytest.raises(MlflowException, match="Conflicting 'route_optimized' values found"):
        client.create_endpoint(config={**NEW_STYLE, "route_optimized": False}, route_optimized=True)
    with pytest.raises(MlflowException, match="The 'name' field is required"):
        client.create_endpoint(config={"config": {}})
    assert len(databricks_server.requests_to("/api/2.0/serving-endpoints*", "POST")) == 3


def test_deprecated_update_endpoint_picks_the_route(client, databricks_server):
    with pytest.warns(FutureWarning, match="update_endpoint`` is deprecated"), \
            pytest.warns(UserWarning, match="`update_endpoint` method is deprecated"):
        client.update_endpoint("chat", {"rate_limits": [{"calls": 1, "renewal_period": "minute"}]})
    with pytest.warns(FutureWarning, match="update_endpoint`` is deprecated"), \
            pytest.warns(UserWarning, match="`update_endpoint` method is deprecated"):
        client.update_endpoint("chat", {"served_entities": [], "rate_limits": []})
    paths = [r.path for r in databricks_server.requests]
    assert paths == [
        "/api/2.0/serving-endpoints/chat/rate-limits",
        "/api/2.0/serving-endpoints/chat/config",
    ]


def test_list_endpoints_of_an_empty_workspace(client, databricks_server):
    databricks_server.serving.clear()
    databricks_server.inject(200, {}, path="/api/2.0/serving-endpoints/")
    assert client.list_endpoints() == []


def test_deployments_are_not_implemented(client):
    for call in (
        lambda: client.create_deployment("d", "uri"),
        lambda: client.update_deployment("d"),
        lambda: client.delete_deployment("d"),
        lambda: client.list_deployments(),
        lambda: client.get_deployment("d"),
    ):
        with pytest.raises(NotImplementedError):
            call()


# --- predict ----------------------------------------------------------------------------------
def test_predict(client, databricks_server):
    response = client.predict(endpoint="chat", inputs=CHAT)
    assert isinstance(response, DatabricksEndpoint)
    assert response.choices[0]["message"]["content"] == "Echo: Hello!"
    assert databricks_server.requests[-1].path == "/serving-endpoints/chat/invocations"
    assert client.predict(endpoint="embeddings", inputs={"input": ["x"]})["object"] == "list"
    _assert_client_header_on_every_call(databricks_server)


async def test_apredict(aclient, adatabricks_server):
    response = await aclient.apredict(endpoint="completions", inputs={"prompt": "hi"})
    assert response["choices"][0]["text"] == "Echo: hi"
    _assert_client_header_on_every_call(adatabricks_server)


def test_predict_timeouts_are_passed(client, record_http, monkeypatch):
    monkeypatch.setenv("MLFLOW_DEPLOYMENT_PREDICT_TOTAL_TIMEOUT", "900")
    monkeypatch.setenv("MLFLOW_DEPLOYMENT_PREDICT_TIMEOUT", "45")
    client.predict(endpoint="chat", inputs=CHAT)
    assert len(list(client.predict_stream(endpoint="chat", inputs=CHAT))) == 2
    client.get_endpoint("chat")
    assert [(c["timeout"], c["retry_timeout_seconds"]) for c in record_http] == [
        (45, 900),
        (45, 900),
        (300, None),
    ]


@pytest.mark.parametrize("streaming", [False, True])
def test_predict_warns_on_misconfigured_timeouts(client, monkeypatch, streaming):
    monkeypatch.setenv("MLFLOW_DEPLOYMENT_PREDICT_TIMEOUT", "300")
    monkeypatch.setenv("MLFLOW_DEPLOYMENT_PREDICT_TOTAL_TIMEOUT", "120")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if streaming:
            list(client.predict_stream(endpoint="chat", inputs=CHAT))
        else:
            client.predict(endpoint="chat", inputs=CHAT)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1
    assert "MLFLOW_DEPLOYMENT_PREDICT_TOTAL_TIMEOUT" in messages[0]
    assert "(120s)" in messages[0] and "(300s)" in messages[0]


def test_predict_no_warning_when_timeouts_are_consistent(client):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        client.predict(endpoint="chat", inputs=CHAT)


# --- streaming --------------------------------------------------------------------------------
def test_predict_stream(client, databricks_server):
    chunks = list(client.predict_stream(endpoint="chat", inputs=CHAT))
    assert "".join(c["choices"][0]["delta"]["content"] for c in chunks) == "Echo: Hello!"
    assert databricks_server.requests[-1].json() == {**CHAT, "stream": True}
    _assert_client_header_on_every_call(databricks_server)


async def test_apredict_stream(aclient, adatabricks_server):
    chunks = [
        c async for c in aclient.apredict_stream(endpoint="completions", inputs={"prompt": "a b"})
    ]
    assert [c["choices"][0]["text"] for c in chunks] == ["Echo: ", "a ", "b"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("garbage\n\n", "Unknown response format: 'garbage', expected 'data: <value>'"),
        ('event: {"a": 1}\n', "Unknown response format with key 'event'. Expected 'data: "),
    ],
)
def test_predict_stream_rejects_other_lines(client, databricks_server, body, message):
    databricks_server.inject(
        200, f'data: {{"n": 1}}\n\n{body}'.encode(), path="/serving-endpoints/chat/invocations"
    )
    stream = client.predict_stream(endpoint="chat", inputs=CHAT)
    assert next(stream) == {"n": 1}
    with pytest.raises(MlflowException, match=message):
        next(stream)


def test_predict_stream_stops_at_done(client, databricks_server):
    databricks_server.inject(
        200,
        b'data: {"n": 1}\n\ndata: [DONE]\n\ndata: {"n": 2}\n\n',
        path="/serving-endpoints/chat/invocations",
    )
    assert list(client.predict_stream(endpoint="chat", inputs=CHAT)) == [{"n": 1}]


def test_predict_stream_error_status(client):
    with pytest.raises(requests.HTTPError, match="RESOURCE_DOES_NOT_EXIST"):
        list(client.predict_stream(endpoint="missing", inputs=CHAT))


def test_unauthenticated_request(client, databricks_server, monkeypatch):
    import mlflow.deployments.databricks as module
    from mlflow.utils.rest_utils import MlflowHostCreds

    monkeypatch.setattr(
        module,
        "get_databricks_host_creds",
        lambda uri: MlflowHostCreds(host=databricks_server.base_url, token="wrong-token"),
    )
    with pytest.raises(requests.HTTPError, match="401") as info:
        client.list_endpoints()
    assert "UNAUTHENTICATED" in str(info.value) and "wrong-token" not in str(info.value)


def test_databricks_endpoint_attribute_access():
    endpoint = DatabricksEndpoint({"name": "x", "state": {"ready": "READY"}})
    assert endpoint.name == "x" and endpoint.state.ready == "READY"
    with pytest.raises(AttributeError):
        _ = endpoint.missing


def test_credentials_from_databricks_environment(monkeypatch):
    from mlflow.testing import DatabricksServer

    with DatabricksServer().running() as url:
        monkeypatch.setenv("DATABRICKS_HOST", url)
        monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-test-token")
        monkeypatch.setenv("MLFLOW_ENABLE_DB_SDK", "false")
        client = get_deploy_client("databricks")
        assert [e["name"] for e in client.list_endpoints()][:1] == ["chat"]


def test_missing_databricks_credentials_is_a_clear_error():
    client = get_deploy_client("databricks")
    with pytest.raises(MlflowException, match="DATABRICKS_HOST|credentials|host"):
        client.list_endpoints()


def test_update_endpoint_emits_mlflows_future_warning_then_its_user_warning(
    client, databricks_server
):
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client.update_endpoint("chat", {"rate_limits": []})
    # MLflow 3.17.2 emits exactly these two, in this order, the first at the caller's line.
    assert [(w.category, str(w.message)) for w in caught] == [
        (
            FutureWarning,
            "``mlflow.deployments.databricks.DatabricksDeploymentClient.update_endpoint`` is "
            "deprecated. This method will be removed in a future release. Use "
            "``update_endpoint_config, update_endpoint_tags, update_endpoint_rate_limits, or "
            "update_endpoint_ai_gateway`` instead.",
        ),
        (
            UserWarning,
            "The `update_endpoint` method is deprecated. Use the specific update methods—"
            "`update_endpoint_config`, `update_endpoint_tags`, `update_endpoint_rate_limits`, "
            "`update_endpoint_ai_gateway`—instead.",
        ),
    ]
    assert caught[0].filename == __file__
