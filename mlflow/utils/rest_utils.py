"""MLflow's ``http_request`` on the async core.

``ahttp_request`` is the implementation; ``http_request`` runs it on the background loop and
returns a ``requests.Response``. Both take exactly MLflow's parameters (plus the
``idempotency_key`` opt-out). The work is split by job:

- ``host_creds``: ``MlflowHostCreds``;
- ``http_validation``: every parameter checked before anything is sent (HTTP and SDK paths);
- ``http_request_builder``: URL, headers, body, TLS, auth, retry policy, transport;
- ``http_responses``: ``requests.Response`` views of the engine's responses;
- ``http_errors``: engine failures as MLflow's exceptions, and the retry WARNING log.

This module keeps MLflow's public names.
"""

from __future__ import annotations

import json
import warnings

from async_core import AsyncClient, CoreError, default_client, run_sync
from mlflow.environment_variables import (
    MLFLOW_DEPLOYMENT_PREDICT_TIMEOUT,
    MLFLOW_DEPLOYMENT_PREDICT_TOTAL_TIMEOUT,
)
from mlflow.exceptions import MlflowException, RestException, get_error_code
from mlflow.utils.host_creds import MlflowHostCreds
from mlflow.utils.http_errors import HOOKS, _mlflow_error, _redact
from mlflow.utils.http_request_builder import _prepare
from mlflow.utils.http_responses import (
    AsyncStreamResponse,
    _blocking_stream_response,
    _EngineResponse,
)
from mlflow.utils.request_utils import (
    _TRANSIENT_FAILURE_RESPONSE_CODES,
    augmented_raise_for_status,
)
from mlflow.utils.secret_scrub import scrub
from mlflow.utils.throttling import current_admission

__all__ = [
    "AsyncStreamResponse",
    "MlflowHostCreds",
    "_TRANSIENT_FAILURE_RESPONSE_CODES",
    "_redact",
    "ahttp_request",
    "ahttp_request_safe",
    "augmented_raise_for_status",
    "http_request",
    "http_request_safe",
    "verify_rest_response",
    "validate_deployment_timeout_config",
]

RESOURCE_NON_EXISTENT = "RESOURCE_DOES_NOT_EXIST"
_REST_API_PATH_PREFIX = "/api/2.0"
_ARMERIA_OK = "200 OK"


def validate_deployment_timeout_config(timeout: int | None, retry_timeout_seconds: int | None):
    """Warn when the total retry timeout is shorter than one request's timeout."""
    if timeout is None or retry_timeout_seconds is None:
        return
    if retry_timeout_seconds < timeout:
        warnings.warn(
            f"The total retry timeout ({retry_timeout_seconds}s) is less than the single "
            f"request timeout ({timeout}s), so a long request can fail before it completes. "
            f"Set {MLFLOW_DEPLOYMENT_PREDICT_TOTAL_TIMEOUT.name} to at least the value of "
            f"{MLFLOW_DEPLOYMENT_PREDICT_TIMEOUT.name}.",
            UserWarning,
            stacklevel=2,
        )


def http_request(
    host_creds,
    endpoint,
    method,
    max_retries=None,
    backoff_factor=None,
    backoff_jitter=None,
    extra_headers=None,
    retry_codes=_TRANSIENT_FAILURE_RESPONSE_CODES,
    timeout=None,
    raise_on_status=True,
    respect_retry_after_header=None,
    retry_timeout_seconds=None,
    **kwargs,
):
    """Makes an HTTP request with the specified method to the specified hostname/endpoint.

    Transient errors such as rate-limited (429), service unavailable (503) and internal error
    (500) are retried with exponential backoff, ``backoff_factor * (1, 2, 4, ...)`` seconds after an
    immediate first retry; a ``Retry-After`` header wins when ``respect_retry_after_header``.
    ``retry_timeout_seconds`` bounds the whole call (every attempt and wait). ``kwargs`` are as for
    ``requests.Session.request``: params, json, data, files, allow_redirects, stream, ...

    Returns a ``requests.Response``. Runs on the shared background event loop; from async code,
    ``await ahttp_request(...)`` (same parameters) instead.
    """
    admission = kwargs.pop("_admission", None) or current_admission()
    response = run_sync(
        ahttp_request(
            host_creds, endpoint, method, max_retries, backoff_factor, backoff_jitter,
            extra_headers, retry_codes, timeout, raise_on_status, respect_retry_after_header,
            retry_timeout_seconds, _admission=admission, **kwargs,
        )
    )
    core = response._core
    if core.is_stream:
        return _blocking_stream_response(core)
    # A transport may buffer even a streamed request (the Databricks SDK path).
    return _EngineResponse(core) if isinstance(response, AsyncStreamResponse) else response


