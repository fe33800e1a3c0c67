"""MlflowHostCreds, the environment variables, and MLflow's helpers around http_request."""

from __future__ import annotations

import inspect
import os
import warnings

import pytest
import requests
from conftest import Reply

import mlflow.environment_variables as env_vars
from mlflow.exceptions import (
    ENDPOINT_NOT_FOUND,
    INVALID_PARAMETER_VALUE,
    MlflowException,
    RestException,
)
from mlflow.utils import request_utils, rest_utils
from mlflow.utils.rest_utils import (
    _TRANSIENT_FAILURE_RESPONSE_CODES,
    MlflowHostCreds,
    ahttp_request_safe,
    augmented_raise_for_status,
    http_request,
    http_request_safe,
    validate_deployment_timeout_config,
    verify_rest_response,
)

# --- MlflowHostCreds -------------------------------------------------------------------------


@pytest.mark.parametrize("host", [None, ""])
def test_host_is_required(host):
    with pytest.raises(MlflowException) as info:
        MlflowHostCreds(host)
    assert info.value.message == "host is a required parameter for MlflowHostCreds"
    assert info.value.error_code == INVALID_PARAMETER_VALUE


def test_ignore_tls_verification_and_server_cert_path_conflict():
    with pytest.raises(MlflowException) as info:
        MlflowHostCreds("https://h", ignore_tls_verification=True, server_cert_path="/ca.pem")
    assert info.value.message == (
        "When 'ignore_tls_verification' is true then 'server_cert_path' must not be set! This "
        "error may have occurred because the 'MLFLOW_TRACKING_INSECURE_TLS' and "
        "'MLFLOW_TRACKING_SERVER_CERT_PATH' environment variables are both set - only one of "
        "these environment variables may be set."
    )
    assert info.value.error_code == INVALID_PARAMETER_VALUE


def test_verify_property():
    assert MlflowHostCreds("https://h").verify is True
    assert MlflowHostCreds("https://h", ignore_tls_verification=True).verify is False
    assert MlflowHostCreds("https://h", server_cert_path="/ca.pem").verify == "/ca.pem"
    assert MlflowHostCreds("https://h", use_databricks_sdk=True).verify is None


def test_fields_are_mlflows():
    creds = MlflowHostCreds(
        "https://h", username="u", password="p", token="t", aws_sigv4=True, auth="plugin",
        client_cert_path="/c.pem", use_databricks_sdk=True,
        databricks_auth_profile="prof", client_id="cid", client_secret="cs", workspace_id="42",
    )
    assert (creds.host, creds.username, creds.password, creds.token) == ("https://h", "u", "p", "t")
    assert creds.aws_sigv4 is True and creds.auth == "plugin"
    assert creds.client_cert_path == "/c.pem" and creds.server_cert_path is None
    assert creds.ignore_tls_verification is False
    assert creds.databricks_auth_profile == "prof"
    assert (creds.client_id, creds.client_secret, creds.workspace_id) == ("cid", "cs", "42")


def test_secrets_never_show_in_repr_or_str():
    creds = MlflowHostCreds(
        "https://h.example", username="alice", password="pw-SECRET-1", token="tok-SECRET-2",
        client_secret="cs-SECRET-3",
    )
    for text in (repr(creds), str(creds), f"{creds}", f"{creds!r}", repr([creds])):
        assert "SECRET" not in text
        assert "https://h.example" in text


def test_equality_and_hash():
    a = MlflowHostCreds("https://h", token="t")
    b = MlflowHostCreds("https://h", token="t")
    assert a == b and hash(a) == hash(b)
    assert a != MlflowHostCreds("https://h", token="other")


