"""The legacy gateway's module-level API: the gateway URI and one-call helpers (deprecated)."""

from __future__ import annotations

import warnings
from typing import Any

from async_core import run_sync
from mlflow.exceptions import MlflowException
from mlflow.gateway import utils as gateway_utils
from mlflow.gateway.client import MlflowGatewayClient, gateway_deprecated
from mlflow.gateway.config import LimitsConfig, Route
from mlflow.gateway.constants import MLFLOW_GATEWAY_SEARCH_ROUTES_PAGE_SIZE
from mlflow.gateway.utils import _is_valid_uri  # noqa: F401  (MLflow's name, kept importable)

_MAX_PAGES = 10_000


@gateway_deprecated
def set_gateway_uri(gateway_uri: str) -> None:
    """Set the URI of the MLflow AI gateway used by the module-level functions.

    Args:
        gateway_uri: The full URI of a running gateway, or ``"databricks"``.
    """
    gateway_utils.set_gateway_uri(gateway_uri)


@gateway_deprecated
def get_gateway_uri() -> str:
    """The gateway URI set with :func:`set_gateway_uri`, else ``MLFLOW_GATEWAY_URI``."""
    return gateway_utils.get_gateway_uri()


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
