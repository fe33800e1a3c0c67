"""``DatabricksDeploymentClient``: the ``databricks`` target (Databricks model serving)."""

from __future__ import annotations

import asyncio
import posixpath
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import quote

from async_core import iter_sync, run_sync
from mlflow.deployments._http import acall, iter_strict_data_json
from mlflow.deployments._unsupported import UnsupportedManagementMixin
from mlflow.deployments.base import BaseDeploymentClient
from mlflow.deployments.constants import (
    DATABRICKS_CLIENT_HEADER,
    DATABRICKS_CLIENT_HEADER_VALUE,
    DATABRICKS_SERVING_ENDPOINTS_PREFIX,
)
from mlflow.environment_variables import (
    MLFLOW_DEPLOYMENT_PREDICT_TIMEOUT,
    MLFLOW_DEPLOYMENT_PREDICT_TOTAL_TIMEOUT,
)
from mlflow.exceptions import MlflowException
from mlflow.utils.rest_utils import validate_deployment_timeout_config


class DatabricksEndpoint(dict):
    """A dict describing a serving endpoint (or a response), with attribute access.

    .. code-block:: python

        endpoint = DatabricksEndpoint({"name": "chat", "state": {"ready": "READY"}})
        assert endpoint.name == "chat" and endpoint.state.ready == "READY"
    """

    def __getattr__(self, name: str) -> Any:
        try:
            value = self[name]
        except KeyError:
            raise AttributeError(name) from None
        return DatabricksEndpoint(value) if type(value) is dict else value


def get_databricks_host_creds(target_uri: str):
    """The workspace host and credentials of ``target_uri`` (``databricks[://profile]``)."""
    # Imported on use: resolving Databricks auth pulls in the SDK and reads config files.
    from mlflow.utils.databricks_utils import get_databricks_host_creds as resolve

    return resolve(target_uri)


def _name(endpoint: Any, what: str = "endpoint") -> str:
    if not isinstance(endpoint, str) or not endpoint:
        raise MlflowException.invalid_parameter_value(
            f"Invalid {what} {endpoint!r}: pass the name of a serving endpoint, e.g. "
            "endpoint='databricks-meta-llama-3-3-70b-instruct'."
        )
    return quote(endpoint, safe="")


def _create_payload(name, config, route_optimized) -> dict[str, Any]:
    """The body of POST /api/2.0/serving-endpoints, from MLflow's new or legacy arguments."""
    notes: list[str] = []
    if config and "config" in config:
        # New style: ``config`` is the full API request payload.
        payload = dict(config)
        if "name" in payload:
            if name is not None:
                if payload["name"] != name:
                    raise MlflowException(
                        f"Name mismatch. Found '{name}' as parameter and '{payload['name']}' "
                        "in config. Please specify 'name' only within the config dictionary "
                        "as this parameter is deprecated."
                    )
                notes.append(
                    "Passing 'name' as a parameter is deprecated. "
                    "Please specify 'name' only within the config dictionary."
                )
        else:
            if name is None:
                raise MlflowException(
                    "The 'name' field is required. Please specify it within the config dictionary."
                )
            payload["name"] = name
            notes.append(
                "Passing 'name' as a parameter is deprecated. "
                "Please specify 'name' within the config dictionary."
            )
        if "route_optimized" in payload:
            if route_optimized is not None:
                if payload["route_optimized"] != route_optimized:
                    raise MlflowException(
                        "Conflicting 'route_optimized' values found. "
                        "Please specify 'route_optimized' only within the config dictionary "
                        "as this parameter is deprecated."
                    )
                notes.append(
                    "Passing 'route_optimized' as a parameter is deprecated. "
                    "Please specify 'route_optimized' only within the config dictionary."
                )
        elif route_optimized:
            payload["route_optimized"] = route_optimized
            notes.append(
                "Passing 'route_optimized' as a parameter is deprecated. "
                "Please specify 'route_optimized' within the config dictionary."
            )
    else:
        # Legacy style: name, the endpoint's config and route_optimized as separate arguments.
        notes.append(
            "Passing 'name', 'config', and 'route_optimized' as separate parameters is "
            "deprecated. Please pass the full API request payload as a single dictionary "
            "in the 'config' parameter."
        )
        endpoint_config = dict(config) if config else {}
        extras = {}
        for key in ("tags", "rate_limits"):
            if value := endpoint_config.pop(key, None):
                extras[key] = value
        payload = {
            "name": name,
            "config": endpoint_config,
            "route_optimized": route_optimized,
            **extras,
        }
    if notes:
        warnings.warn("\n".join(notes), UserWarning, stacklevel=3)
    return payload


