"""MLflow's environment variables: names, types and defaults are MLflow's."""

from __future__ import annotations

import os
from typing import Any, Generic, TypeVar

from mlflow.exceptions import MlflowInvalidEnvironmentValue

T = TypeVar("T")

# http_request reads ~10 variables per call, most of them unset. os.getenv pays for key encoding
# and a KeyError per miss (~1 us each); on POSIX the environ's own bytes dict answers in ~50 ns and
# is kept in sync by os.environ's setters, so it is always current.
_ENV_BYTES = getattr(os.environ, "_data", None) if os.name == "posix" else None
_ENV_KEYS = _ENV_BYTES.keys() if _ENV_BYTES is not None else None  # a live view


def _getenv(name: str, encoded: bytes) -> str | None:
    if _ENV_BYTES is None:
        return os.environ.get(name)
    value = _ENV_BYTES.get(encoded)
    return None if value is None else os.fsdecode(value)

_TRUE = ("true", "1")
_BOOLEAN_WORDS = ("true", "false", "1", "0")


class EnvSnapshot:
    """The raw values of some variables right now, in one C-level pass: a cache key for
    settings derived from them, so they are re-validated only when one of them changes."""

    __slots__ = ("_names", "_keys", "_unset")

    def __init__(self, *variables: _EnvironmentVariable) -> None:
        self._names = tuple(v.name for v in variables)
        self._keys = tuple(v._key for v in variables)
        self._unset = (None,) * len(variables)

    def __call__(self) -> tuple:
        if _ENV_BYTES is None:
            return tuple(map(os.environ.get, self._names))
        if _ENV_KEYS.isdisjoint(self._keys):  # the usual case, none of them set: one C call
            return self._unset
        return tuple(map(_ENV_BYTES.get, self._keys))


class _EnvironmentVariable(Generic[T]):
    """One environment variable: ``.name``, ``.default``, ``.get()``, ``.is_set()``."""

    __slots__ = ("name", "type", "default", "_key", "_parsed")

    def __init__(self, name: str, type_: type, default: T | None) -> None:
        self.name = name
        self.type = type_
        self.default = default
        self._key = os.fsencode(name)
        self._parsed: tuple[str, Any] | None = None  # (raw, value): parse once per raw value

    @property
    def defined(self) -> bool:
        return self.name in os.environ

    def is_set(self) -> bool:
        return self.name in os.environ

    def get_raw(self) -> str | None:
        return _getenv(self.name, self._key)

    def set(self, value: Any) -> None:
        os.environ[self.name] = str(value)

    def unset(self) -> None:
        os.environ.pop(self.name, None)

    def get(self) -> T | None:
        raw = _getenv(self.name, self._key)
        if raw is None:
            return self.default
        parsed = self._parsed
        if parsed is not None and parsed[0] == raw:
            return parsed[1]
        value = self._parse(raw)
        self._parsed = (raw, value)
        return value

    def _parse(self, raw: str) -> Any:
        try:
            return self.type(raw)
        except (TypeError, ValueError) as e:
            raise MlflowInvalidEnvironmentValue(
                f"Environment variable {self.name} has the invalid value {raw!r}: expected "
                f"{self.type.__name__}. Set it to a valid {self.type.__name__} or unset it "
                f"to use the default ({self.default!r})."
            ) from e

    def __str__(self) -> str:
        return f"{self.name} (default: {self.default})"

    def __repr__(self) -> str:
        return repr(self.name)

    def __format__(self, format_spec: str) -> str:
        return self.name.__format__(format_spec)


class _BooleanEnvironmentVariable(_EnvironmentVariable[bool]):
    """Accepts true/false/1/0 in any case and rejects anything else."""

    __slots__ = ()

    def __init__(self, name: str, default: bool | None) -> None:
        # Identity, not ``in``: ``0 in (False,)`` is True, and MLflow refuses 0 and 1.
        if not (default is True or default is False or default is None):
            raise ValueError(f"{name} default value must be one of [True, False, None]")
        super().__init__(name, bool, default)

    def _parse(self, raw: str) -> bool:
        lowered = raw.strip().lower()
        if lowered not in _BOOLEAN_WORDS:
            raise MlflowInvalidEnvironmentValue(
                f"{self.name} value must be one of ['true', 'false', '1', '0'] "
                f"(case-insensitive), but got {raw}"
            )
        return lowered in _TRUE


# --- HTTP requests (mlflow.utils.rest_utils.http_request) -----------------------------------
MLFLOW_HTTP_REQUEST_MAX_RETRIES = _EnvironmentVariable("MLFLOW_HTTP_REQUEST_MAX_RETRIES", int, 7)
MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR = _EnvironmentVariable(
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", int, 2
)
MLFLOW_HTTP_REQUEST_BACKOFF_JITTER = _EnvironmentVariable(
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", float, 1.0
)
MLFLOW_HTTP_REQUEST_TIMEOUT = _EnvironmentVariable("MLFLOW_HTTP_REQUEST_TIMEOUT", int, 120)
MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER = _BooleanEnvironmentVariable(
    "MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER", True
)
_MLFLOW_HTTP_REQUEST_MAX_RETRIES_LIMIT = _EnvironmentVariable(
    "_MLFLOW_HTTP_REQUEST_MAX_RETRIES_LIMIT", int, 10
)
_MLFLOW_HTTP_REQUEST_MAX_BACKOFF_FACTOR_LIMIT = _EnvironmentVariable(
    "_MLFLOW_HTTP_REQUEST_MAX_BACKOFF_FACTOR_LIMIT", int, 120
)
MLFLOW_ALLOW_HTTP_REDIRECTS = _BooleanEnvironmentVariable("MLFLOW_ALLOW_HTTP_REDIRECTS", True)

