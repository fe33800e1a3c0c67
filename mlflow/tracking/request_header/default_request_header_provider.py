"""The headers every request carries: MLflow's User-Agent and client version."""

from __future__ import annotations

from mlflow.tracking.request_header.abstract_request_header_provider import RequestHeaderProvider
from mlflow.version import VERSION

_USER_AGENT = "User-Agent"
_CLIENT_VERSION = "X-MLflow-Client-Version"
_MLFLOW_PYTHON_CLIENT_USER_AGENT_PREFIX = "mlflow-python-client/"
# The version also goes in its own header: the Databricks SDK replaces User-Agent with its own.
_DEFAULT_HEADERS = {
    _USER_AGENT: f"{_MLFLOW_PYTHON_CLIENT_USER_AGENT_PREFIX}{VERSION}",
    _CLIENT_VERSION: VERSION,
}


class DefaultRequestHeaderProvider(RequestHeaderProvider):
    """Provides the default request headers; always in context."""

    def in_context(self) -> bool:
        return True

    def request_headers(self) -> dict[str, str]:
        return dict(_DEFAULT_HEADERS)