def _warn_update_endpoint_deprecated(method: str) -> None:
    """MLflow's ``@deprecated`` FutureWarning, raised at the caller's line."""
    warnings.warn(
        f"``mlflow.deployments.databricks.DatabricksDeploymentClient.{method}`` is deprecated. "
        "This method will be removed in a future release. Use ``update_endpoint_config, "
        "update_endpoint_tags, update_endpoint_rate_limits, or update_endpoint_ai_gateway`` "
        "instead.",
        FutureWarning,
        stacklevel=3,
    )


def _update_route(endpoint, config) -> str:
    """The route the deprecated ``update_endpoint`` uses: rate limits alone, else the config."""
    warnings.warn(
        "The `update_endpoint` method is deprecated. Use the specific update methods—"
        "`update_endpoint_config`, `update_endpoint_tags`, `update_endpoint_rate_limits`, "
        "`update_endpoint_ai_gateway`—instead.",
        UserWarning,
        stacklevel=3,
    )
    suffix = "rate-limits" if list(config or {}) == ["rate_limits"] else "config"
    return posixpath.join(_name(endpoint), suffix)


def _predict_timeouts() -> tuple[int, int]:
    timeout = MLFLOW_DEPLOYMENT_PREDICT_TIMEOUT.get()
    retry_timeout_seconds = MLFLOW_DEPLOYMENT_PREDICT_TOTAL_TIMEOUT.get()
    validate_deployment_timeout_config(timeout, retry_timeout_seconds)
    return timeout, retry_timeout_seconds