# --- Tracking-server credentials (mlflow.utils.credentials) ----------------------------------
MLFLOW_TRACKING_URI = _EnvironmentVariable("MLFLOW_TRACKING_URI", str, None)
MLFLOW_TRACKING_USERNAME = _EnvironmentVariable("MLFLOW_TRACKING_USERNAME", str, None)
MLFLOW_TRACKING_PASSWORD = _EnvironmentVariable("MLFLOW_TRACKING_PASSWORD", str, None)
MLFLOW_TRACKING_TOKEN = _EnvironmentVariable("MLFLOW_TRACKING_TOKEN", str, None)
MLFLOW_TRACKING_INSECURE_TLS = _BooleanEnvironmentVariable("MLFLOW_TRACKING_INSECURE_TLS", False)
MLFLOW_TRACKING_SERVER_CERT_PATH = _EnvironmentVariable(
    "MLFLOW_TRACKING_SERVER_CERT_PATH", str, None
)
MLFLOW_TRACKING_CLIENT_CERT_PATH = _EnvironmentVariable(
    "MLFLOW_TRACKING_CLIENT_CERT_PATH", str, None
)
MLFLOW_TRACKING_AWS_SIGV4 = _BooleanEnvironmentVariable("MLFLOW_TRACKING_AWS_SIGV4", False)
MLFLOW_TRACKING_AUTH = _EnvironmentVariable("MLFLOW_TRACKING_AUTH", str, None)

# --- Databricks -------------------------------------------------------------------------------
MLFLOW_ENABLE_DB_SDK = _BooleanEnvironmentVariable("MLFLOW_ENABLE_DB_SDK", True)
MLFLOW_DATABRICKS_TRAFFIC_ID = _EnvironmentVariable("MLFLOW_DATABRICKS_TRAFFIC_ID", str, None)
_MLFLOW_DATABRICKS_TRAFFIC_ID = _EnvironmentVariable("_MLFLOW_DATABRICKS_TRAFFIC_ID", str, None)
MLFLOW_DATABRICKS_ENDPOINT_HTTP_RETRY_TIMEOUT = _EnvironmentVariable(
    "MLFLOW_DATABRICKS_ENDPOINT_HTTP_RETRY_TIMEOUT", int, 500
)

# --- Deployments ------------------------------------------------------------------------------
MLFLOW_DEPLOYMENTS_TARGET = _EnvironmentVariable("MLFLOW_DEPLOYMENTS_TARGET", str, None)
MLFLOW_DEPLOYMENT_CLIENT_HTTP_REQUEST_TIMEOUT = _EnvironmentVariable(
    "MLFLOW_DEPLOYMENT_CLIENT_HTTP_REQUEST_TIMEOUT", int, 300
)
MLFLOW_DEPLOYMENT_PREDICT_TIMEOUT = _EnvironmentVariable(
    "MLFLOW_DEPLOYMENT_PREDICT_TIMEOUT", int, 120
)
MLFLOW_DEPLOYMENT_PREDICT_TOTAL_TIMEOUT = _EnvironmentVariable(
    "MLFLOW_DEPLOYMENT_PREDICT_TOTAL_TIMEOUT", int, 600
)
#: Ours, not MLflow's: pace predictions to the limit each gateway endpoint advertises.
MLFLOW_DEPLOYMENTS_CLIENT_THROTTLE = _BooleanEnvironmentVariable(
    "MLFLOW_DEPLOYMENTS_CLIENT_THROTTLE", True
)
#: Ours: where client throttles keep their windows (redis://host:port/db shares them).
MLFLOW_DEPLOYMENTS_THROTTLE_STORAGE_URI = _EnvironmentVariable(
    "MLFLOW_DEPLOYMENTS_THROTTLE_STORAGE_URI", str, None
)

# --- AI gateway (key resolution is opt-in, as in MLflow: it guards against file inclusion) -
MLFLOW_GATEWAY_URI = _EnvironmentVariable("MLFLOW_GATEWAY_URI", str, None)
#: MLflow's: where the gateway server counts endpoint rate limits (memory:// or redis://...).
MLFLOW_GATEWAY_RATE_LIMITS_STORAGE_URI = _EnvironmentVariable(
    "MLFLOW_GATEWAY_RATE_LIMITS_STORAGE_URI", str, None
)
MLFLOW_GATEWAY_RESOLVE_API_KEY_FROM_ENV = _BooleanEnvironmentVariable(
    "MLFLOW_GATEWAY_RESOLVE_API_KEY_FROM_ENV", False
)
MLFLOW_GATEWAY_RESOLVE_API_KEY_FROM_FILE = _BooleanEnvironmentVariable(
    "MLFLOW_GATEWAY_RESOLVE_API_KEY_FROM_FILE", False
)
