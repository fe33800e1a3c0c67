"""MLflow's exception types, with MLflow's error codes and their HTTP statuses."""

from __future__ import annotations

import json as _json
import logging
from typing import Any

_logger = logging.getLogger(__name__)

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
RESOURCE_CONFLICT = "RESOURCE_CONFLICT"
MALFORMED_REQUEST = "MALFORMED_REQUEST"

# The numbers of MLflow's ``ErrorCode`` protobuf enum (databricks.proto): an integer
# ``error_code`` is mapped to its name through this table, as MLflow does.
ERROR_CODE_NUMBERS: dict[str, int] = {
    "INTERNAL_ERROR": 1,
    "TEMPORARILY_UNAVAILABLE": 2,
    "IO_ERROR": 3,
    "BAD_REQUEST": 4,
    "SERVICE_UNDER_MAINTENANCE": 5,
    "WORKSPACE_TEMPORARILY_UNAVAILABLE": 6,
    "DEADLINE_EXCEEDED": 7,
    "CANCELLED": 8,
    "RESOURCE_EXHAUSTED": 9,
    "ABORTED": 10,
    "NOT_FOUND": 11,
    "ALREADY_EXISTS": 12,
    "UNAUTHENTICATED": 13,
    "INVALID_PARAMETER_VALUE": 1000,
    "ENDPOINT_NOT_FOUND": 1001,
    "MALFORMED_REQUEST": 1002,
    "INVALID_STATE": 1003,
    "PERMISSION_DENIED": 1004,
    "FEATURE_DISABLED": 1005,
    "CUSTOMER_UNAUTHORIZED": 1006,
    "REQUEST_LIMIT_EXCEEDED": 1007,
    "RESOURCE_CONFLICT": 1008,
    "UNPARSEABLE_HTTP_ERROR": 1009,
    "NOT_IMPLEMENTED": 1010,
    "DATA_LOSS": 1011,
    "INVALID_STATE_TRANSITION": 2001,
    "COULD_NOT_ACQUIRE_LOCK": 2002,
    "RESOURCE_ALREADY_EXISTS": 3001,
    "RESOURCE_DOES_NOT_EXIST": 3002,
    "QUOTA_EXCEEDED": 4001,
    "MAX_BLOCK_SIZE_EXCEEDED": 4002,
    "MAX_READ_SIZE_EXCEEDED": 4003,
    "PARTIAL_DELETE": 4004,
    "MAX_LIST_SIZE_EXCEEDED": 4005,
    "DRY_RUN_FAILED": 5001,
    "RESOURCE_LIMIT_EXCEEDED": 5002,
    "DIRECTORY_NOT_EMPTY": 6001,
    "DIRECTORY_PROTECTED": 6002,
    "MAX_NOTEBOOK_SIZE_EXCEEDED": 6003,
    "MAX_CHILD_NODE_SIZE_EXCEEDED": 6004,
    "SEARCH_QUERY_TOO_LONG": 6100,
    "SEARCH_QUERY_TOO_SHORT": 6101,
    "MANAGED_RESOURCE_GROUP_DOES_NOT_EXIST": 7001,
    "PERMISSION_NOT_PROPAGATED": 7002,
    "DEPLOYMENT_TIMEOUT": 7003,
    "GIT_CONFLICT": 8001,
    "GIT_UNKNOWN_REF": 8002,
    "GIT_SENSITIVE_TOKEN_DETECTED": 8003,
    "GIT_URL_NOT_ON_ALLOW_LIST": 8004,
    "GIT_REMOTE_ERROR": 8005,
    "PROJECTS_OPERATION_TIMEOUT": 8006,
    "IPYNB_FILE_IN_REPO": 8007,
    "INSECURE_PARTNER_RESPONSE": 8100,
    "MALFORMED_PARTNER_RESPONSE": 8101,
    "METASTORE_DOES_NOT_EXIST": 9000,
    "DAC_DOES_NOT_EXIST": 9001,
    "CATALOG_DOES_NOT_EXIST": 9002,
    "SCHEMA_DOES_NOT_EXIST": 9003,
    "TABLE_DOES_NOT_EXIST": 9004,
    "SHARE_DOES_NOT_EXIST": 9005,
    "RECIPIENT_DOES_NOT_EXIST": 9006,
    "STORAGE_CREDENTIAL_DOES_NOT_EXIST": 9007,
    "EXTERNAL_LOCATION_DOES_NOT_EXIST": 9008,
    "PRINCIPAL_DOES_NOT_EXIST": 9009,
    "PROVIDER_DOES_NOT_EXIST": 9010,
    "METASTORE_ALREADY_EXISTS": 9020,
    "DAC_ALREADY_EXISTS": 9021,
    "CATALOG_ALREADY_EXISTS": 9022,
    "SCHEMA_ALREADY_EXISTS": 9023,
    "TABLE_ALREADY_EXISTS": 9024,
    "SHARE_ALREADY_EXISTS": 9025,
    "RECIPIENT_ALREADY_EXISTS": 9026,
    "STORAGE_CREDENTIAL_ALREADY_EXISTS": 9027,
    "EXTERNAL_LOCATION_ALREADY_EXISTS": 9028,
    "PROVIDER_ALREADY_EXISTS": 9029,
    "CATALOG_NOT_EMPTY": 9040,
    "SCHEMA_NOT_EMPTY": 9041,
    "METASTORE_NOT_EMPTY": 9042,
    "PROVIDER_SHARE_NOT_ACCESSIBLE": 9060,
}
_ERROR_CODE_NAMES: dict[int, str] = {v: k for k, v in ERROR_CODE_NUMBERS.items()}