class DatabricksDeploymentClient(UnsupportedManagementMixin, BaseDeploymentClient):
    """
    Client for Databricks serving endpoints (target ``databricks`` or ``databricks://<profile>``).

    Credentials come from the usual Databricks sources (``DATABRICKS_HOST`` and
    ``DATABRICKS_TOKEN``, a ``~/.databrickscfg`` profile, ...). Every method has an awaitable
    twin (``apredict``, ``alist_endpoints``, ``acreate_endpoint``, ``apredict_stream``, ...).

    .. code-block:: python

        from mlflow.deployments import get_deploy_client

        client = get_deploy_client("databricks")
        endpoints = client.list_endpoints()
        response = client.predict(endpoint="chat", inputs={"messages": [...]})
    """

    _applies_limits = True  # predictions go through `set_limit` limits per request

    # --- transport ---------------------------------------------------------------------------
    async def _arequest(
        self,
        *,
        method: str,
        prefix: str,
        route: str | None,
        json_body: dict[str, Any] | None,
        timeout: int | None,
        retry_timeout_seconds: int | None,
        stream: bool,
        admission: Any = None,
        idempotency_key: bool | str = True,
    ):
        """One call under ``<prefix>/serving-endpoints/``; its response once the status is OK."""
        # Resolving credentials may read config files or fetch a token: not on the event loop.
        host_creds = await asyncio.to_thread(get_databricks_host_creds, self.target_uri)
        return await acall(
            host_creds,
            posixpath.join(prefix, "serving-endpoints", route or ""),
            method,
            json_body,
            timeout=timeout,
            stream=stream,
            retry_timeout_seconds=retry_timeout_seconds,
            extra_headers={DATABRICKS_CLIENT_HEADER: DATABRICKS_CLIENT_HEADER_VALUE},
            idempotency_key=idempotency_key,
            _admission=admission,
        )

    async def _acall_endpoint(
        self,
        *,
        method: str,
        prefix: str = DATABRICKS_SERVING_ENDPOINTS_PREFIX,
        route: str | None = None,
        json_body: dict[str, Any] | None = None,
        timeout: int | None = None,
        retry_timeout_seconds: int | None = None,
        admission: Any = None,
        idempotency_key: bool | str = True,
    ) -> DatabricksEndpoint:
        """One call under ``<prefix>/serving-endpoints/``, its JSON body as a DatabricksEndpoint."""
        response = await self._arequest(
            method=method,
            prefix=prefix,
            route=route,
            json_body=json_body,
            timeout=timeout,
            retry_timeout_seconds=retry_timeout_seconds,
            stream=False,
            admission=admission,
            idempotency_key=idempotency_key,
        )
        return DatabricksEndpoint(response.json() if response.content else {})

    def _call_endpoint(self, **kwargs: Any) -> DatabricksEndpoint:
        """Blocking :meth:`_acall_endpoint`."""
        return run_sync(self._acall_endpoint(**kwargs))

    async def _acall_endpoint_stream(
        self,
        *,
        method: str,
        prefix: str = DATABRICKS_SERVING_ENDPOINTS_PREFIX,
        route: str | None = None,
        json_body: dict[str, Any] | None = None,
        timeout: int | None = None,
        retry_timeout_seconds: int | None = None,
        limit_endpoint: str | None = None,
        idempotency_key: bool | str = True,
    ) -> AsyncIterator[dict[str, Any]]:
        admission = None
        if limit_endpoint is not None:
            admission = await self._apredict_admission(limit_endpoint)
        response = await self._arequest(
            method=method,
            prefix=prefix,
            route=route,
            json_body=json_body,
            timeout=timeout,
            retry_timeout_seconds=retry_timeout_seconds,
            stream=True,
            admission=admission,
            idempotency_key=idempotency_key,
        )
        try:
            async for chunk in iter_strict_data_json(response):
                yield chunk
        finally:
            await response.aclose()

    # --- queries -------------------------------------------------------------------------------
    async def _apredict(self, endpoint, inputs, timeout, retry_timeout_seconds,
                        idempotency_key=True):
        route = posixpath.join(_name(endpoint), "invocations")
        return await self._acall_endpoint(
            method="POST",
            prefix="/",
            route=route,
            json_body=inputs,
            timeout=timeout,
            retry_timeout_seconds=retry_timeout_seconds,
            admission=await self._apredict_admission(endpoint),
            idempotency_key=idempotency_key,
        )

    async def apredict(
        self, deployment_name=None, inputs=None, endpoint=None, *, idempotency_key=True
    ):
        """Awaitable :meth:`predict`."""
        return await self._apredict(
            endpoint, inputs, *_predict_timeouts(), idempotency_key=idempotency_key
        )

    def predict(self, deployment_name=None, inputs=None, endpoint=None, *, idempotency_key=True):
        """
        Query a serving endpoint (POST ``/serving-endpoints/<endpoint>/invocations``).

        The single-request timeout is ``MLFLOW_DEPLOYMENT_PREDICT_TIMEOUT`` and the total time
        spent retrying is bounded by ``MLFLOW_DEPLOYMENT_PREDICT_TOTAL_TIMEOUT``.

        Args:
            deployment_name: Unused.
            inputs: A dict with the model inputs.
            endpoint: The name of the serving endpoint.
            idempotency_key: Keyword only (not in MLflow). ``True`` (default): one fresh
                ``Idempotency-Key`` header for this call, the same on each of its retries;
                ``False``: none (for a call the server must not deduplicate); a str: that key.

        Returns:
            A :class:`DatabricksEndpoint` with the response.
        """
        return run_sync(
            self._apredict(endpoint, inputs, *_predict_timeouts(), idempotency_key=idempotency_key)
        )

    def _stream(
        self, endpoint, inputs, timeouts, idempotency_key=True
    ) -> AsyncIterator[dict[str, Any]]:
        timeout, retry_timeout_seconds = timeouts
        return self._acall_endpoint_stream(
            method="POST",
            prefix="/",
            route=posixpath.join(_name(endpoint), "invocations"),
            # stream=True in the body asks the endpoint for a streamed response.
            json_body={**(inputs or {}), "stream": True},
            timeout=timeout,
            retry_timeout_seconds=retry_timeout_seconds,
            limit_endpoint=endpoint,
            idempotency_key=idempotency_key,
        )

    async def apredict_stream(
        self, deployment_name=None, inputs=None, endpoint=None, *, idempotency_key=True
    ) -> AsyncIterator[dict[str, Any]]:
        """Async iterator over the chunks of :meth:`predict_stream`."""
        async for chunk in self._stream(endpoint, inputs, _predict_timeouts(), idempotency_key):
            yield chunk

    def predict_stream(
        self, deployment_name=None, inputs=None, endpoint=None, *, idempotency_key=True
    ) -> Iterator[dict[str, Any]]:
        """
        Query a serving endpoint with ``"stream": true``; iterate over its ``data:`` chunks.

        Args:
            deployment_name: Unused.
            inputs: A dict with the model inputs.
            endpoint: The name of the serving endpoint.
            idempotency_key: Keyword only, as for :meth:`predict`.

        Returns:
            An iterator of dicts, one per chunk, ending at ``data: [DONE]``.
        """
        return iter_sync(self._stream(endpoint, inputs, _predict_timeouts(), idempotency_key))

    # --- endpoints -----------------------------------------------------------------------------
    async def acreate_endpoint(self, name=None, config=None, route_optimized=False):
        """Awaitable :meth:`create_endpoint`."""
        payload = _create_payload(name, config, route_optimized)
        return await self._acall_endpoint(method="POST", json_body=payload)

    def create_endpoint(self, name=None, config=None, route_optimized=False):
        """
        Create a serving endpoint (POST ``/api/2.0/serving-endpoints``).

        Args:
            name: Deprecated: put ``name`` in ``config``.
            config: The full API request payload (``{"name": ..., "config": {...}, ...}``) or,
                deprecated, only the endpoint's ``config``.
            route_optimized: Deprecated: put ``route_optimized`` in ``config``.

        Returns:
            A :class:`DatabricksEndpoint` describing the new endpoint.
        """
        payload = _create_payload(name, config, route_optimized)
        return run_sync(self._acall_endpoint(method="POST", json_body=payload))

    async def aupdate_endpoint(self, endpoint, config=None):
        """Awaitable :meth:`update_endpoint` (deprecated)."""
        _warn_update_endpoint_deprecated("aupdate_endpoint")
        route = _update_route(endpoint, config)
        return await self._acall_endpoint(method="PUT", route=route, json_body=config)

    def update_endpoint(self, endpoint, config=None):
        """
        Deprecated: use ``update_endpoint_config``, ``update_endpoint_tags``,
        ``update_endpoint_rate_limits`` or ``update_endpoint_ai_gateway``.

        A ``config`` holding only ``rate_limits`` goes to ``PUT .../rate-limits``; anything else
        goes to ``PUT .../config``.
        """
        _warn_update_endpoint_deprecated("update_endpoint")
        route = _update_route(endpoint, config)
        return run_sync(self._acall_endpoint(method="PUT", route=route, json_body=config))

    async def aupdate_endpoint_config(self, endpoint, config):
        """Awaitable :meth:`update_endpoint_config`."""
        route = posixpath.join(_name(endpoint), "config")
        return await self._acall_endpoint(method="PUT", route=route, json_body=config)

    def update_endpoint_config(self, endpoint, config):
        """Update the served entities / traffic config (PUT ``.../<endpoint>/config``)."""
        return run_sync(self.aupdate_endpoint_config(endpoint, config))

    async def aupdate_endpoint_tags(self, endpoint, config):
        """Awaitable :meth:`update_endpoint_tags`."""
        route = posixpath.join(_name(endpoint), "tags")
        return await self._acall_endpoint(method="PATCH", route=route, json_body=config)

    def update_endpoint_tags(self, endpoint, config):
        """Add and/or delete tags (PATCH ``.../<endpoint>/tags`` with ``add_tags`` /
        ``delete_tags``)."""
        return run_sync(self.aupdate_endpoint_tags(endpoint, config))

    async def aupdate_endpoint_rate_limits(self, endpoint, config):
        """Awaitable :meth:`update_endpoint_rate_limits`."""
        route = posixpath.join(_name(endpoint), "rate-limits")
        return await self._acall_endpoint(method="PUT", route=route, json_body=config)

    def update_endpoint_rate_limits(self, endpoint, config):
        """Replace the rate limits (PUT ``.../<endpoint>/rate-limits``)."""
        return run_sync(self.aupdate_endpoint_rate_limits(endpoint, config))

    async def aupdate_endpoint_ai_gateway(self, endpoint, config):
        """Awaitable :meth:`update_endpoint_ai_gateway`."""
        route = posixpath.join(_name(endpoint), "ai-gateway")
        return await self._acall_endpoint(method="PUT", route=route, json_body=config)

    def update_endpoint_ai_gateway(self, endpoint, config):
        """Update the AI gateway configuration (PUT ``.../<endpoint>/ai-gateway``)."""
        return run_sync(self.aupdate_endpoint_ai_gateway(endpoint, config))

    async def adelete_endpoint(self, endpoint):
        """Awaitable :meth:`delete_endpoint`."""
        return await self._acall_endpoint(method="DELETE", route=_name(endpoint))

    def delete_endpoint(self, endpoint):
        """Delete a serving endpoint (DELETE ``/api/2.0/serving-endpoints/<endpoint>``)."""
        return run_sync(self.adelete_endpoint(endpoint))

    async def alist_endpoints(self):
        """Awaitable :meth:`list_endpoints`."""
        response = await self._acall_endpoint(method="GET")
        return [DatabricksEndpoint(e) for e in response.get("endpoints", [])]

    def list_endpoints(self):
        """All serving endpoints (GET ``/api/2.0/serving-endpoints``), as a list."""
        return run_sync(self.alist_endpoints())

    async def aget_endpoint(self, endpoint):
        """Awaitable :meth:`get_endpoint`."""
        return await self._acall_endpoint(method="GET", route=_name(endpoint))

    def get_endpoint(self, endpoint):
        """One serving endpoint (GET ``/api/2.0/serving-endpoints/<endpoint>``)."""
        return run_sync(self.aget_endpoint(endpoint))


def run_local(name, model_uri, flavor=None, config=None):
    pass


def target_help():
    return (
        "Target URI: 'databricks' (credentials from DATABRICKS_HOST / DATABRICKS_TOKEN or the "
        "default ~/.databrickscfg profile) or 'databricks://<profile>'. predict uses "
        "MLFLOW_DEPLOYMENT_PREDICT_TIMEOUT per request and MLFLOW_DEPLOYMENT_PREDICT_TOTAL_TIMEOUT "
        "for all retries; other calls use MLFLOW_DEPLOYMENT_CLIENT_HTTP_REQUEST_TIMEOUT."
    )
