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
