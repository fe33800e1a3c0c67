"""The ``openai`` target's predictions, made by the openai SDK (as MLflow makes them) over our
engine.

MLflow's target calls ``OpenAI(...)``/``AzureOpenAI(...)`` with ``max_retries=5`` and
``timeout=60`` and returns ``model_dump()``. Driving the same SDK gives, by construction and for
whatever SDK version is installed, MLflow's request body and headers, its retry count and
backoff, its timeouts, its error types (``openai.InternalServerError``, ...) and its result shape
(``None``-valued keys included). Every attempt the SDK makes goes through :class:`EngineTransport`
onto our engine, so pooling, TLS settings and the client's rate limit apply per attempt; our
engine does not retry (the SDK does).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

from mlflow.deployments._http import is_timeout
from mlflow.exceptions import MlflowException
from mlflow.utils.rest_utils import MlflowHostCreds, ahttp_request

# MLflow's _OpenAIApiConfig defaults.
MAX_RETRIES = 5
TIMEOUT = 60.0

# The admission (client rate limit) of the prediction in progress, read by the transport.
_admission: contextvars.ContextVar[Any] = contextvars.ContextVar("openai_admission", default=None)


def _httpx():
    """The httpx flavour the installed SDK is built on (``httpx`` or ``httpx2``)."""
    import openai._base_client as base

    found = getattr(base, "httpx", None) or getattr(base, "httpx2", None)
    if found is None:  # pragma: no cover - an SDK built on neither
        raise MlflowException("The installed openai SDK is built on an unknown HTTP library.")
    return found


class _Body:
    """An async byte stream over a streamed engine response (closed with it)."""

    def __init__(self, response) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._response.aiter_bytes():
            yield chunk

    async def aclose(self) -> None:
        await self._response.aclose()


def _timeout_of(request) -> float | None:
    timeouts = request.extensions.get("timeout") or {}
    values = [v for v in (timeouts.get("connect"), timeouts.get("read")) if v is not None]
    return max(values) if values else None


def make_transport():
    httpx = _httpx()

    class EngineTransport(httpx.AsyncBaseTransport):
        """An httpx transport that sends each request through ``ahttp_request`` (no retries:
        the SDK retries) and maps our errors onto httpx's, so the SDK classifies them."""

        async def handle_async_request(self, request):
            url = urlsplit(str(request.url))
            path = url.path + (f"?{url.query}" if url.query else "")
            headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
            try:
                response = await ahttp_request(
                    host_creds=MlflowHostCreds(host=f"{url.scheme}://{url.netloc}"),
                    endpoint=path,
                    method=request.method,
                    data=await request.aread() or None,
                    extra_headers=headers,
                    timeout=_timeout_of(request),
                    max_retries=0,
                    raise_on_status=False,
                    stream=True,
                    _admission=_admission.get(),
                )
            except MlflowException as e:
                if is_timeout(e):
                    raise httpx.ReadTimeout(e.message, request=request) from e
                raise httpx.ConnectError(e.message, request=request) from e
            body = _Body(response)
            return httpx.Response(
                status_code=response.status_code,
                headers=list(response.headers.items()),
                stream=_Stream(body, httpx),
                request=request,
            )

    return EngineTransport()


def _Stream(body: _Body, httpx):  # noqa: N802 (a class built on the SDK's httpx)
    class Stream(httpx.AsyncByteStream):
        async def __aiter__(self):
            async for chunk in body:
                yield chunk

        async def aclose(self) -> None:
            await body.aclose()

    return Stream()


_clients: dict[tuple, Any] = {}
_MAX_CLIENTS = 16


def sdk_client(*, api_key: str, config, azure: bool):
    """The SDK client for this configuration, configured as MLflow configures it (MLflow builds
    one per prediction; we keep up to 16: building one costs ~3 ms of CPU). It holds no
    connections or loop state of its own: the engine does."""
    key = (api_key, config, azure, id(asyncio.get_running_loop()))
    found = _clients.get(key)
    if found is None:
        if len(_clients) >= _MAX_CLIENTS:
            _clients.clear()
        found = _clients[key] = _new_client(api_key=api_key, config=config, azure=azure)
    return found


def _new_client(*, api_key: str, config, azure: bool):
    import openai

    http_client = _httpx().AsyncClient(transport=make_transport())
    # MLflow uses the blocking clients: the same User-Agent, so servers see the same caller.
    agent = f"{'AzureOpenAI' if azure else 'OpenAI'}/Python {openai.__version__}"
    headers = {"User-Agent": agent}
    if azure:
        return openai.AsyncAzureOpenAI(
            api_key=api_key,
            azure_endpoint=config.api_base,
            api_version=config.api_version,
            azure_deployment=config.deployment_name,
            max_retries=MAX_RETRIES,
            timeout=TIMEOUT,
            http_client=http_client,
            default_headers=headers,
        )
    return openai.AsyncOpenAI(
        api_key=api_key,
        base_url=config.api_base,
        max_retries=MAX_RETRIES,
        timeout=TIMEOUT,
        http_client=http_client,
        default_headers=headers,
    )


async def predict(client, *, model: str | None, inputs: dict[str, Any], admission) -> dict:
    """One prediction through the SDK: ``model_dump()`` of its result, as MLflow returns it.
    Keys the SDK method does not name go in the body as they are (``extra_body``)."""
    token = _admission.set(admission)
    try:
        if "messages" in inputs:
            create, named = client.chat.completions.create, "messages"
        elif "prompt" in inputs:
            create, named = client.completions.create, "prompt"
        else:
            create, named = client.embeddings.create, "input"
        extra = {k: v for k, v in inputs.items() if k not in (named, "model")}
        result = await create(
            **{named: inputs[named]},
            model=inputs.get("model", model),
            extra_body=extra or None,
        )
        return result.model_dump()
    finally:
        _admission.reset(token)
