"""``OpenAIDeploymentClient``: the ``openai`` target. Predictions are made by the openai SDK, as
MLflow makes them, over our engine (``_sdk.py``); streams and the model listing use our engine
directly.

Configuration, as for MLflow's OpenAI integration:

- ``OPENAI_API_KEY`` (required; never logged or echoed),
- ``OPENAI_API_BASE`` (default ``https://api.openai.com/v1``; any OpenAI-compatible server),
- ``OPENAI_API_TYPE`` (``openai``, or ``azure`` / ``azuread`` / ``azure_ad`` for Azure OpenAI),
- ``OPENAI_API_VERSION`` and ``OPENAI_DEPLOYMENT_NAME`` (Azure).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from async_core import iter_sync, run_sync
from mlflow.deployments._http import (
    checked_prediction,
    predict_stream_chunks,
)
from mlflow.deployments._unsupported import UnsupportedManagementMixin
from mlflow.deployments.base import BaseDeploymentClient
from mlflow.deployments.constants import (
    MLFLOW_DEPLOYMENT_CLIENT_REQUEST_RETRY_CODES,
    OPENAI_AZURE_API_TYPES,
    OPENAI_DEFAULT_API_BASE,
)
from mlflow.environment_variables import (
    MLFLOW_DEPLOYMENT_CLIENT_HTTP_REQUEST_TIMEOUT,
    MLFLOW_DEPLOYMENT_PREDICT_TIMEOUT,
)
from mlflow.exceptions import INVALID_PARAMETER_VALUE, MlflowException
from mlflow.utils.rest_utils import MlflowHostCreds, ahttp_request, augmented_raise_for_status

# Which OpenAI route a query goes to, decided by the field that only that kind of query has.
_TASK_ROUTES = (
    ("messages", "/chat/completions"),
    ("prompt", "/completions"),
    ("input", "/embeddings"),
)


@dataclass(frozen=True, slots=True)
class _ApiConfig:
    api_type: str
    api_base: str
    api_version: str | None
    deployment_name: str | None

    @property
    def is_azure(self) -> bool:
        return self.api_type in OPENAI_AZURE_API_TYPES


def _check_openai_key() -> str:
    key = os.environ.get("OPENAI_API_KEY")
    if not key:
        raise MlflowException(
            "OPENAI_API_KEY environment variable not set",
            error_code=INVALID_PARAMETER_VALUE,
        )
    return key


def _api_config() -> _ApiConfig:
    api_type = (os.environ.get("OPENAI_API_TYPE") or "openai").lower()
    config = _ApiConfig(
        api_type=api_type,
        api_base=os.environ.get("OPENAI_API_BASE") or OPENAI_DEFAULT_API_BASE,
        api_version=os.environ.get("OPENAI_API_VERSION"),
        deployment_name=os.environ.get("OPENAI_DEPLOYMENT_NAME"),
    )
    if config.is_azure:
        if not os.environ.get("OPENAI_API_BASE"):
            raise MlflowException.invalid_parameter_value(
                f"OPENAI_API_TYPE is {api_type!r} but OPENAI_API_BASE is not set: set it to your "
                "Azure OpenAI resource URL, e.g. https://<resource>.openai.azure.com/."
            )
        if not config.api_version:
            raise MlflowException.invalid_parameter_value(
                f"OPENAI_API_TYPE is {api_type!r} but OPENAI_API_VERSION is not set: set it to "
                "an Azure OpenAI API version, e.g. 2024-06-01."
            )
    elif api_type != "openai":
        raise MlflowException.invalid_parameter_value(
            f"Invalid OPENAI_API_TYPE {api_type!r}: use 'openai', 'azure', 'azuread' or 'azure_ad'."
        )
    return config


def _route_for(inputs: Any) -> str:
    """The route the inputs call for; refuses inputs that are not a dict or name no task."""
    if not isinstance(inputs, dict):
        raise MlflowException.invalid_parameter_value(
            f"Invalid inputs of type {type(inputs).__name__}: pass a dict such as "
            "{'messages': [{'role': 'user', 'content': 'Hello!'}]}."
        )
    for field, route in _TASK_ROUTES:
        if field in inputs:
            return route
    raise MlflowException.invalid_parameter_value(
        "Cannot tell the kind of query from the inputs' keys "
        f"{sorted(inputs)}: pass 'messages' (chat), 'prompt' (completions) or 'input' "
        "(embeddings)."
    )


def _host_and_headers(key: str, config: _ApiConfig) -> tuple[MlflowHostCreds, dict[str, str]]:
    if config.api_type == "azure":
        # Azure key auth uses the api-key header; azuread tokens are bearer tokens.
        return MlflowHostCreds(host=config.api_base), {"api-key": key}
    return MlflowHostCreds(host=config.api_base, token=key), {}


class OpenAIDeploymentClient(UnsupportedManagementMixin, BaseDeploymentClient):
    """
    Client for OpenAI (or an OpenAI-compatible server, or Azure OpenAI) as a deployments target.

    .. code-block:: python

        import os
        from mlflow.deployments import get_deploy_client

        os.environ["OPENAI_API_KEY"] = "..."
        client = get_deploy_client("openai")
        client.predict(endpoint="gpt-4o-mini", inputs={"messages": [{"role": "user",
                                                                      "content": "Hello!"}]})
    """

    _applies_limits = True  # predictions go through `set_limit` limits per request

    # --- queries -------------------------------------------------------------------------------
    async def _astream_query(self, endpoint, inputs):
        """POST one streamed query to the route its inputs call for; returns the raw response
        (plain predictions go through the openai SDK, as in MLflow)."""
        key = _check_openai_key()
        config = _api_config()
        route = _route_for(inputs)
        body = dict(inputs)
        params = None
        if config.is_azure:
            deployment = config.deployment_name or endpoint
            if not deployment:
                raise MlflowException.invalid_parameter_value(
                    "No Azure OpenAI deployment: set OPENAI_DEPLOYMENT_NAME or pass endpoint=."
                )
            route = f"/openai/deployments/{quote(deployment, safe='')}{route}"
            params = {"api-version": config.api_version}
        elif endpoint:
            body.setdefault("model", endpoint)
        body["stream"] = True
        host_creds, headers = _host_and_headers(key, config)
        timeout = MLFLOW_DEPLOYMENT_PREDICT_TIMEOUT.get()
        return await checked_prediction(
            ahttp_request(
                host_creds=host_creds,
                endpoint=route,
                method="POST",
                timeout=timeout,
                retry_codes=MLFLOW_DEPLOYMENT_CLIENT_REQUEST_RETRY_CODES,
                raise_on_status=False,
                extra_headers=headers,
                json=body,
                params=params,
                stream=True,
                _admission=await self._apredict_admission(endpoint),
            ),
            timeout,
            stream=True,
        )

    async def apredict(self, deployment_name=None, inputs=None, endpoint=None):
        """Awaitable :meth:`predict`."""
        key = _check_openai_key()
        config = _api_config()
        _route_for(inputs)  # the kind of query must be clear before anything is sent
        try:
            from mlflow.deployments.openai import _sdk
        except ImportError as e:  # pragma: no cover - openai is a dependency of this target
            raise MlflowException(
                "The 'openai' deployments target needs the openai package: pip install openai"
            ) from e
        client = _sdk.sdk_client(api_key=key, config=config, azure=config.is_azure)
        # MLflow passes endpoint= as the model, Azure included (the deployment is in the URL).
        model = endpoint or (config.deployment_name if config.is_azure else None)
        return await _sdk.predict(
            client, model=model, inputs=inputs, admission=await self._apredict_admission(endpoint)
        )

    def predict(self, deployment_name=None, inputs=None, endpoint=None):
        """Query an OpenAI model.

        Args:
            deployment_name: Unused.
            inputs: ``{"messages": [...]}`` (chat), ``{"prompt": ...}`` (completions) or
                ``{"input": ...}`` (embeddings), plus any OpenAI parameter.
            endpoint: The model name (for Azure, the deployment unless OPENAI_DEPLOYMENT_NAME
                is set).

        Returns:
            The result as MLflow returns it: the openai SDK's ``model_dump()`` (every field of
            the SDK's model, ``None`` where the server sent nothing). Errors are the SDK's
            (``openai.AuthenticationError``, ``openai.InternalServerError``, ...), after the
            SDK's retries (``max_retries=5``, ``timeout=60``, as MLflow configures it).
        """
        return run_sync(self.apredict(deployment_name, inputs, endpoint))

    async def apredict_stream(
        self, deployment_name=None, inputs=None, endpoint=None
    ) -> AsyncIterator[dict[str, Any]]:
        """Async iterator over the chunks of :meth:`predict_stream`."""
        response = await self._astream_query(endpoint, inputs)
        async for chunk in predict_stream_chunks(response):
            yield chunk

    def predict_stream(
        self, deployment_name=None, inputs=None, endpoint=None
    ) -> Iterator[dict[str, Any]]:
        """Stream a chat or completions query: an iterator over the server-sent chunks."""
        return iter_sync(self.apredict_stream(deployment_name, inputs, endpoint))

    # --- models --------------------------------------------------------------------------------
    async def _aget_json(self, route: str, what: str):
        key = _check_openai_key()
        config = _api_config()
        if config.is_azure:
            raise NotImplementedError(f"{what} is not implemented for Azure OpenAI API")
        host_creds, headers = _host_and_headers(key, config)
        response = await ahttp_request(
            host_creds=host_creds,
            endpoint=route,
            method="GET",
            timeout=MLFLOW_DEPLOYMENT_CLIENT_HTTP_REQUEST_TIMEOUT.get(),
            retry_codes=MLFLOW_DEPLOYMENT_CLIENT_REQUEST_RETRY_CODES,
            raise_on_status=False,
            extra_headers=headers,
        )
        augmented_raise_for_status(response)
        return response.json()

    async def alist_endpoints(self):
        """Awaitable :meth:`list_endpoints`."""
        return await self._aget_json("/models", "List endpoints")

    def list_endpoints(self):
        """The models available to the API key (GET ``<base>/models``), as OpenAI returns them."""
        return run_sync(self.alist_endpoints())

    async def aget_endpoint(self, endpoint):
        """Awaitable :meth:`get_endpoint`."""
        if not isinstance(endpoint, str) or not endpoint:
            raise MlflowException.invalid_parameter_value(
                f"Invalid endpoint {endpoint!r}: pass a model name such as 'gpt-4o-mini'."
            )
        return await self._aget_json(f"/models/{quote(endpoint, safe='')}", "Get endpoint")

    def get_endpoint(self, endpoint):
        """One model (GET ``<base>/models/<endpoint>``)."""
        return run_sync(self.aget_endpoint(endpoint))


def run_local(name, model_uri, flavor=None, config=None):
    pass


def target_help():
    return (
        "Target URI: 'openai'. Configuration: OPENAI_API_KEY (required), OPENAI_API_BASE "
        "(default https://api.openai.com/v1; any OpenAI-compatible server), OPENAI_API_TYPE "
        "('openai', 'azure' or 'azuread'), OPENAI_API_VERSION and OPENAI_DEPLOYMENT_NAME "
        "(Azure)."
    )