def test_http_request_signature_is_mlflows():
    expected = [
        ("host_creds", inspect.Parameter.empty), ("endpoint", inspect.Parameter.empty),
        ("method", inspect.Parameter.empty), ("max_retries", None), ("backoff_factor", None),
        ("backoff_jitter", None), ("extra_headers", None),
        ("retry_codes", _TRANSIENT_FAILURE_RESPONSE_CODES), ("timeout", None),
        ("raise_on_status", True), ("respect_retry_after_header", None),
        ("retry_timeout_seconds", None), ("kwargs", inspect.Parameter.empty),
    ]
    for function in (http_request, rest_utils.ahttp_request):
        params = inspect.signature(function).parameters
        assert [(p.name, p.default) for p in params.values()] == expected
        assert params["kwargs"].kind is inspect.Parameter.VAR_KEYWORD


def test_transient_failure_codes():
    assert set(_TRANSIENT_FAILURE_RESPONSE_CODES) == {408, 429, 500, 502, 503, 504}
    assert request_utils._TRANSIENT_FAILURE_RESPONSE_CODES is _TRANSIENT_FAILURE_RESPONSE_CODES


# --- environment variables -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("variable", "name", "default"),
    [
        (env_vars.MLFLOW_HTTP_REQUEST_MAX_RETRIES, "MLFLOW_HTTP_REQUEST_MAX_RETRIES", 7),
        (env_vars.MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR, "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", 2),
        (env_vars.MLFLOW_HTTP_REQUEST_BACKOFF_JITTER, "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", 1.0),
        (env_vars.MLFLOW_HTTP_REQUEST_TIMEOUT, "MLFLOW_HTTP_REQUEST_TIMEOUT", 120),
        (env_vars.MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER,
         "MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER", True),
        (env_vars._MLFLOW_HTTP_REQUEST_MAX_RETRIES_LIMIT,
         "_MLFLOW_HTTP_REQUEST_MAX_RETRIES_LIMIT", 10),
        (env_vars._MLFLOW_HTTP_REQUEST_MAX_BACKOFF_FACTOR_LIMIT,
         "_MLFLOW_HTTP_REQUEST_MAX_BACKOFF_FACTOR_LIMIT", 120),
        (env_vars.MLFLOW_DEPLOYMENT_CLIENT_HTTP_REQUEST_TIMEOUT,
         "MLFLOW_DEPLOYMENT_CLIENT_HTTP_REQUEST_TIMEOUT", 300),
        (env_vars.MLFLOW_DEPLOYMENT_PREDICT_TIMEOUT, "MLFLOW_DEPLOYMENT_PREDICT_TIMEOUT", 120),
        (env_vars.MLFLOW_DEPLOYMENT_PREDICT_TOTAL_TIMEOUT,
         "MLFLOW_DEPLOYMENT_PREDICT_TOTAL_TIMEOUT", 600),
        (env_vars.MLFLOW_ALLOW_HTTP_REDIRECTS, "MLFLOW_ALLOW_HTTP_REDIRECTS", True),
        (env_vars.MLFLOW_DATABRICKS_TRAFFIC_ID, "MLFLOW_DATABRICKS_TRAFFIC_ID", None),
        (env_vars.MLFLOW_ENABLE_DB_SDK, "MLFLOW_ENABLE_DB_SDK", True),
    ],
)
def test_names_and_defaults(monkeypatch, variable, name, default):
    monkeypatch.delenv(name, raising=False)
    assert variable.name == name
    assert variable.default == default and type(variable.default) is type(default)
    assert variable.get() == default
    assert not variable.is_set()
    monkeypatch.setenv(name, "1")
    assert variable.is_set()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), ("TRUE", True), ("True", True), ("1", True), ("tRuE", True),
     ("false", False), ("FALSE", False), ("False", False), ("0", False), ("fAlSe", False)],
)
def test_booleans_accept_true_false_1_0_in_any_case(monkeypatch, raw, expected):
    monkeypatch.setenv("MLFLOW_ALLOW_HTTP_REDIRECTS", raw)
    assert env_vars.MLFLOW_ALLOW_HTTP_REDIRECTS.get() is expected


