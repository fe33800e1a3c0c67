"""The legacy ``MlflowGatewayClient`` (deprecated in favour of ``mlflow.deployments``).

It runs on the same core as the deployment clients: each method is one coroutine (the ``a``-prefixed
twin), and the blocking method runs it on the shared background loop.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import warnings
from typing import Any
from urllib.parse import quote, urlparse

from async_core import run_sync
from mlflow.deployments._http import acall, default_host_creds, is_timeout
from mlflow.deployments.utils import PagedList, join_paths, resolve_endpoint_url
from mlflow.exceptions import BAD_REQUEST, MlflowException
from mlflow.gateway.config import LimitsConfig, Route
from mlflow.gateway.constants import (
    MLFLOW_GATEWAY_CLIENT_QUERY_RETRY_CODES,
    MLFLOW_GATEWAY_CRUD_ROUTE_BASE,
    MLFLOW_GATEWAY_LIMITS_BASE,
    MLFLOW_GATEWAY_ROUTE_BASE,
    MLFLOW_QUERY_SUFFIX,
)
from mlflow.gateway.utils import get_gateway_uri

MLFLOW_GATEWAY_CLIENT_QUERY_TIMEOUT_SECONDS = 300

GATEWAY_DEPRECATION_MESSAGE = (
    "MLflow AI gateway is deprecated and has been replaced by the deployments API for "
    "generative AI. See https://mlflow.org/docs/latest/llms/gateway/migration.html for "
    "migration. Use mlflow.deployments.get_deploy_client() instead."
)


def gateway_deprecated(obj):
    """Emit a ``FutureWarning`` pointing to ``mlflow.deployments`` when ``obj`` is used."""
    if inspect.isclass(obj):
        original = obj.__init__

        @functools.wraps(original)
        def init(*args, **kwargs):
            warnings.warn(GATEWAY_DEPRECATION_MESSAGE, FutureWarning, stacklevel=2)
            return original(*args, **kwargs)

        obj.__init__ = init
        return obj

    if inspect.iscoroutinefunction(obj):

        @functools.wraps(obj)
        async def async_wrapper(*args, **kwargs):
            warnings.warn(GATEWAY_DEPRECATION_MESSAGE, FutureWarning, stacklevel=2)
            return await obj(*args, **kwargs)

        return async_wrapper

    @functools.wraps(obj)
    def wrapper(*args, **kwargs):
        warnings.warn(GATEWAY_DEPRECATION_MESSAGE, FutureWarning, stacklevel=2)
        return obj(*args, **kwargs)

    return wrapper


def _is_databricks_uri(uri: str) -> bool:
    return uri == "databricks" or urlparse(uri).scheme == "databricks"


def _require_name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise MlflowException(f"A non-empty string is required for the {what}.", BAD_REQUEST)
    return quote(value, safe="")


@gateway_deprecated
class MlflowGatewayClient:
    """
    Client for the MLflow AI gateway's legacy routes API (deprecated: use
    ``mlflow.deployments.get_deploy_client``).

    Args:
        gateway_uri: URI of the gateway. If omitted: the value set with ``set_gateway_uri()``,
            then the ``MLFLOW_GATEWAY_URI`` environment variable.
    """

    def __init__(self, gateway_uri: str | None = None):
        self._gateway_uri = gateway_uri or get_gateway_uri()

    def __repr__(self) -> str:
        from mlflow.deployments.base import _redact_uri

        return f"MlflowGatewayClient(gateway_uri={_redact_uri(self._gateway_uri)!r})"

    @property
    def gateway_uri(self) -> str:
        """The URI of the gateway."""
        return self._gateway_uri

    def _is_databricks_host(self) -> bool:
        return _is_databricks_uri(self._gateway_uri)

    @property
    def _host_creds(self):
        # Resolved on every call, as MLflow does: a pickled client moved to another environment
        # picks up that environment's credentials.
        if self._is_databricks_host():
            from mlflow.deployments.databricks import get_databricks_host_creds

            return get_databricks_host_creds(self._gateway_uri)
        return default_host_creds(self._gateway_uri)

    async def _acall_endpoint(
        self,
        method: str,
        route: str,
        json_body: dict[str, Any] | None = None,
        idempotency_key: bool | str = True,
    ):
        # Databricks credentials may read config files or fetch a token: not on the event loop.
        host_creds = (
            await asyncio.to_thread(getattr, self, "_host_creds")
            if self._is_databricks_host()
            else self._host_creds
        )
        return await acall(
            host_creds,
            route,
            method,
            json_body,
            timeout=MLFLOW_GATEWAY_CLIENT_QUERY_TIMEOUT_SECONDS,
            retry_codes=MLFLOW_GATEWAY_CLIENT_QUERY_RETRY_CODES,
            idempotency_key=idempotency_key,
        )

    def _resolve_route(self, payload: dict[str, Any]) -> Route:
        route_url = resolve_endpoint_url(self._gateway_uri, payload["route_url"])
        return Route(**{**payload, "route_url": route_url})

    # --- coroutines: one per operation -------------------------------------------------------
    async def _aget_route(self, name: str) -> Route:
        route = join_paths(MLFLOW_GATEWAY_CRUD_ROUTE_BASE, _require_name(name, "route name"))
        response = await self._acall_endpoint("GET", route)
        return self._resolve_route(response.json())

    async def _asearch_routes(self, page_token: str | None = None) -> PagedList[Route]:
        params = {"page_token": page_token} if page_token is not None else None
        response = await self._acall_endpoint("GET", MLFLOW_GATEWAY_CRUD_ROUTE_BASE, params)
        payload = response.json()
        routes = [self._resolve_route(r) for r in payload.get("routes", [])]
        return PagedList(routes, payload.get("next_page_token"))

    async def _acreate_route(self, name, route_type=None, model=None) -> Route:
        if not self._is_databricks_host():
            raise MlflowException(
                "The create_route API is only available when running within Databricks. Route "
                "creation is handled through creating a configuration YAML file during startup "
                "or through updating a running Gateway server.",
                error_code=BAD_REQUEST,
            )
        payload = {"name": name, "route_type": route_type, "model": model}
        response = await self._acall_endpoint("POST", MLFLOW_GATEWAY_CRUD_ROUTE_BASE, payload)
        return Route(**response.json())

    async def _adelete_route(self, name: str) -> None:
        if not self._is_databricks_host():
            raise MlflowException(
                "The delete_route API is only available when running within Databricks. Route "
                "deletion is handled through uploading a modified configuration YAML file to the "
                "location specified when starting the Gateway server. To delete a route, remove "
                "the route entry from the configuration file.",
                error_code=BAD_REQUEST,
            )
        route = join_paths(MLFLOW_GATEWAY_CRUD_ROUTE_BASE, _require_name(name, "route name"))
        await self._acall_endpoint("DELETE", route)

    async def _aquery(
        self, route: str, data: dict[str, Any], idempotency_key: bool | str = True
    ) -> dict[str, Any]:
        query_route = join_paths(
            MLFLOW_GATEWAY_ROUTE_BASE, _require_name(route, "route"), MLFLOW_QUERY_SUFFIX
        )
        try:
            response = await self._acall_endpoint("POST", query_route, data, idempotency_key)
        except MlflowException as e:
            if is_timeout(e):
                raise MlflowException(
                    message=(
                        "The provider has timed out while generating a response to your query. "
                        "Please evaluate the available parameters for the query that you are "
                        "submitting. Some parameter values and inputs can increase the "
                        "computation time beyond the allowable route timeout of "
                        f"{MLFLOW_GATEWAY_CLIENT_QUERY_TIMEOUT_SECONDS} seconds."
                    ),
                    error_code=BAD_REQUEST,
                ) from e
            raise
        return response.json()

    async def _aset_limits(self, route: str, limits: list[dict[str, Any]]) -> LimitsConfig:
        payload = {"route": route, "limits": limits}
        response = await self._acall_endpoint("POST", MLFLOW_GATEWAY_LIMITS_BASE, payload)
        return LimitsConfig(**response.json())

    async def _aget_limits(self, route: str) -> LimitsConfig:
        path = join_paths(MLFLOW_GATEWAY_LIMITS_BASE, _require_name(route, "route"))
        response = await self._acall_endpoint("GET", path)
        return LimitsConfig(**response.json())

    # --- public API: blocking and awaitable -------------------------------------------------
    @gateway_deprecated
    def get_route(self, name: str) -> Route:
        """The route ``name`` as the gateway reports it, with an absolute ``route_url``."""
        return run_sync(self._aget_route(name))

    @gateway_deprecated
    async def aget_route(self, name: str) -> Route:
        """Awaitable :meth:`get_route`."""
        return await self._aget_route(name)

    @gateway_deprecated
    def search_routes(self, page_token: str | None = None) -> PagedList[Route]:
        """One page of routes; ``.token`` is the next page's token (``None`` at the end)."""
        return run_sync(self._asearch_routes(page_token))

    @gateway_deprecated
    async def asearch_routes(self, page_token: str | None = None) -> PagedList[Route]:
        """Awaitable :meth:`search_routes`."""
        return await self._asearch_routes(page_token)

    @gateway_deprecated
    def create_route(self, name: str, route_type: str | None = None, model=None) -> Route:
        """Create a route. Only available on Databricks; elsewhere routes come from the YAML."""
        return run_sync(self._acreate_route(name, route_type, model))

    @gateway_deprecated
    async def acreate_route(self, name: str, route_type: str | None = None, model=None) -> Route:
        """Awaitable :meth:`create_route`."""
        return await self._acreate_route(name, route_type, model)

    @gateway_deprecated
    def delete_route(self, name: str) -> None:
        """Delete a route. Only available on Databricks; elsewhere edit the gateway's YAML."""
        return run_sync(self._adelete_route(name))

    @gateway_deprecated
    async def adelete_route(self, name: str) -> None:
        """Awaitable :meth:`delete_route`."""
        return await self._adelete_route(name)

    @gateway_deprecated
    def query(
        self, route: str, data: dict[str, Any], *, idempotency_key: bool | str = True
    ) -> dict[str, Any]:
        """Query the route (POST ``/gateway/<route>/invocations``); returns the JSON response.

        ``idempotency_key`` (keyword only, not in MLflow): ``True`` (default) sends one fresh
        ``Idempotency-Key`` for this call, the same on each retry; ``False`` none; a str that
        key."""
        return run_sync(self._aquery(route, data, idempotency_key))

    @gateway_deprecated
    async def aquery(
        self, route: str, data: dict[str, Any], *, idempotency_key: bool | str = True
    ) -> dict[str, Any]:
        """Awaitable :meth:`query`."""
        return await self._aquery(route, data, idempotency_key)

    @gateway_deprecated
    def set_limits(self, route: str, limits: list[dict[str, Any]]) -> LimitsConfig:
        """Set a route's limits (Databricks-hosted gateways only; others answer 501)."""
        return run_sync(self._aset_limits(route, limits))

    @gateway_deprecated
    async def aset_limits(self, route: str, limits: list[dict[str, Any]]) -> LimitsConfig:
        """Awaitable :meth:`set_limits`."""
        return await self._aset_limits(route, limits)

    @gateway_deprecated
    def get_limits(self, route: str) -> LimitsConfig:
        """A route's limits (Databricks-hosted gateways only; others answer 501)."""
        return run_sync(self._aget_limits(route))

    @gateway_deprecated
    async def aget_limits(self, route: str) -> LimitsConfig:
        """Awaitable :meth:`get_limits`."""
        return await self._aget_limits(route)
