"""The Databricks SDK path (use_databricks_sdk): a real databricks-sdk WorkspaceClient talking to a
loopback fake workspace, with MLflow's retry rules and deadline on top."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from mlflow.exceptions import CUSTOMER_UNAUTHORIZED, MlflowException, RestException
from mlflow.utils import databricks_sdk_transport
from mlflow.utils.databricks_utils import get_databricks_host_creds
from mlflow.utils.rest_utils import (
    MlflowHostCreds,
    ahttp_request,
    http_request,
    verify_rest_response,
)
from mlflow.version import VERSION
from tests.auth.helpers import FakeWorkspace

pytestmark = pytest.mark.timeout(90)

PAT = "dapi-0123456789abcdef-pat-secret"
CLIENT_ID = "sp-client-id-1234"
CLIENT_SECRET = "dose-m2m-client-secret-5678"
FAST = {"backoff_factor": 0, "backoff_jitter": 0}


def _pat_creds(ws: FakeWorkspace, **kwargs) -> MlflowHostCreds:
    return MlflowHostCreds(ws.url, token=PAT, use_databricks_sdk=True, **kwargs)


def _error(status: int, code: str | None, message: str, headers: dict | None = None):
    payload = {"message": message} if code is None else {"error_code": code, "message": message}
    return status, payload, headers


# --- authentication --------------------------------------------------------------------------
def test_pat_bearer_token_reaches_the_workspace(monkeypatch):
    monkeypatch.setenv("MLFLOW_DATABRICKS_TRAFFIC_ID", "traffic-77")
    with FakeWorkspace(pat=PAT) as ws:
        response = http_request(
            _pat_creds(ws, workspace_id="1234"), "/api/2.0/serving-endpoints/e1", "GET",
            params={"view": "full", "flag": True}, extra_headers={"X-Extra": "e"},
        )
    assert response.status_code == 200, response.text
    echoed = response.json()
    assert echoed["path"] == "/api/2.0/serving-endpoints/e1"
    # The SDK writes booleans the Databricks way.
    assert sorted(echoed["query"]) == [["flag", "true"], ["view", "full"]]
    (api,) = ws.api_requests()
    assert api.headers["Authorization"] == f"Bearer {PAT}"
    assert api.headers["X-MLflow-Client-Version"] == VERSION
    assert api.headers["X-Extra"] == "e"
    assert api.headers["x-databricks-traffic-id"] == "traffic-77"
    assert api.headers["x-databricks-org-id"] == "1234"
    assert "databricks-sdk-py" in api.headers["User-Agent"]


async def test_oauth_m2m_token_from_the_token_endpoint():
    with FakeWorkspace(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as ws:
        creds = MlflowHostCreds(
            ws.url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, use_databricks_sdk=True
        )
        first = await ahttp_request(creds, "/api/2.0/serving-endpoints", "GET")
        second = await ahttp_request(creds, "/api/2.0/serving-endpoints", "POST", json={"n": 1})
    assert first.status_code == second.status_code == 200
    assert second.json()["json"] == {"n": 1}
    paths = [r.path for r in ws.requests]
    assert "/oidc/.well-known/oauth-authorization-server" in paths
    assert paths.count("/oidc/v1/token") == 1  # the client and its token are reused
    assert ws.issued == ["m2m-access-1"]
    assert [r.headers["Authorization"] for r in ws.api_requests()] == ["Bearer m2m-access-1"] * 2


def test_profile_from_databrickscfg(isolated_environment):
    with FakeWorkspace(pat=PAT) as ws:
        (isolated_environment / ".databrickscfg").write_text(
            f"[DEFAULT]\nhost = https://wrong.example.com\ntoken = nope\n\n"
            f"[staging]\nhost = {ws.url}\ntoken = {PAT}\n"
        )
        creds = get_databricks_host_creds("databricks://staging")
        assert creds.use_databricks_sdk is True
        assert creds.databricks_auth_profile == "staging"
        assert creds.host == ws.url and creds.token == PAT
        response = http_request(creds, "/api/2.0/x", "GET")
    assert response.status_code == 200, response.text
    assert ws.api_requests()[0].headers["Authorization"] == f"Bearer {PAT}"


def test_environment_host_and_token(monkeypatch):
    with FakeWorkspace(pat=PAT) as ws:
        monkeypatch.setenv("DATABRICKS_HOST", ws.url)
        monkeypatch.setenv("DATABRICKS_TOKEN", PAT)
        creds = get_databricks_host_creds("databricks")
        assert creds.use_databricks_sdk is True and creds.token == PAT
        response = http_request(creds, "/api/2.0/x", "GET")
    assert response.status_code == 200, response.text


def test_wrong_token_is_a_401_response():
    with FakeWorkspace(pat=PAT) as ws:
        creds = MlflowHostCreds(ws.url, token="dapi-wrong", use_databricks_sdk=True)
        response = http_request(creds, "/api/2.0/x", "GET")
    assert response.status_code == 401
    assert response.json()["error_code"] == "UNAUTHENTICATED"
    assert len(ws.api_requests()) == 1  # not a retryable status


def test_oauth_secret_without_the_sdk_raises_mlflows_message(monkeypatch):
    monkeypatch.setenv("MLFLOW_ENABLE_DB_SDK", "false")
    with FakeWorkspace(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as ws:
        monkeypatch.setenv("DATABRICKS_HOST", ws.url)
        monkeypatch.setenv("DATABRICKS_CLIENT_ID", CLIENT_ID)
        monkeypatch.setenv("DATABRICKS_CLIENT_SECRET", CLIENT_SECRET)
        creds = get_databricks_host_creds()
        assert creds.use_databricks_sdk is False and creds.client_secret == CLIENT_SECRET
        with pytest.raises(MlflowException) as info:
            http_request(creds, "/api/2.0/x", "GET")
    assert str(info.value) == (
        "To use OAuth authentication, set environmental variable 'MLFLOW_ENABLE_DB_SDK' to true"
    )
    assert info.value.error_code == CUSTOMER_UNAUTHORIZED
    assert ws.requests == []


def test_unconfigurable_sdk_is_a_clear_error():
    with FakeWorkspace(pat=PAT) as ws:
        creds = MlflowHostCreds(ws.url, use_databricks_sdk=True)  # no auth anywhere
        with pytest.raises(MlflowException, match="Could not configure the Databricks SDK client"):
            http_request(creds, "/api/2.0/x", "GET")
    assert ws.api_requests() == []


def test_client_is_built_once_per_configuration():
    with FakeWorkspace(pat=PAT) as ws:
        creds = _pat_creds(ws)
        for _ in range(3):
            assert http_request(creds, "/api/2.0/x", "GET", timeout=30).status_code == 200
        http_request(creds, "/api/2.0/x", "GET", timeout=31)
    metadata = [r for r in ws.requests if r.path == "/.well-known/databricks-config"]
    assert len(metadata) == 2  # one client per (creds, timeout, retry timeout)
    client = databricks_sdk_transport._workspace_client(creds, 31, 500)
    assert client.config.http_timeout_seconds == 31
    assert client.config.retry_timeout_seconds == 500


# --- errors and retries ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("answer", "status"),
    [
        (_error(404, "RESOURCE_DOES_NOT_EXIST", "no such endpoint"), 404),
        (_error(400, "INVALID_PARAMETER_VALUE", "bad input"), 400),
        (_error(403, "PERMISSION_DENIED", "not yours"), 403),
        (_error(409, "RESOURCE_ALREADY_EXISTS", "exists"), 400),  # MLflow's code -> status map
        (_error(418, None, "teapot"), 500),  # no error code: 500
    ],
)
def test_databricks_errors_become_responses(answer, status):
    with FakeWorkspace(pat=PAT) as ws:
        ws.script.append(answer)
        response = http_request(_pat_creds(ws), "/api/2.0/x", "GET", max_retries=0)
    body = response.json()
    assert response.status_code == status
    assert set(body) == {"error_code", "message"}
    assert body["error_code"] == answer[1].get("error_code")
    assert answer[1]["message"] in body["message"]
    assert response.url.endswith("/api/2.0/x")


def test_error_response_feeds_verify_rest_response():
    with FakeWorkspace(pat=PAT) as ws:
        ws.script.append(_error(404, "RESOURCE_DOES_NOT_EXIST", "no such endpoint"))
        response = http_request(_pat_creds(ws), "/api/2.0/x", "GET")
    with pytest.raises(RestException, match="RESOURCE_DOES_NOT_EXIST: no such endpoint"):
        verify_rest_response(response, "/api/2.0/x")


def test_transient_errors_are_retried_until_success():
    with FakeWorkspace(pat=PAT) as ws:
        ws.script.extend([_error(500, "INTERNAL_ERROR", "boom")] * 2)
        response = http_request(
            _pat_creds(ws), "/api/2.0/x", "POST", json={"k": "v"}, max_retries=3, **FAST
        )
    assert response.status_code == 200
    api = ws.api_requests()
    assert len(api) == 3
    assert all(r.headers["Authorization"] == f"Bearer {PAT}" for r in api)
    assert all(r.json() == {"k": "v"} for r in api)


def test_backoff_first_retry_immediate_then_exponential():
    with FakeWorkspace(pat=PAT) as ws:
        ws.script.extend([_error(500, "INTERNAL_ERROR", "boom")] * 3)
        response = http_request(
            _pat_creds(ws), "/api/2.0/x", "GET", max_retries=3, backoff_factor=0.1,
            backoff_jitter=0,
        )
    assert response.status_code == 200
    at = [r.at for r in ws.api_requests()]
    gaps = [b - a for a, b in zip(at, at[1:], strict=False)]
    # Waits: 0, then 0.1 * 2**1, then 0.1 * 2**2 (lower bounds: sleeps are never shorter).
    assert gaps[1] >= 0.2 * 0.95
    assert gaps[2] >= 0.4 * 0.95


def test_retries_exhausted_return_the_last_response():
    with FakeWorkspace(pat=PAT) as ws:
        ws.fallback = _error(500, "INTERNAL_ERROR", "still broken")
        response = http_request(_pat_creds(ws), "/api/2.0/x", "GET", max_retries=2, **FAST)
    assert response.status_code == 500
    assert response.json() == {"error_code": "INTERNAL_ERROR", "message": "still broken"}
    assert len(ws.api_requests()) == 3


def test_retry_deadline_returns_the_last_response():
    with FakeWorkspace(pat=PAT) as ws:
        ws.fallback = _error(500, "INTERNAL_ERROR", "still broken")
        response = http_request(
            _pat_creds(ws), "/api/2.0/x", "GET", max_retries=9, backoff_factor=1,
            backoff_jitter=0, retry_timeout_seconds=1,
        )
    assert response.status_code == 500
    # Attempt 1, immediate retry, then a 2s backoff that would cross the 1s deadline: stop.
    assert len(ws.api_requests()) == 2


def test_deadline_bounds_the_sdk_s_own_retries():
    """503 + Retry-After makes the SDK retry inside one attempt; our deadline still holds."""
    with FakeWorkspace(pat=PAT) as ws:
        ws.fallback = _error(503, "TEMPORARILY_UNAVAILABLE", "busy", {"Retry-After": "0"})
        started = time.monotonic()
        with pytest.raises(MlflowException, match="retry_timeout_seconds") as info:
            http_request(
                _pat_creds(ws), "/api/2.0/x", "GET", retry_timeout_seconds=2, **FAST
            )
        elapsed = time.monotonic() - started
    assert "Retry deadline of 2s" in str(info.value)
    assert elapsed < 30  # not the SDK's default budget (300s) nor MLflow's (500s)
    assert len(ws.api_requests()) >= 1


# --- the event loop --------------------------------------------------------------------------
async def test_sdk_calls_do_not_block_the_event_loop():
    with FakeWorkspace(pat=PAT) as ws:
        creds = _pat_creds(ws)
        await ahttp_request(creds, "/api/2.0/warmup", "GET")  # builds the client
        ws.delay = 0.5
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        try:
            responses = await asyncio.gather(
                *(ahttp_request(creds, f"/api/2.0/x/{i}", "GET") for i in range(4))
            )
        finally:
            task.cancel()
    assert [r.status_code for r in responses] == [200] * 4
    assert ticks >= 10  # the loop kept running while the SDK waited
    assert ws.max_in_flight >= 2  # calls overlapped in worker threads


# --- bodies ----------------------------------------------------------------------------------
def test_form_data_and_files_bodies():
    with FakeWorkspace(pat=PAT) as ws:
        creds = _pat_creds(ws)
        http_request(creds, "/api/2.0/form", "POST", data={"a": "1", "b": "two"})
        http_request(creds, "/api/2.0/raw", "PUT", data=b"\x00raw\xff")
        http_request(
            creds, "/api/2.0/upload", "POST", files={"file": ("m.txt", b"model-bytes")},
            data={"field": "x"},
        )
        http_request(creds, "/api/2.0/list", "GET", params=[("k", "1"), ("k", "2")])
    form, raw, upload, listed = ws.api_requests()
    assert form.body == b"a=1&b=two"
    assert form.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert raw.body == b"\x00raw\xff"
    boundary = upload.headers["Content-Type"].split("boundary=", 1)[1]
    assert upload.headers["Content-Type"].startswith("multipart/form-data")
    assert boundary.encode() in upload.body and b"model-bytes" in upload.body
    assert listed.query == [("k", "1"), ("k", "2")]


def test_response_headers_and_body_pass_through():
    with FakeWorkspace(pat=PAT) as ws:
        ws.script.append((200, {"big": "x" * 100_000}, {"X-Request-Id": "rid-1"}))
        response = http_request(_pat_creds(ws), "/api/2.0/x", "GET")
    assert response.headers["X-Request-Id"] == "rid-1"
    assert json.loads(response.content) == {"big": "x" * 100_000}


async def test_concurrent_first_calls_share_one_client_and_token():
    with FakeWorkspace(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as ws:
        creds = MlflowHostCreds(
            ws.url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, use_databricks_sdk=True
        )
        responses = await asyncio.gather(
            *(ahttp_request(creds, f"/api/2.0/x/{i}", "GET") for i in range(5))
        )
    assert [r.status_code for r in responses] == [200] * 5
    assert [r.path for r in ws.requests].count("/oidc/v1/token") == 1
    assert [r.path for r in ws.requests].count("/.well-known/databricks-config") == 1