@pytest.mark.parametrize("raw", ["yes", "no", "on", "2", "truthy", "", "t", "-1"])
def test_booleans_reject_anything_else(monkeypatch, raw):
    monkeypatch.setenv("MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER", raw)
    with pytest.raises(ValueError) as info:
        env_vars.MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER.get()
    message = str(info.value)
    assert "MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER" in message
    assert "'true', 'false', '1', '0'" in message
    assert isinstance(info.value, MlflowException)


@pytest.mark.parametrize("raw", ["abc", "1.5", "", "7 retries"])
def test_integers_reject_garbage(monkeypatch, raw):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", raw)
    with pytest.raises(ValueError) as info:
        env_vars.MLFLOW_HTTP_REQUEST_MAX_RETRIES.get()
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" in str(info.value)
    assert repr(raw) in str(info.value)


def test_values_are_parsed_and_follow_the_environment(monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3")
    assert env_vars.MLFLOW_HTTP_REQUEST_MAX_RETRIES.get() == 3
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "4")
    assert env_vars.MLFLOW_HTTP_REQUEST_MAX_RETRIES.get() == 4
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", "0.25")
    assert env_vars.MLFLOW_HTTP_REQUEST_BACKOFF_JITTER.get() == 0.25
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES")
    assert env_vars.MLFLOW_HTTP_REQUEST_MAX_RETRIES.get() == 7


def test_a_snapshot_follows_every_change_of_its_variables(monkeypatch):
    # The settings cache of http_request is keyed on this snapshot: a stale one would keep
    # an old retry policy or traffic id after the user changed the environment.
    a, b = env_vars.MLFLOW_DATABRICKS_TRAFFIC_ID, env_vars.MLFLOW_HTTP_REQUEST_TIMEOUT
    for variable in (a, b):
        monkeypatch.delenv(variable.name, raising=False)
    snapshot = env_vars.EnvSnapshot(a, b)
    assert snapshot() == (None, None)
    monkeypatch.setenv(b.name, "9")
    assert [v and os.fsdecode(v) for v in snapshot()] == [None, "9"]
    monkeypatch.setenv(a.name, "t-1")
    assert [v and os.fsdecode(v) for v in snapshot()] == ["t-1", "9"]
    monkeypatch.delenv(b.name)
    assert [v and os.fsdecode(v) for v in snapshot()] == ["t-1", None]
    monkeypatch.delenv(a.name)
    assert snapshot() == (None, None)


def test_str_names_the_variable_and_its_default():
    assert str(env_vars.MLFLOW_HTTP_REQUEST_TIMEOUT) == "MLFLOW_HTTP_REQUEST_TIMEOUT (default: 120)"


# --- validate_deployment_timeout_config ------------------------------------------------------
def test_validate_deployment_timeout_config_warns_at_the_callers_line():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        validate_deployment_timeout_config(timeout=120, retry_timeout_seconds=60)
    assert len(caught) == 1
    warning = caught[0]
    assert issubclass(warning.category, UserWarning)
    assert warning.filename == __file__  # stacklevel=2: the caller, not rest_utils
    message = str(warning.message)
    assert "MLFLOW_DEPLOYMENT_PREDICT_TOTAL_TIMEOUT" in message
    assert "MLFLOW_DEPLOYMENT_PREDICT_TIMEOUT" in message
    assert "60" in message and "120" in message


@pytest.mark.parametrize(
    ("timeout", "total"), [(60, 120), (60, 60), (None, 5), (5, None), (None, None)]
)
def test_validate_deployment_timeout_config_is_silent(timeout, total):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert validate_deployment_timeout_config(timeout, total) is None


