"""``idempotency_key=`` on the deployment clients' queries: by default one fresh
``Idempotency-Key`` per call (kept across its retries), ``False`` sends none (a non-idempotent
call a server must not deduplicate), a str is sent as given. Against a recording loopback
server: the MLflow gateway client, the Databricks client and the legacy gateway client."""

from __future__ import annotations

import warnings

import pytest

import mlflow.deployments.databricks as databricks_module
from mlflow.deployments import get_deploy_client
from mlflow.exceptions import MlflowException
from mlflow.gateway import MlflowGatewayClient
from mlflow.utils.rest_utils import MlflowHostCreds
from tests.conftest import Reply

CHAT = {"messages": [{"role": "user", "content": "hi"}]}
SSE = Reply(headers={"Content-Type": "text/event-stream"},
            body='data: {"choices": [{"delta": {"content": "a"}}]}\n\ndata: [DONE]\n\n')
KEY = "Idempotency-Key"


def _keys(server) -> list[str | None]:
    # The queries only (the MLflow client may GET the endpoint first, for its advertised limit).
    return [a.headers.get(KEY) for a in server.attempts if a.method == "POST"]


@pytest.fixture
def databricks(monkeypatch, recording_server):
    monkeypatch.setattr(
        databricks_module, "get_databricks_host_creds",
        lambda target_uri: MlflowHostCreds(host=recording_server.url, token="dapi-test"),
    )
    return get_deploy_client("databricks")


def test_mlflow_client_predict(recording_server):
    client = get_deploy_client(recording_server.url)
    posts = []

    def first_post_fails(request, attempt):
        if request.method != "POST":
            return Reply(json={"name": "chat"}).build()
        posts.append(attempt)
        return (Reply(status=503) if len(posts) == 1 else Reply(json={"ok": 1})).build()

    recording_server.respond_with(first_post_fails)
    assert client.predict(endpoint="chat", inputs=CHAT) == {"ok": 1}
    recording_server.respond_with(None)
    default = _keys(recording_server)
    assert len(default) == 2 and default[0] and default[0] == default[1]  # kept across a retry
    assert client.predict(endpoint="chat", inputs=CHAT, idempotency_key=False) == {"ok": True}
    assert client.predict(endpoint="chat", inputs=CHAT, idempotency_key="order-7") == {"ok": True}
    assert _keys(recording_server)[2:] == [None, "order-7"]


async def test_mlflow_client_apredict_and_streams(recording_server, monkeypatch):
    # No limit lookup: it runs beside the first prediction and could take a scripted reply.
    monkeypatch.setenv("MLFLOW_DEPLOYMENTS_CLIENT_THROTTLE", "false")
    client = get_deploy_client(recording_server.url)
    await client.apredict(endpoint="chat", inputs=CHAT, idempotency_key=False)
    recording_server.script(SSE, SSE)
    chunks = [c async for c in client.apredict_stream(endpoint="chat", inputs=CHAT,
                                                      idempotency_key="s-1")]
    assert chunks == [{"choices": [{"delta": {"content": "a"}}]}]
    assert list(client.predict_stream(endpoint="chat", inputs=CHAT, idempotency_key=False))
    assert _keys(recording_server) == [None, "s-1", None]


def test_databricks_client(databricks, recording_server):
    databricks.predict(endpoint="chat", inputs=CHAT)
    databricks.predict(endpoint="chat", inputs=CHAT, idempotency_key=False)
    recording_server.script(SSE)
    assert list(databricks.predict_stream(endpoint="chat", inputs=CHAT, idempotency_key="d-1"))
    keys = _keys(recording_server)
    assert keys[0] and keys[1:] == [None, "d-1"]
    assert recording_server.paths() == ["/serving-endpoints/chat/invocations"] * 3


async def test_databricks_client_async(databricks, recording_server):
    await databricks.apredict(endpoint="chat", inputs=CHAT, idempotency_key="a-1")
    recording_server.script(SSE)
    assert [c async for c in databricks.apredict_stream(endpoint="chat", inputs=CHAT,
                                                        idempotency_key=False)]
    assert _keys(recording_server) == ["a-1", None]


def test_legacy_gateway_client_query(recording_server):
    with pytest.warns(FutureWarning, match="MLflow AI gateway is deprecated"):
        client = MlflowGatewayClient(recording_server.url)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        client.query("chat", CHAT)
        client.query("chat", CHAT, idempotency_key=False)
        client.query("chat", CHAT, idempotency_key="g-1")
    keys = _keys(recording_server)
    assert keys[0] and keys[1:] == [None, "g-1"]


def test_a_bad_key_is_refused_before_sending(recording_server):
    client = get_deploy_client(recording_server.url)
    with pytest.raises(MlflowException, match="idempotency_key"):
        client.predict(endpoint="chat", inputs=CHAT, idempotency_key="bad\r\nX-Injected: 1")
    assert _keys(recording_server) == []  # the query was never sent