async def ahttp_request(
    host_creds,
    endpoint,
    method,
    max_retries=None,
    backoff_factor=None,
    backoff_jitter=None,
    extra_headers=None,
    retry_codes=_TRANSIENT_FAILURE_RESPONSE_CODES,
    timeout=None,
    raise_on_status=True,
    respect_retry_after_header=None,
    retry_timeout_seconds=None,
    **kwargs,
):
    """The awaitable twin of :func:`http_request`, with the same parameters and errors.

    Returns a ``requests.Response`` with the body read, or with ``stream=True`` an
    :class:`AsyncStreamResponse` whose body is read with ``aiter_lines()``/``aiter_bytes()``.
    """
    admission = kwargs.pop("_admission", None) or current_admission()
    request, policy, transport, auth, raise_on_status = _prepare(
        host_creds, endpoint, method, max_retries, backoff_factor, backoff_jitter,
        extra_headers, retry_codes, timeout, raise_on_status, respect_retry_after_header,
        retry_timeout_seconds, kwargs,
    )
    # The one implementation: http_request runs this same coroutine on the background loop.
    client = default_client() if transport is None else AsyncClient(
        transport=transport, hooks=HOOKS
    )
    try:
        core = await client.send(
            request, policy=policy, auth=auth, limiter=admission, raise_on_status=raise_on_status
        )
    except CoreError as e:
        raise _mlflow_error(e, request.url, request.timeout) from e
    # A transport may buffer even a streamed request (the Databricks SDK path): the async stream
    # API still applies, it just reads from memory.
    return AsyncStreamResponse(core) if kwargs.get("stream") else _EngineResponse(core)


def _can_parse_as_json_object(string):
    try:
        return isinstance(json.loads(string), dict)
    except Exception:
        return False


def http_request_safe(host_creds, endpoint, method, **kwargs):
    """Wrapper around ``http_request`` that also verifies that the request succeeds with 200."""
    response = http_request(host_creds=host_creds, endpoint=endpoint, method=method, **kwargs)
    return verify_rest_response(response, endpoint)


async def ahttp_request_safe(host_creds, endpoint, method, **kwargs):
    """The awaitable twin of :func:`http_request_safe`."""
    response = await ahttp_request(
        host_creds=host_creds, endpoint=endpoint, method=method, **kwargs
    )
    return verify_rest_response(response, endpoint)


def verify_rest_response(response, endpoint):
    """Verify the return code and format, raise exception if the request was not successful."""
    if response.status_code == 200 and response.text.strip() in (_ARMERIA_OK, ""):
        response._content = b"{}"
        return response
    if response.status_code != 200:
        if _can_parse_as_json_object(response.text):
            raise RestException(json.loads(response.text))
        base_msg = (
            f"API request to endpoint {endpoint} "
            f"failed with error code {response.status_code} != 200"
        )
        raise MlflowException(
            f"{base_msg}. Response body: '{scrub(response.text)}'",
            error_code=get_error_code(response.status_code),
        )
    if endpoint.startswith(_REST_API_PATH_PREFIX) and not _can_parse_as_json_object(
        response.text
    ):
        base_msg = (
            "API request to endpoint was successful but the response body was not "
            "in a valid JSON format"
        )
        raise MlflowException(f"{base_msg}. Response body: '{scrub(response.text)}'")
    return response
