"""Small MLflow contracts from issue 13 (exceptions, environment variables, gateway.utils and
gateway.constants), each stated as MLflow 3.17.2 states it, word for word."""

from __future__ import annotations

import logging
import pickle

import pytest

from mlflow.environment_variables import _BooleanEnvironmentVariable
from mlflow.exceptions import (
    HTTP_STATUS_TO_ERROR_CODE,
    INVALID_PARAMETER_VALUE,
    MlflowException,
    RestException,
    get_error_code,
)


@pytest.mark.parametrize("default", [0, 1, "true", 0.0])
def test_boolean_variable_default_must_be_true_false_or_none(default):
    with pytest.raises(ValueError) as info:
        _BooleanEnvironmentVariable("X", default)
    assert str(info.value) == "X default value must be one of [True, False, None]"


@pytest.mark.parametrize("default", [True, False, None])
def test_boolean_variable_accepts_true_false_none(default):
    assert _BooleanEnvironmentVariable("X", default).default is default


# Observed with MLflow 3.17.2: MlflowException("x", error_code=c).error_code and its status.
@pytest.mark.parametrize(
    ("code", "name", "status"),
    [
        (1000, "INVALID_PARAMETER_VALUE", 400),
        (1, "INTERNAL_ERROR", 500),
        (3002, "RESOURCE_DOES_NOT_EXIST", 404),
        (1008, "RESOURCE_CONFLICT", 409),
        (1002, "MALFORMED_REQUEST", 500),
        (99999, "INTERNAL_ERROR", 500),
        (500, "INTERNAL_ERROR", 500),
        (None, "INTERNAL_ERROR", 500),
        (1.0, "INTERNAL_ERROR", 500),
        (True, "INTERNAL_ERROR", 500),
        # Our constants are names; MLflow's are numbers. Both spellings mean the same code.
        (INVALID_PARAMETER_VALUE, "INVALID_PARAMETER_VALUE", 400),
        ("NOT_A_CODE", "INTERNAL_ERROR", 500),
    ],
)
def test_integer_error_codes_map_as_in_mlflow(code, name, status):
    error = MlflowException("x", error_code=code)
    assert error.error_code == name
    assert error.get_http_status_code() == status


def test_http_status_table_matches_mlflow():
    # MLflow 3.17.2's HTTP_STATUS_TO_ERROR_CODE, printed from the installed package.
    assert HTTP_STATUS_TO_ERROR_CODE == {
        500: "INTERNAL_ERROR", 501: "NOT_IMPLEMENTED", 503: "TEMPORARILY_UNAVAILABLE",
        504: "DEADLINE_EXCEEDED", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED",
        409: "ALREADY_EXISTS", 404: "ENDPOINT_NOT_FOUND", 403: "PERMISSION_DENIED",
        401: "UNAUTHENTICATED", 400: "BAD_REQUEST",
    }
    assert get_error_code(429) == "RESOURCE_EXHAUSTED"
    assert get_error_code(418) == "INTERNAL_ERROR"


def test_rest_exception_codes_as_in_mlflow(caplog):
    error = RestException({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "m"})
    assert (error.error_code, error.message) == ("RESOURCE_DOES_NOT_EXIST",
                                                 "RESOURCE_DOES_NOT_EXIST: m")
    assert RestException({"error_code": "MALFORMED_REQUEST", "message": "m"}).error_code == (
        "MALFORMED_REQUEST")
    assert RestException({"error_code": "404", "message": "m"}).error_code == "ENDPOINT_NOT_FOUND"
    assert RestException({"other": 1}).message == "INTERNAL_ERROR: Response: {'other': 1}"
    with caplog.at_level(logging.WARNING, logger="mlflow.exceptions"):
        error = RestException({"error_code": 1000, "message": "m"})
    assert (error.error_code, error.message) == ("INTERNAL_ERROR", "1000: m")
    assert caplog.messages == [
        "Received error code not recognized by MLflow: 1000, this may indicate your request "
        "encountered an error before reaching MLflow server, e.g., within a proxy server or "
        "authentication / authorization service."
    ]
    assert pickle.loads(pickle.dumps(error)).message == "1000: m"


# --- mlflow.gateway.utils and mlflow.gateway.constants (observed with MLflow 3.17.2) -----------
@pytest.mark.parametrize(
    ("paths", "expected"),
    [
        ([], "/"),
        (["a", "/"], "/a/"),
        (["/", "a"], "/a"),
        (["/api/2.0/", "/endpoints/", "x"], "/api/2.0/endpoints/x"),
        (["", "a//", "//b"], "/a/b"),
        (["a/b/", "c"], "/a/b/c"),
    ],
)
def test_assemble_uri_path(paths, expected):
    from mlflow.gateway.utils import assemble_uri_path

    assert assemble_uri_path(paths) == expected


