"""``MlflowDeploymentClient``: the ``http``/``https`` target, i.e. an MLflow AI gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from async_core import iter_sync, run_sync
from mlflow.deployments import _limits
from mlflow.deployments._http import (
    acall,
    checked_prediction,
    default_host_creds,
    predict_stream_chunks,
)
from mlflow.deployments._limit_values import advertised_limit
from mlflow.deployments._unsupported import UnsupportedManagementMixin
from mlflow.deployments.base import BaseDeploymentClient
from mlflow.deployments.constants import (
    MLFLOW_DEPLOYMENT_CLIENT_REQUEST_RETRY_CODES,
    MLFLOW_DEPLOYMENTS_CRUD_ENDPOINT_BASE,
    MLFLOW_DEPLOYMENTS_ENDPOINTS_BASE,
    MLFLOW_DEPLOYMENTS_QUERY_SUFFIX,
)
from mlflow.deployments.utils import PagedList, join_paths, resolve_endpoint_url
from mlflow.environment_variables import MLFLOW_DEPLOYMENT_PREDICT_TIMEOUT
from mlflow.exceptions import MlflowException
from mlflow.gateway.db_client import GatewayStoreClientMixin
from mlflow.utils import rest_utils
from mlflow.utils.rest_utils import ahttp_request, augmented_raise_for_status

if TYPE_CHECKING:
    from mlflow.deployments.server.config import Endpoint

# A server that keeps handing out new page tokens would make list_endpoints loop forever.
_MAX_PAGES = 10_000


def _endpoint_name(endpoint: Any) -> str:
    if not isinstance(endpoint, str) or not endpoint:
        raise MlflowException.invalid_parameter_value(
            f"Invalid endpoint {endpoint!r}: pass the name of an endpoint of the gateway, e.g. "
            "predict(endpoint='chat', inputs={...}). list_endpoints() shows the names."
        )
    return endpoint


def _query_route(endpoint: str) -> str:
    return join_paths(
        MLFLOW_DEPLOYMENTS_ENDPOINTS_BASE,
        quote(_endpoint_name(endpoint), safe=""),
        MLFLOW_DEPLOYMENTS_QUERY_SUFFIX,
    )


class MlflowDeploymentClient(
    UnsupportedManagementMixin, GatewayStoreClientMixin, BaseDeploymentClient
):
    """
    Client for an MLflow AI gateway (``mlflow gateway start --config-path config.yaml``).

    Every method has an awaitable twin (``aget_endpoint``, ``alist_endpoints``, ``apredict``,
    ``apredict_stream``); the blocking methods run the same code on a background event loop.

    Predictions are throttled to the ``limit`` each endpoint advertises, so the gateway never
    has to refuse one: at most ``calls`` requests start in any ``renewal_period``, shared by
    every client, thread and event loop of the process that talks to the same endpoint. The
    limit is read with ``get_endpoint`` (and from ``list_endpoints`` / ``get_endpoint``
    answers) and refreshed every ``limit_refresh_interval`` seconds. Turn this off with
    ``throttle=False`` or ``MLFLOW_DEPLOYMENTS_CLIENT_THROTTLE=false``; override one endpoint's
    limit with :meth:`set_limit`.

    Args:
        target_uri: The gateway's base URL.
        throttle: Throttle to advertised limits; None (default) reads
            ``MLFLOW_DEPLOYMENTS_CLIENT_THROTTLE`` (default true) at each request.
        limit_refresh_interval: Seconds after which a cached advertised limit is read again.

    .. code-block:: python

        from mlflow.deployments import get_deploy_client

        client = get_deploy_client("http://localhost:5000")
        endpoints = client.list_endpoints()
        response = client.predict(endpoint="chat", inputs={"messages": [...]})
        for chunk in client.predict_stream(endpoint="chat", inputs={"messages": [...]}):
            print(chunk["choices"][0]["delta"])
    """

    _applies_limits = True

    def __init__(
        self,
        target_uri,
        *,
        throttle: bool | None = None,
        limit_refresh_interval: float = _limits.DEFAULT_REFRESH_INTERVAL,
    ):
        super().__init__(target_uri)
        if throttle is not None and not isinstance(throttle, bool):
            raise MlflowException.invalid_parameter_value(
                f"Invalid throttle={throttle!r}: use True, False, or None to follow "
                f"{_limits.THROTTLE_ENV}."
            )
        self.throttle = throttle
        self._advertised = _limits.AdvertisedLimits(
            target_uri, self._afetch_limit, _limits.check_refresh_interval(limit_refresh_interval)
        )

    # --- rate limits ---------------------------------------------------------------------------
    def _advertised_limits(self) -> _limits.AdvertisedLimits:
        advertised = self.__dict__.get("_advertised")
        if advertised is None:  # a subclass that skipped our __init__
            advertised = self.__dict__.setdefault(
                "_advertised",
                _limits.AdvertisedLimits(
                    self.target_uri, self._afetch_limit, _limits.DEFAULT_REFRESH_INTERVAL
                ),
            )
        return advertised

    async def _afetch_limit(self, endpoint: str) -> Any:
        """The ``limit`` the gateway advertises for ``endpoint`` (one short, unretried GET)."""
        route = join_paths(MLFLOW_DEPLOYMENTS_CRUD_ENDPOINT_BASE, quote(endpoint, safe=""))
        response = await rest_utils.ahttp_request(
            host_creds=default_host_creds(self.target_uri),
            endpoint=route,
            method="GET",
            timeout=_limits.FETCH_TIMEOUT,
            max_retries=0,
            raise_on_status=False,
        )
        augmented_raise_for_status(response)
        return response.json().get("limit")

    async def _aendpoint_admission(self, endpoint):
        found = self._client_limits().get(endpoint)
        if found is not None:
            return found[1]
        if not _limits.throttle_enabled(self.__dict__.get("throttle")):
            return None
        # Never waits for the lookup; until it answers, the endpoint's provisional admission
        # applies (one request at once, the others wait for it within their deadline).
        return await self._advertised_limits().admission(endpoint)

    # --- transport ---------------------------------------------------------------------------
    async def _acall_endpoint(
        self,
        method: str,
        route: str,
        json_body: dict[str, Any] | None = None,
        timeout: int | None = None,
    ) -> Any:
        """One management or predict call; ``timeout`` overrides the management default."""
        response = await acall(
            default_host_creds(self.target_uri), route, method, json_body, timeout=timeout
        )
        return response.json()

    def _call_endpoint(
        self,
        method: str,
        route: str,
        json_body: dict[str, Any] | None = None,
        timeout: int | None = None,
    ) -> Any:
        """Blocking :meth:`_acall_endpoint`."""
        return run_sync(self._acall_endpoint(method, route, json_body, timeout))

    async def _asend_predict(
        self,
        endpoint: str,
        body: dict[str, Any] | None,
        *,
        stream: bool = False,
        idempotency_key: bool | str = True,
    ):
        """POST one query to ``/endpoints/<endpoint>/invocations`` and return the response.

        Every predict and stream request goes through here: this is where client-side
        throttling (keyed on the endpoint's advertised ``limit``) plugs in.
        """
        route = _query_route(endpoint)
        admission = await self._apredict_admission(endpoint)
        timeout = MLFLOW_DEPLOYMENT_PREDICT_TIMEOUT.get()
        return await checked_prediction(
            ahttp_request(
                host_creds=default_host_creds(self.target_uri),
                endpoint=route,
                method="POST",
                timeout=timeout,
                retry_codes=MLFLOW_DEPLOYMENT_CLIENT_REQUEST_RETRY_CODES,
                raise_on_status=False,
                json=body,
                stream=stream,
                idempotency_key=idempotency_key,
                _admission=admission,
            ),
            timeout,
            stream,
        )

    # --- endpoints -----------------------------------------------------------------------------
    def _to_endpoint(self, payload: dict[str, Any]) -> Endpoint:
        # Delayed import: the configuration models are only needed once a response arrives.
        from mlflow.deployments.server.config import Endpoint
        from mlflow.gateway.config import Limit

        name = payload.get("name")
        # A malformed advertised limit must not break get_endpoint/list_endpoints: the endpoint
        # comes back with limit=None and one warning (an unusable period is the throttle's call).
        limit = advertised_limit(
            _limits._target_of(self.target_uri), str(name), payload.get("limit"), Limit
        )
        endpoint = Endpoint(
            **{
                **payload,
                "limit": limit,
                "endpoint_url": resolve_endpoint_url(self.target_uri, payload["endpoint_url"]),
            }
        )
        # A fresh answer about the endpoint's limit: the throttle's cache takes it too.
        self._advertised_limits().note(endpoint.name, endpoint.limit)
        return endpoint

    async def aget_endpoint(self, endpoint) -> Endpoint:
        """Awaitable :meth:`get_endpoint`."""
        name = quote(_endpoint_name(endpoint), safe="")
        route = join_paths(MLFLOW_DEPLOYMENTS_CRUD_ENDPOINT_BASE, name)
        return self._to_endpoint(await self._acall_endpoint("GET", route))

    def get_endpoint(self, endpoint) -> Endpoint:
        """
        Get one endpoint of the gateway (GET ``/api/2.0/endpoints/<endpoint>``).

        Args:
            endpoint: The name of the endpoint.

        Returns:
            An ``Endpoint`` whose ``endpoint_url`` is an absolute URL.
        """
        return run_sync(self.aget_endpoint(endpoint))

    async def _alist_endpoints(self, page_token: str | None = None) -> PagedList[Endpoint]:
        params = None if page_token is None else {"page_token": page_token}
        response = await self._acall_endpoint(
            "GET", MLFLOW_DEPLOYMENTS_CRUD_ENDPOINT_BASE, json_body=params
        )
        endpoints = [self._to_endpoint(e) for e in response.get("endpoints", [])]
        return PagedList(endpoints, response.get("next_page_token"))

    def _list_endpoints(self, page_token: str | None = None) -> PagedList[Endpoint]:
        """Blocking :meth:`_alist_endpoints`: one page of endpoints."""
        return run_sync(self._alist_endpoints(page_token))

    async def alist_endpoints(self) -> list[Endpoint]:
        """Awaitable :meth:`list_endpoints`."""
        endpoints: list[Endpoint] = []
        seen: set[str] = set()
        token: str | None = None
        for _ in range(_MAX_PAGES):
            page = await self._alist_endpoints(token)
            endpoints.extend(page)
            token = page.token
            if token is None:
                return endpoints
            if token in seen:
                raise MlflowException(
                    f"The gateway at {self.target_uri} returned the page token {token!r} twice "
                    "while listing endpoints; stopping to avoid an endless loop."
                )
            seen.add(token)
        raise MlflowException(f"Listing endpoints took more than {_MAX_PAGES} pages; stopping.")

    def list_endpoints(self) -> list[Endpoint]:
        """
        List all endpoints of the gateway (GET ``/api/2.0/endpoints/``), following
        ``next_page_token`` across pages.

        Returns:
            A list of ``Endpoint`` objects with absolute ``endpoint_url``.
        """
        return run_sync(self.alist_endpoints())

    # --- queries -------------------------------------------------------------------------------
    async def apredict(
        self, deployment_name=None, inputs=None, endpoint=None, *, idempotency_key=True
    ) -> dict[str, Any]:
        """Awaitable :meth:`predict`."""
        response = await self._asend_predict(endpoint, inputs, idempotency_key=idempotency_key)
        return response.json()

    def predict(
        self, deployment_name=None, inputs=None, endpoint=None, *, idempotency_key=True
    ) -> dict[str, Any]:
        """
        Query an endpoint (POST ``/endpoints/<endpoint>/invocations``).

        Args:
            deployment_name: Unused.
            inputs: The query, e.g. ``{"messages": [...]}`` for chat, ``{"prompt": ...}`` for
                completions, ``{"input": [...]}`` for embeddings, plus any provider parameter.
            endpoint: The name of the endpoint.
            idempotency_key: Keyword only (not in MLflow). ``True`` (default): one fresh
                ``Idempotency-Key`` header for this call, the same on each of its retries;
                ``False``: none (for a call the server must not deduplicate); a str: that key.

        Returns:
            The endpoint's JSON response as a dict.
        """
        return run_sync(
            self.apredict(deployment_name, inputs, endpoint, idempotency_key=idempotency_key)
        )

    async def apredict_stream(
        self, deployment_name=None, inputs=None, endpoint=None, *, idempotency_key=True
    ) -> AsyncIterator[dict[str, Any]]:
        """Async iterator over the chunks of a streamed query (see :meth:`predict_stream`)."""
        body = {**(inputs or {}), "stream": True}
        response = await self._asend_predict(
            endpoint, body, stream=True, idempotency_key=idempotency_key
        )
        async for chunk in predict_stream_chunks(response):
            yield chunk

    def predict_stream(
        self, deployment_name=None, inputs=None, endpoint=None, *, idempotency_key=True
    ) -> Iterator[dict]:
        """
        Query an endpoint with ``"stream": true`` and iterate over the server-sent chunks.

        Args:
            deployment_name: Unused.
            inputs: The query (chat or completions).
            endpoint: The name of the endpoint.
            idempotency_key: Keyword only, as for :meth:`predict`.

        Returns:
            An iterator of dicts, one per chunk (``{"choices": [{"delta": ...}], ...}``).
        """
        return iter_sync(
            self.apredict_stream(deployment_name, inputs, endpoint, idempotency_key=idempotency_key)
        )


def run_local(name, model_uri, flavor=None, config=None):
    pass


def target_help():
    return (
        "Target URI: the base URL of an MLflow AI gateway, e.g. http://127.0.0.1:5000 or "
        "https://gateway.example.com. Credentials come from MLFLOW_TRACKING_USERNAME / "
        "MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN. Timeouts: "
        "MLFLOW_DEPLOYMENT_CLIENT_HTTP_REQUEST_TIMEOUT (management calls) and "
        "MLFLOW_DEPLOYMENT_PREDICT_TIMEOUT (queries)."
    )