ERROR_CODE_TO_HTTP_STATUS: dict[str, int] = {
    INTERNAL_ERROR: 500,
    INVALID_STATE: 500,
    DATA_LOSS: 500,
    NOT_IMPLEMENTED: 501,
    TEMPORARILY_UNAVAILABLE: 503,
    DEADLINE_EXCEEDED: 504,
    REQUEST_LIMIT_EXCEEDED: 429,
    CANCELLED: 499,
    RESOURCE_EXHAUSTED: 429,
    ABORTED: 409,
    RESOURCE_CONFLICT: 409,
    ALREADY_EXISTS: 409,
    NOT_FOUND: 404,
    ENDPOINT_NOT_FOUND: 404,
    RESOURCE_DOES_NOT_EXIST: 404,
    PERMISSION_DENIED: 403,
    CUSTOMER_UNAUTHORIZED: 401,
    UNAUTHENTICATED: 401,
    BAD_REQUEST: 400,
    RESOURCE_ALREADY_EXISTS: 400,
    INVALID_PARAMETER_VALUE: 400,
}

# MLflow inverts the table above (the last code of a status wins), then pins 400, 404 and 500.
HTTP_STATUS_TO_ERROR_CODE: dict[int, str] = {
    status: code for code, status in ERROR_CODE_TO_HTTP_STATUS.items()
}
HTTP_STATUS_TO_ERROR_CODE.update({400: BAD_REQUEST, 404: ENDPOINT_NOT_FOUND, 500: INTERNAL_ERROR})


def get_error_code(http_status: int) -> str:
    """The error-code name for an HTTP status (MLflow returns the enum number; we keep names)."""
    return HTTP_STATUS_TO_ERROR_CODE.get(http_status, INTERNAL_ERROR)


def error_code_name(error_code: Any) -> str | None:
    """The name of an error code given as MLflow's enum number (``1000``) or as a name
    (``"INVALID_PARAMETER_VALUE"``, our constants); None when it is neither."""
    if isinstance(error_code, str):
        return error_code if error_code in ERROR_CODE_NUMBERS else None
    if isinstance(error_code, int):  # bool included, as protobuf's ErrorCode.Name accepts it
        return _ERROR_CODE_NAMES.get(int(error_code))
    return None


class MlflowException(Exception):
    """Generic exception thrown to surface failure information about external-facing operations.

    ``error_code`` is MLflow's enum number (``1000``, as ``mlflow.protos.databricks_pb2`` has it)
    or its name (``"INVALID_PARAMETER_VALUE"``, as this package's constants have it); anything
    else becomes INTERNAL_ERROR, as in MLflow. ``error_code`` on the instance is always the name.
    Extra keyword arguments are kept in ``json_kwargs`` and serialized with the error.
    """

    def __init__(self, message: Any, error_code: Any = INTERNAL_ERROR, **kwargs: Any) -> None:
        self.error_code = error_code_name(error_code) or INTERNAL_ERROR
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
        error_code = json.get("error_code") or INTERNAL_ERROR
        detail = json["message"] if "message" in json else f"Response: {json}"  # noqa: SIM401
        message = f"{error_code}: {detail}"
        name = error_code_name(error_code) if isinstance(error_code, str) else None
        if name is None:
            # An HTTP status in place of a code (e.g. from a proxy), as MLflow accepts it.
            try:
                name = HTTP_STATUS_TO_ERROR_CODE[int(error_code)]
            except (ValueError, KeyError, TypeError):
                _logger.warning(
                    "Received error code not recognized by MLflow: %s, this may indicate your "
                    "request encountered an error before reaching MLflow server, e.g., within a "
                    "proxy server or authentication / authorization service.",
                    str(error_code)[:200],
                )
                name = INTERNAL_ERROR
        super().__init__(message, error_code=name)
        self.json_response = json

    def __reduce__(self):
        return (RestException, (self.json_response,))


class InvalidUrlException(MlflowException):
    """The URL built from the host and the endpoint is not a valid URL."""


class MlflowInvalidEnvironmentValue(MlflowException, ValueError):
    """An MLflow environment variable holds a value of the wrong form."""

    def __init__(self, message: str) -> None:
        super().__init__(message, error_code=INVALID_PARAMETER_VALUE)