@pytest.mark.parametrize(
    ("base", "route", "expected"),
    [
        ("http://h:5000", "/gateway/chat/invocations", "http://h:5000/gateway/chat/invocations"),
        ("http://h:5000/", "gateway/x", "http://h:5000/gateway/x"),
        ("http://h/base", "https://other/x", "https://other/x"),
        ("http://h/base", "databricks", "databricks"),
        ("http://h?q=1", "/x", "http://h/x?q=1"),
    ],
)
def test_resolve_route_url(base, route, expected):
    from mlflow.gateway.utils import resolve_route_url

    assert resolve_route_url(base, route) == expected


@pytest.mark.parametrize(
    ("uri", "valid"),
    [("databricks", True), ("databricks://p", True), ("http://", False), ("http://x", True),
     ("x", False), ("", False), ("ftp://h", True), ("http:///x", False)],
)
def test_is_valid_uri(uri, valid):
    from mlflow.gateway.utils import _is_valid_uri

    assert _is_valid_uri(uri) is valid


def test_gateway_uri_lives_in_utils_like_mlflow(monkeypatch):
    import mlflow.gateway.utils as gateway_utils
    from mlflow.exceptions import INVALID_PARAMETER_VALUE

    monkeypatch.setattr(gateway_utils, "_gateway_uri", None)
    monkeypatch.delenv("MLFLOW_GATEWAY_URI", raising=False)
    with pytest.raises(MlflowException) as info:
        gateway_utils.get_gateway_uri()
    assert info.value.message == (
        "No Gateway server uri has been set. Please either set the MLflow Gateway URI via "
        "`mlflow.gateway.set_gateway_uri()` or set the environment variable MLFLOW_GATEWAY_URI "
        "to the running Gateway API server's uri"
    )
    with pytest.raises(MlflowException) as info:
        gateway_utils.set_gateway_uri("not-a-uri")
    assert info.value.error_code == INVALID_PARAMETER_VALUE
    assert info.value.message == (
        "The gateway uri provided is missing required elements. Ensure that the schema and "
        "netloc are provided."
    )
    gateway_utils.set_gateway_uri("http://gw:1")
    assert gateway_utils.get_gateway_uri() == "http://gw:1"
    from mlflow.gateway import MlflowGatewayClient

    with pytest.warns(FutureWarning):
        assert MlflowGatewayClient().gateway_uri == "http://gw:1"


def test_gateway_constants_module():
    from mlflow.gateway import constants

    assert constants.MLFLOW_GATEWAY_CRUD_ROUTE_BASE == "/api/2.0/gateway/routes/"
    assert constants.MLFLOW_GATEWAY_LIMITS_BASE == "/api/2.0/gateway/limits/"
    assert constants.MLFLOW_GATEWAY_ROUTE_BASE == "/gateway/"
    assert constants.MLFLOW_QUERY_SUFFIX == "/invocations"
    assert constants.MLFLOW_GATEWAY_SEARCH_ROUTES_PAGE_SIZE == 3000
    assert constants.MLFLOW_GATEWAY_HEALTH_ENDPOINT == "/health"
    assert frozenset({429, 500, 502, 503}) == constants.MLFLOW_GATEWAY_CLIENT_QUERY_RETRY_CODES
    assert constants.MLFLOW_GATEWAY_CALLER_HEADER == "X-MLflow-Gateway-Caller"
    assert constants.GatewayCaller.JUDGE == "judge"
    assert constants.MLFLOW_AI_GATEWAY_ANTHROPIC_DEFAULT_MAX_TOKENS == 8192
    assert constants.MLFLOW_SERVING_RESPONSE_KEY == "predictions"


def test_sigv4_signs_the_payload_hash_as_mlflows_signer_does(monkeypatch):
    import hashlib

    from mlflow.testing import GatewayServer
    from mlflow.utils.rest_utils import MlflowHostCreds, http_request

    for name, value in {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret",
                        "AWS_REGION": "eu-central-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    server = GatewayServer()
    server.start_in_thread()
    try:
        creds = MlflowHostCreds(server.base_url, aws_sigv4=True)
        http_request(creds, "/endpoints/chat/invocations", "POST", json={"messages": []},
                     max_retries=0)
    finally:
        server.stop_thread()
    request = server.requests[-1]
    authorization = request.header("Authorization")
    assert "SignedHeaders=host;x-amz-content-sha256;x-amz-date," in authorization
    assert request.header("x-amz-content-sha256") == hashlib.sha256(request.body).hexdigest()
