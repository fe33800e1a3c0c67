"""The legacy gateway's module-level API: the gateway URI and one-call helpers (deprecated)."""

from __future__ import annotations

import warnings
from typing import Any
from urllib.parse import urlparse

from async_core import run_sync
from mlflow.environment_variables import MLFLOW_GATEWAY_URI
from mlflow.exceptions import MlflowException
from mlflow.gateway.client import (
    MLFLOW_GATEWAY_SEARCH_ROUTES_PAGE_SIZE,
    MlflowGatewayClient,
    gateway_deprecated,
)
from mlflow.gateway.config import LimitsConfig, Route

_gateway_uri: str | None = None
_MAX_PAGES = 10_000


def _is_valid_uri(uri: Any) -> bool:
    if uri == "databricks":
        return True
    try:
        parsed = urlparse(uri)
    except (TypeError, ValueError, AttributeError):
        return False
    return parsed.scheme == "databricks" or bool(parsed.scheme and parsed.netloc)


@gateway_deprecated
def set_gateway_uri(gateway_uri: str) -> None:
    """Set the URI of the MLflow AI gateway used by the module-level functions.

    Args:
        gateway_uri: The full URI of a running gateway, or ``"databricks"``.
    """
    if not isinstance(gateway_uri, str) or not _is_valid_uri(gateway_uri):
        raise MlflowException.invalid_parameter_value(
            "The gateway uri provided is missing required elements. Ensure that the schema "
            "and netloc are provided."
        )
    global _gateway_uri
    _gateway_uri = gateway_uri


def _resolve_gateway_uri() -> str:
    if _gateway_uri is not None:
        return _gateway_uri
    if uri := MLFLOW_GATEWAY_URI.get():
        return uri
    raise MlflowException(
        "No Gateway server uri has been set. Please either set the MLflow Gateway URI via "
        "`mlflow.gateway.set_gateway_uri()` or set the environment variable "
        f"{MLFLOW_GATEWAY_URI} to the running Gateway API server's uri"
    )


@gateway_deprecated
def get_gateway_uri() -> str:
    """The gateway URI set with :func:`set_gateway_uri`, else ``MLFLOW_GATEWAY_URI``."""
    return _resolve_gateway_uri()


def _client() -> MlflowGatewayClient:
    # The client's own deprecation warning would repeat the one of the calling function.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return MlflowGatewayClient()


@gateway_deprecated
def get_route(name: str) -> Route:
    """The route ``name`` of the gateway set with :func:`set_gateway_uri`."""
    return run_sync(_client()._aget_route(name))


@gateway_deprecated
def search_routes() -> list[Route]:
    """All routes of the gateway, following page tokens."""
    client = _client()
    routes: list[Route] = []
    token: str | None = None
    for _ in range(_MAX_PAGES):
        page = run_sync(client._asearch_routes(token))
        routes.extend(page)
        token = page.token
        if not token:
            return routes
    raise MlflowException(
        f"Searching routes took more than {_MAX_PAGES} pages of "
        f"{MLFLOW_GATEWAY_SEARCH_ROUTES_PAGE_SIZE}; stopping."
    )


@gateway_deprecated
def create_route(name: str, route_type: str | None = None, model=None) -> Route:
    """Create a route (Databricks only)."""
    return run_sync(_client()._acreate_route(name, route_type, model))


@gateway_deprecated
def delete_route(name: str) -> None:
    """Delete a route (Databricks only)."""
    run_sync(_client()._adelete_route(name))


@gateway_deprecated
def set_limits(route: str, limits: list[dict[str, Any]]) -> LimitsConfig:
    """Set a route's limits (Databricks-hosted gateways only)."""
    return run_sync(_client()._aset_limits(route, limits))


@gateway_deprecated
def get_limits(route: str) -> LimitsConfig:
    """A route's limits (Databricks-hosted gateways only)."""
    return run_sync(_client()._aget_limits(route))


@gateway_deprecated
def query(route: str, data) -> dict[str, Any]:
    """Query a route of the gateway set with :func:`set_gateway_uri`."""
    return run_sync(_client()._aquery(route, data))
