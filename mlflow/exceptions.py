"""MLflow's exception types, with MLflow's error codes and their HTTP statuses."""

from __future__ import annotations

import json as _json
from typing import Any

# MLflow's error codes are protobuf enum names; we keep the names as plain strings.
INTERNAL_ERROR = "INTERNAL_ERROR"
TEMPORARILY_UNAVAILABLE = "TEMPORARILY_UNAVAILABLE"
ENDPOINT_NOT_FOUND = "ENDPOINT_NOT_FOUND"
PERMISSION_DENIED = "PERMISSION_DENIED"
REQUEST_LIMIT_EXCEEDED = "REQUEST_LIMIT_EXCEEDED"
BAD_REQUEST = "BAD_REQUEST"
INVALID_PARAMETER_VALUE = "INVALID_PARAMETER_VALUE"
RESOURCE_DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"
INVALID_STATE = "INVALID_STATE"
RESOURCE_ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"
NOT_FOUND = "NOT_FOUND"
UNAUTHENTICATED = "UNAUTHENTICATED"
CUSTOMER_UNAUTHORIZED = "CUSTOMER_UNAUTHORIZED"
NOT_IMPLEMENTED = "NOT_IMPLEMENTED"
DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED"
CANCELLED = "CANCELLED"
ABORTED = "ABORTED"
ALREADY_EXISTS = "ALREADY_EXISTS"
RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"
DATA_LOSS = "DATA_LOSS"
IO_ERROR = "IO_ERROR"
UNKNOWN = "UNKNOWN"

ERROR_CODE_TO_HTTP_STATUS: dict[str, int] = {
    INTERNAL_ERROR: 500,
    INVALID_STATE: 500,
    DATA_LOSS: 500,
    IO_ERROR: 500,
    UNKNOWN: 500,
    NOT_IMPLEMENTED: 501,
    TEMPORARILY_UNAVAILABLE: 503,
    DEADLINE_EXCEEDED: 504,
    REQUEST_LIMIT_EXCEEDED: 429,
    RESOURCE_EXHAUSTED: 429,
    ENDPOINT_NOT_FOUND: 404,
    RESOURCE_DOES_NOT_EXIST: 404,
    NOT_FOUND: 404,
    PERMISSION_DENIED: 403,
    CUSTOMER_UNAUTHORIZED: 401,
    UNAUTHENTICATED: 401,
    BAD_REQUEST: 400,
    INVALID_PARAMETER_VALUE: 400,
    RESOURCE_ALREADY_EXISTS: 400,
    ALREADY_EXISTS: 409,
    ABORTED: 409,
    CANCELLED: 499,
}

HTTP_STATUS_TO_ERROR_CODE: dict[int, str] = {
    400: BAD_REQUEST,
    401: UNAUTHENTICATED,
    403: PERMISSION_DENIED,
    404: ENDPOINT_NOT_FOUND,
    409: RESOURCE_ALREADY_EXISTS,
    429: REQUEST_LIMIT_EXCEEDED,
    499: CANCELLED,
    500: INTERNAL_ERROR,
    501: NOT_IMPLEMENTED,
    503: TEMPORARILY_UNAVAILABLE,
    504: DEADLINE_EXCEEDED,
}


def get_error_code(http_status: int) -> str:
    return HTTP_STATUS_TO_ERROR_CODE.get(http_status, INTERNAL_ERROR)


class MlflowException(Exception):
    """Generic exception thrown to surface failure information about external-facing operations.

    ``error_code`` is one of MLflow's error-code names (``"INVALID_PARAMETER_VALUE"``, ...);
    extra keyword arguments are kept in ``json_kwargs`` and serialized with the error.
    """

    def __init__(self, message: Any, error_code: str = INTERNAL_ERROR, **kwargs: Any) -> None:
        # Accept an int status or an unknown name the way MLflow falls back: to INTERNAL_ERROR.
        if not isinstance(error_code, str) or error_code not in ERROR_CODE_TO_HTTP_STATUS:
            error_code = INTERNAL_ERROR
        self.error_code = error_code
        self.message = str(message)
        self.json_kwargs = kwargs
        super().__init__(self.message)

    @property
    def json(self) -> dict[str, Any]:
        return {"error_code": self.error_code, "message": self.message, **self.json_kwargs}

    def serialize_as_json(self) -> str:
        return _json.dumps(self.json)

    def get_http_status_code(self) -> int:
        return ERROR_CODE_TO_HTTP_STATUS.get(self.error_code, 500)

    @classmethod
    def invalid_parameter_value(cls, message: str, **kwargs: Any) -> MlflowException:
        return cls(message, error_code=INVALID_PARAMETER_VALUE, **kwargs)


class RestException(MlflowException):
    """An error response from an MLflow REST API: ``{"error_code": ..., "message": ...}``."""

    def __init__(self, json: dict[str, Any]) -> None:
        error_code = json.get("error_code", INTERNAL_ERROR)
        detail = json.get("message", json)
        message = f"{error_code}: {detail}"
        super().__init__(message, error_code=error_code)
        self.json_response = json

    def __reduce__(self):
        return (RestException, (self.json_response,))


class InvalidUrlException(MlflowException):
    """The URL built from the host and the endpoint is not a valid URL."""


class MlflowInvalidEnvironmentValue(MlflowException, ValueError):
    """An MLflow environment variable holds a value of the wrong form."""

    def __init__(self, message: str) -> None:
        super().__init__(message, error_code=INVALID_PARAMETER_VALUE)
