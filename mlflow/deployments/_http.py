"""Helpers shared by the built-in deployment clients: credentials, timeouts, streamed bodies."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import requests

from async_core import sse
from mlflow.deployments.constants import MLFLOW_DEPLOYMENT_CLIENT_REQUEST_RETRY_CODES
from mlflow.environment_variables import (
    MLFLOW_DEPLOYMENT_CLIENT_HTTP_REQUEST_TIMEOUT,
    MLFLOW_DEPLOYMENT_PREDICT_TIMEOUT,
    MLFLOW_HTTP_REQUEST_TIMEOUT,
)
from mlflow.exceptions import BAD_REQUEST, MlflowException
from mlflow.utils.credentials import get_default_host_creds
from mlflow.utils.rest_utils import ahttp_request, augmented_raise_for_status

# How a timeout of the transport shows up: as the cause of the MlflowException it raises.
_TIMEOUT_TYPES: tuple[type[BaseException], ...] = (
    TimeoutError,
    asyncio.TimeoutError,
    requests.exceptions.Timeout,
)


def default_host_creds(target_uri: str):
    """Host credentials of an MLflow server, from ``MLFLOW_TRACKING_*`` (MLflow's resolution)."""
    return get_default_host_creds(target_uri)


def predict_timeout_error(timeout: int | None) -> MlflowException:
    """MLflow's error for a query that outran MLFLOW_DEPLOYMENT_PREDICT_TIMEOUT."""
    return MlflowException(
        message=(
            "The provider has timed out while generating a response to your query. Please "
            "evaluate the available parameters for the query that you are submitting. Some "
            "parameter values and inputs can increase the computation time beyond the allowable "
            f"route timeout of {MLFLOW_DEPLOYMENT_PREDICT_TIMEOUT} seconds. (The timeout in force "
            f"was {timeout} seconds: set {MLFLOW_DEPLOYMENT_PREDICT_TIMEOUT} to raise it.)"
        ),
        error_code=BAD_REQUEST,
    )


def _management_timeout_error(error: MlflowException) -> MlflowException:
    """The engine's timeout error names MLFLOW_HTTP_REQUEST_TIMEOUT; a management call's limit is
    MLFLOW_DEPLOYMENT_CLIENT_HTTP_REQUEST_TIMEOUT, so the advice names that one."""
    right = str(MLFLOW_DEPLOYMENT_CLIENT_HTTP_REQUEST_TIMEOUT)
    message = error.message
    for wrong in (str(MLFLOW_HTTP_REQUEST_TIMEOUT), MLFLOW_HTTP_REQUEST_TIMEOUT.name):
        if wrong in message:
            return MlflowException(message.replace(wrong, right), error_code=error.error_code)
    message = (
        f"{error.message} To increase the timeout, set the environment variable {right} to a "
        "larger value."
    )
    return MlflowException(message, error_code=error.error_code)


async def acall(
    host_creds,
    route: str,
    method: str,
    json_body: dict[str, Any] | None = None,
    *,
    timeout: int | None = None,
    retry_codes=MLFLOW_DEPLOYMENT_CLIENT_REQUEST_RETRY_CODES,
    stream: bool = False,
    **request_kwargs: Any,
):
    """One call of a client to its target; returns the response once its status is checked.

    ``json_body`` goes as query parameters for a GET, as the JSON body otherwise. ``timeout``
    defaults to ``MLFLOW_DEPLOYMENT_CLIENT_HTTP_REQUEST_TIMEOUT`` (management calls). A streamed
    response is checked without reading its body unless the status is an error.
    ``request_kwargs`` (headers, retry budget, admission...) go to ``ahttp_request``.
    """
    body_kwarg = "params" if method.lower() == "get" else "json"
    try:
        response = await ahttp_request(
            host_creds=host_creds,
            endpoint=route,
            method=method,
            timeout=(
                MLFLOW_DEPLOYMENT_CLIENT_HTTP_REQUEST_TIMEOUT.get() if timeout is None else timeout
            ),
            retry_codes=retry_codes,
            raise_on_status=False,
            stream=stream,
            **{body_kwarg: json_body},
            **request_kwargs,
        )
    except MlflowException as e:
        if timeout is None and is_timeout(e):
            raise _management_timeout_error(e) from e
        raise
    if stream:
        await raise_for_stream_status(response)
    else:
        augmented_raise_for_status(response)
    return response


def is_timeout(exc: BaseException) -> bool:
    """True if ``exc`` or anything in its cause/context chain is a timeout."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, _TIMEOUT_TYPES):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


async def checked_prediction(pending: Awaitable, timeout: int | None, stream: bool):
    """Await one prediction request sent with ``raise_on_status=False``: a timeout becomes
    MLflow's predict-timeout error, and an error status raises with the server's message."""
    try:
        response = await pending
    except MlflowException as e:
        if is_timeout(e):
            raise predict_timeout_error(timeout) from e
        raise
    if stream:
        await raise_for_stream_status(response)
    else:
        augmented_raise_for_status(response)
    return response


async def read_body(response) -> bytes:
    """Read the whole body of a streamed response (e.g. to report an error status)."""
    reader = getattr(response, "aread", None)
    if reader is not None:
        return await reader()
    return b"".join([chunk async for chunk in response.aiter_bytes()])


async def raise_for_stream_status(response) -> None:
    """Like ``augmented_raise_for_status`` for a response whose body has not been read yet."""
    if response.status_code < 400:
        return
    try:
        body = await read_body(response)
    finally:
        await response.aclose()
    # Make the body visible to ``response.text`` so the raised error carries it.
    response._content = body
    response._content_consumed = True
    augmented_raise_for_status(response)


# One event may not buffer more than this: a hostile server cannot grow a line without end.
_MAX_SSE_EVENT_BYTES = 64 * 1024 * 1024


async def iter_sse_json(response, on_other_line=None) -> AsyncIterator[Any]:
    """The JSON payloads of a server-sent-event stream (async_core.sse, the one codec).

    Multi-line ``data:`` fields are joined; comments and the ``event``/``id``/``retry`` fields
    are skipped (unless ``on_other_line`` objects); ``data: [DONE]`` or the end of the body ends
    the stream.
    """
    try:
        async for data in sse.aiter_data(
            response.aiter_bytes(),
            max_event_size=_MAX_SSE_EVENT_BYTES,
            on_other_line=on_other_line,
        ):
            yield _parse_chunk(data)
    except sse.EventStreamError as e:
        raise MlflowException(f"Invalid streamed response: {e}") from None


async def predict_stream_chunks(response) -> AsyncIterator[Any]:
    """The JSON chunks of a streamed prediction; a timeout mid-stream gets MLflow's predict
    timeout error, and the response is closed however the stream ends."""
    try:
        async for chunk in iter_sse_json(response):
            yield chunk
    except MlflowException as e:
        if is_timeout(e):
            raise predict_timeout_error(MLFLOW_DEPLOYMENT_PREDICT_TIMEOUT.get()) from e
        raise
    finally:
        await response.aclose()


def _only_data_lines(line: str) -> None:
    """Databricks' contract (as MLflow reads it): a line that is not ``data: ...`` is an error."""
    key, colon, _ = line.partition(":")
    if not colon:
        raise MlflowException(
            f"Unknown response format: '{_bounded(line)}', "
            "expected 'data: <value>' for streaming response."
        )
    raise MlflowException(
        f"Unknown response format with key '{_bounded(key)}'. "
        f"Expected 'data: <value>' for streaming response, got '{_bounded(line)}'."
    )


async def iter_strict_data_json(response) -> AsyncIterator[Any]:
    """Databricks' streamed chunks: only ``data:`` lines are allowed; ``[DONE]`` ends it."""
    async for chunk in iter_sse_json(response, on_other_line=_only_data_lines):
        yield chunk


def _bounded(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _parse_chunk(value: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError as e:
        raise MlflowException(
            f"Invalid JSON in the streamed response event '{_bounded(value)}': {e}"
        ) from None
