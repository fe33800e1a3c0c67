"""The interface every deployment client implements, blocking and awaitable.

A valid deployment plugin module exposes:

1. exactly one subclass of :class:`BaseDeploymentClient`,
2. :func:`run_local`, to deploy a model locally for testing,
3. :func:`target_help`, returning the help text of the target (URI format, config options).

Every public method has an awaitable twin named with an ``a`` prefix (``predict`` /
``apredict``, ``get_endpoint`` / ``aget_endpoint``, ``predict_stream`` / ``apredict_stream``...).
A client implements each behaviour once:

- the built-in clients implement the awaitable twin, and their blocking method only runs it on the
  shared background event loop (``async_core.run_sync`` / ``async_core.iter_sync``);
- a third-party plugin written for MLflow implements only the blocking methods; the default twins
  here run them in a worker thread (``asyncio.to_thread``) so they never block the caller's loop;
- a plugin that implements only a twin of a non-abstract method also gets its blocking method,
  which runs the twin on the background loop.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

from async_core import iter_sync, redact_url, run_sync
from mlflow.deployments._limits import ClientLimits
from mlflow.deployments.batch import DEFAULT_CONCURRENCY, BatchResult, run_batch
from mlflow.exceptions import MlflowException
from mlflow.utils.throttling import combine, current_admission

_UNIMPLEMENTED = (
    "Method is unimplemented in base client. Implementation should be provided by specific "
    "target plugins."
)
_STREAM_END = object()


def run_local(target, name, model_uri, flavor=None, config=None):
    """Deploy the model locally, for testing. Documented here; plugins define it at module level.

    Args:
        target: Which target to use.
        name: Unique name to use for the deployment.
        model_uri: URI of the model to deploy.
        flavor: (optional) Model flavor to deploy. If unspecified, a default flavor is chosen.
        config: (optional) Dict of target-specific configuration for the deployment.
    """
    raise NotImplementedError(
        "This function should be implemented in the deployment plugin. It is kept here only for "
        "documentation purpose and shouldn't be used in your application"
    )


def target_help():
    """Return the help text of a target. Documented here; plugins define it at module level.

    The text should explain the target-specific ``config`` fields, the ``target_uri`` format and
    any other target-specific detail; ``mlflow deployments help -t <target>`` prints it.
    """
    raise NotImplementedError(
        "This function should be implemented in the deployment plugin. It is kept here only for "
        "documentation purpose and shouldn't be used in your application"
    )


def _redact_uri(uri: Any) -> str:
    """The target URI without credentials (the one redactor, in async_core)."""
    return redact_url(uri)


def _with_endpoint(endpoint: Any) -> dict[str, Any]:
    # Older plugins' methods may lack the ``endpoint`` parameter: only pass it when it is set.
    return {} if endpoint is None else {"endpoint": endpoint}


class BaseDeploymentClient(abc.ABC):
    """Base class of the model deployment clients (one per target).

    Plugin implementors subclass it in their plugin module and document target-specific details
    in the method docstrings. Errors are raised as :class:`mlflow.exceptions.MlflowException`
    (or ``requests.HTTPError`` for a remote failure).
    """

    def __init__(self, target_uri):
        self.target_uri = target_uri

    def __repr__(self) -> str:
        return f"{type(self).__name__}(target_uri={_redact_uri(self.target_uri)!r})"

    def _overrides(self, name: str) -> bool:
        """True if this client's class defines ``name`` itself rather than inheriting ours."""
        return getattr(type(self), name, None) is not getattr(BaseDeploymentClient, name)

    # --- rate limits -------------------------------------------------------------------------
    # True for clients whose predict paths take a rate-limit slot per request themselves (the
    # built-in ones). For the others, batch prediction takes one per input.
    _applies_limits = False

    def _client_limits(self) -> ClientLimits:
        # Lazily: a plugin's __init__ need not call ours.
        limits = self.__dict__.get("_limits_state")
        if limits is None:
            limits = self.__dict__.setdefault("_limits_state", ClientLimits())
        return limits

    def set_limit(self, endpoint, limit, storage_uri=None) -> None:
        """Throttle this client's requests to ``endpoint`` to ``limit``, or not at all (None).

        The override wins over any limit the endpoint advertises. Every request attempt
        (retries included) of ``predict``, ``predict_stream`` and their awaitable twins takes a
        start slot; clients that are not built in apply it to batch prediction. Clients (in any
        thread or event loop) that set the same limit on the same target and endpoint share one
        budget.

        Args:
            endpoint: The endpoint's name.
            limit: A ``mlflow.gateway.config.Limit`` such as
                ``Limit(calls=50, renewal_period="second")`` (or a dict with ``calls``,
                ``renewal_period`` and optionally ``key``), or None for no throttling.
            storage_uri: ``"redis://host:port/db"`` (``rediss://`` for TLS) shares the budget
                with every process that sets the same limit on the same target and endpoint;
                default ``MLFLOW_DEPLOYMENTS_THROTTLE_STORAGE_URI``, else this process only.

        Raises:
            MlflowException: ``INVALID_PARAMETER_VALUE`` for an invalid endpoint or limit.
        """
        self._client_limits().set(self.target_uri, endpoint, limit, storage_uri)

    def clear_limit(self, endpoint=None) -> None:
        """Remove the :meth:`set_limit` override of ``endpoint`` (of every endpoint if None)."""
        self._client_limits().clear(endpoint)

    async def _aendpoint_admission(self, endpoint):
        """The rate-limit admission this client applies to ``endpoint``, if any."""
        found = self._client_limits().get(endpoint)
        return None if found is None else found[1]

    async def _apredict_admission(self, endpoint):
        """What a predict request to ``endpoint`` goes through: the client's limit for it and
        the active ``mlflow.utils.throttling.throttle`` block, if any."""
        return combine(await self._aendpoint_admission(endpoint), current_admission())

    # --- batch prediction --------------------------------------------------------------------
    async def apredict_batch(
        self,
        endpoint,
        inputs,
        concurrency: int = DEFAULT_CONCURRENCY,
        *,
        progress: bool | None = None,
        on_result=None,
        deployment_name=None,
    ) -> list[BatchResult]:
        """Awaitable :meth:`predict_batch`."""
        gate = None
        if not self._applies_limits:
            # The plugin's requests are out of our reach: pace the predictions themselves.
            gate = await self._aendpoint_admission(endpoint)
        endpoint_kwargs = _with_endpoint(endpoint)

        async def predict(item):
            return await self.apredict(deployment_name, item, **endpoint_kwargs)

        return await run_batch(
            predict,
            inputs,
            concurrency=concurrency,
            gate=gate,
            progress=progress,
            on_result=on_result,
            desc=f"predict {endpoint or deployment_name}",
        )

    def predict_batch(
        self,
        endpoint,
        inputs,
        concurrency: int = DEFAULT_CONCURRENCY,
        *,
        progress: bool | None = None,
        on_result=None,
        deployment_name=None,
    ) -> list[BatchResult]:
        """Predict on every input of ``inputs`` with ``endpoint``, ``concurrency`` at a time.

        Every input yields exactly one :class:`~mlflow.deployments.batch.BatchResult` (its
        ``index``, and its ``result`` or its ``error``), returned in input order; one failure
        never stops the others. Requests obey the endpoint's rate limit (advertised, or set
        with :meth:`set_limit`) and any active ``throttle`` block. Ctrl-C cancels the requests
        in flight.

        Args:
            endpoint: The endpoint's name (None to address ``deployment_name`` only).
            inputs: An iterable of inputs, each as for :meth:`predict`; read lazily.
            concurrency: The most predictions in flight at once.
            progress: Show a tqdm progress bar: None (default) when stderr is a terminal and
                tqdm is installed, True whenever tqdm is installed, False never.
            on_result: Called with each ``BatchResult`` as it finishes (completion order, on
                the event loop that runs the batch); an exception it raises stops the batch.
            deployment_name: Passed to ``predict`` for targets that address deployments.

        Returns:
            A list of ``BatchResult``, one per input, in input order.
        """
        return run_sync(
            self.apredict_batch(
                endpoint,
                inputs,
                concurrency,
                progress=progress,
                on_result=on_result,
                deployment_name=deployment_name,
            )
        )

    # --- deployments (abstract, as in MLflow) --------------------------------------------------
    @abc.abstractmethod
    def create_deployment(self, name, model_uri, flavor=None, config=None, endpoint=None):
        """Deploy a model to the target and return a dict that contains at least ``name``.

        Args:
            name: Unique name of the deployment.
            model_uri: URI of the model to deploy.
            flavor: (optional) Model flavor to deploy; a default is chosen when omitted.
            config: (optional) Dict of target-specific configuration.
            endpoint: (optional) Endpoint to create the deployment under.
        """

    @abc.abstractmethod
    def update_deployment(self, name, model_uri=None, flavor=None, config=None, endpoint=None):
        """Update the model URI, flavor and/or target-specific config of a deployment."""

    @abc.abstractmethod
    def delete_deployment(self, name, config=None, endpoint=None):
        """Delete a deployment; deleting one that does not exist is not an error."""

    @abc.abstractmethod
    def list_deployments(self, endpoint=None):
        """Return an unpaginated list of dicts, each with at least a ``name`` key."""

    @abc.abstractmethod
    def get_deployment(self, name, endpoint=None):
        """Return a dict describing one deployment, with at least a ``name`` key."""

    @abc.abstractmethod
    def predict(self, deployment_name=None, inputs=None, endpoint=None):
        """Compute predictions on ``inputs`` with a deployment or a model endpoint.

        Returns:
            The predictions, e.g. a :class:`mlflow.deployments.PredictionsResponse` or the JSON
            response of an LLM endpoint.
        """

    # --- non-abstract methods: MLflow's defaults unless the awaitable twin is implemented ------
    def predict_stream(self, deployment_name=None, inputs=None, endpoint=None) -> Iterator[Any]:
        """Query an endpoint and return an iterator over the chunks of its streamed response."""
        if self._overrides("apredict_stream"):
            return iter_sync(self.apredict_stream(deployment_name, inputs, endpoint))
        raise NotImplementedError()

    def explain(self, deployment_name=None, df=None, endpoint=None):
        """Explain the predictions of the deployed model on ``df`` (target-specific format)."""
        if self._overrides("aexplain"):
            return run_sync(self.aexplain(deployment_name, df, endpoint))
        raise MlflowException(
            "Computing model explanations is not yet supported for this deployment target"
        )

    def create_endpoint(self, name, config=None):
        """Create an endpoint and return a dict that contains at least ``name``."""
        if self._overrides("acreate_endpoint"):
            return run_sync(self.acreate_endpoint(name, config))
        raise MlflowException(_UNIMPLEMENTED)

    def update_endpoint(self, endpoint, config=None):
        """Update the target-specific configuration of an endpoint."""
        if self._overrides("aupdate_endpoint"):
            return run_sync(self.aupdate_endpoint(endpoint, config))
        raise MlflowException(_UNIMPLEMENTED)

    def delete_endpoint(self, endpoint):
        """Delete an endpoint; deleting one that does not exist is not an error."""
        if self._overrides("adelete_endpoint"):
            return run_sync(self.adelete_endpoint(endpoint))
        raise MlflowException(_UNIMPLEMENTED)

    def list_endpoints(self):
        """Return an unpaginated list of the target's endpoints."""
        if self._overrides("alist_endpoints"):
            return run_sync(self.alist_endpoints())
        raise MlflowException(_UNIMPLEMENTED)

    def get_endpoint(self, endpoint):
        """Return a description of one endpoint."""
        if self._overrides("aget_endpoint"):
            return run_sync(self.aget_endpoint(endpoint))
        raise MlflowException(_UNIMPLEMENTED)

    # --- awaitable twins: by default the blocking method, run in a worker thread ---------------
    async def acreate_deployment(self, name, model_uri, flavor=None, config=None, endpoint=None):
        """Awaitable :meth:`create_deployment`."""
        return await asyncio.to_thread(
            self.create_deployment, name, model_uri, flavor, config, **_with_endpoint(endpoint)
        )

    async def aupdate_deployment(
        self, name, model_uri=None, flavor=None, config=None, endpoint=None
    ):
        """Awaitable :meth:`update_deployment`."""
        return await asyncio.to_thread(
            self.update_deployment, name, model_uri, flavor, config, **_with_endpoint(endpoint)
        )

    async def adelete_deployment(self, name, config=None, endpoint=None):
        """Awaitable :meth:`delete_deployment`."""
        return await asyncio.to_thread(
            self.delete_deployment, name, config, **_with_endpoint(endpoint)
        )

    async def alist_deployments(self, endpoint=None):
        """Awaitable :meth:`list_deployments`."""
        return await asyncio.to_thread(self.list_deployments, **_with_endpoint(endpoint))

    async def aget_deployment(self, name, endpoint=None):
        """Awaitable :meth:`get_deployment`."""
        return await asyncio.to_thread(self.get_deployment, name, **_with_endpoint(endpoint))

    async def apredict(self, deployment_name=None, inputs=None, endpoint=None):
        """Awaitable :meth:`predict`."""
        return await asyncio.to_thread(
            self.predict, deployment_name, inputs, **_with_endpoint(endpoint)
        )

    async def apredict_stream(
        self, deployment_name=None, inputs=None, endpoint=None
    ) -> AsyncIterator[Any]:
        """Async iterator over the chunks of :meth:`predict_stream`.

        For a blocking-only plugin, the blocking iterator is created and advanced in worker
        threads, one ``next()`` per chunk, and closed when the async iterator is closed.
        """
        chunks = await asyncio.to_thread(
            self.predict_stream, deployment_name, inputs, **_with_endpoint(endpoint)
        )
        chunks = iter(chunks)
        try:
            while (chunk := await asyncio.to_thread(next, chunks, _STREAM_END)) is not _STREAM_END:
                yield chunk
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                await asyncio.to_thread(close)

    async def aexplain(self, deployment_name=None, df=None, endpoint=None):
        """Awaitable :meth:`explain`."""
        return await asyncio.to_thread(
            self.explain, deployment_name, df, **_with_endpoint(endpoint)
        )

    async def acreate_endpoint(self, name, config=None):
        """Awaitable :meth:`create_endpoint`."""
        return await asyncio.to_thread(self.create_endpoint, name, config)

    async def aupdate_endpoint(self, endpoint, config=None):
        """Awaitable :meth:`update_endpoint`."""
        return await asyncio.to_thread(self.update_endpoint, endpoint, config)

    async def adelete_endpoint(self, endpoint):
        """Awaitable :meth:`delete_endpoint`."""
        return await asyncio.to_thread(self.delete_endpoint, endpoint)

    async def alist_endpoints(self):
        """Awaitable :meth:`list_endpoints`."""
        return await asyncio.to_thread(self.list_endpoints)

    async def aget_endpoint(self, endpoint):
        """Awaitable :meth:`get_endpoint`."""
        return await asyncio.to_thread(self.get_endpoint, endpoint)