# --- augmented_raise_for_status and verify_rest_response -------------------------------------
def test_augmented_raise_for_status_appends_the_body(recording_server):
    creds = MlflowHostCreds(recording_server.url)
    recording_server.script(Reply(404, body="no such model"), Reply(500), Reply(200, body="ok"))
    response = http_request(creds, "/m", "GET", max_retries=0)
    with pytest.raises(requests.HTTPError) as info:
        augmented_raise_for_status(response)
    message = str(info.value)
    assert message.startswith("404 Client Error")
    assert f"for url: {recording_server.url}/m" in message
    assert message.endswith(". Response text: no such model")
    assert info.value.response is response

    empty = http_request(creds, "/m", "GET", max_retries=0, raise_on_status=False)
    with pytest.raises(requests.HTTPError) as info:
        augmented_raise_for_status(empty)
    assert "500 Server Error" in str(info.value) and "Response text" not in str(info.value)

    assert augmented_raise_for_status(http_request(creds, "/m", "GET")) is None


def response_with(status: int, body: bytes) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body
    response.encoding = "utf-8"
    return response


@pytest.mark.parametrize("body", [b"", b"200 OK", b"  \n"])
def test_verify_rest_response_empty_success_becomes_an_empty_json_object(body):
    response = verify_rest_response(response_with(200, body), "/api/2.0/mlflow/traces")
    assert response.json() == {}


def test_verify_rest_response_json_error_is_a_rest_exception():
    body = b'{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Model x not found"}'
    with pytest.raises(RestException) as info:
        verify_rest_response(response_with(404, body), "/api/2.0/x")
    assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert "Model x not found" in str(info.value)


def test_verify_rest_response_non_json_error():
    with pytest.raises(MlflowException) as info:
        verify_rest_response(response_with(404, b"<html>nope</html>"), "/api/2.0/x")
    assert str(info.value) == (
        "API request to endpoint /api/2.0/x failed with error code 404 != 200. "
        "Response body: '<html>nope</html>'"
    )
    assert info.value.error_code == ENDPOINT_NOT_FOUND
    assert not isinstance(info.value, RestException)


@pytest.mark.parametrize("body", [b"hello", b"[1, 2]", b"{bad json"])
def test_verify_rest_response_non_json_success_on_the_rest_api(body):
    with pytest.raises(MlflowException) as info:
        verify_rest_response(response_with(200, body), "/api/2.0/mlflow/runs/get")
    assert str(info.value).startswith(
        "API request to endpoint was successful but the response body was not in a valid JSON "
        "format. Response body: '"
    )


def test_verify_rest_response_non_json_success_elsewhere_is_fine():
    response = response_with(200, b"raw file bytes")
    assert verify_rest_response(response, "/ajax-api/files/x") is response


def test_http_request_safe(recording_server):
    creds = MlflowHostCreds(recording_server.url)
    recording_server.script(
        Reply(200, json={"run": {"id": "1"}}),
        Reply(400, json={"error_code": "INVALID_PARAMETER_VALUE", "message": "bad run"}),
    )
    assert http_request_safe(creds, "/api/2.0/mlflow/runs/get", "GET").json() == {
        "run": {"id": "1"}
    }
    with pytest.raises(RestException, match="bad run") as info:
        http_request_safe(creds, "/api/2.0/mlflow/runs/get", "GET", max_retries=0)
    assert info.value.error_code == INVALID_PARAMETER_VALUE


async def test_ahttp_request_safe_is_the_awaitable_twin(recording_server):
    creds = MlflowHostCreds(recording_server.url)
    recording_server.script(
        Reply(200, json={"run": {"id": "2"}}),
        Reply(404, json={"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no run"}),
    )
    response = await ahttp_request_safe(creds, "/api/2.0/mlflow/runs/get", "GET")
    assert response.json() == {"run": {"id": "2"}}
    with pytest.raises(RestException, match="no run") as info:
        await ahttp_request_safe(creds, "/api/2.0/mlflow/runs/get", "GET", max_retries=0)
    assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert [a.path for a in recording_server.attempts] == ["/api/2.0/mlflow/runs/get"] * 2
