"""The legacy MLflow AI gateway client (deprecated: use :mod:`mlflow.deployments`)."""

from mlflow.gateway.client import MlflowGatewayClient
from mlflow.gateway.fluent import (
    create_route,
    delete_route,
    get_gateway_uri,
    get_limits,
    get_route,
    query,
    search_routes,
    set_gateway_uri,
    set_limits,
)

__all__ = [
    "MlflowGatewayClient",
    "create_route",
    "delete_route",
    "get_gateway_uri",
    "get_limits",
    "get_route",
    "query",
    "search_routes",
    "set_gateway_uri",
    "set_limits",
]
