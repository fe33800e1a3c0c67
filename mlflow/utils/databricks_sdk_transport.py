"""An ``async_core`` transport that sends each attempt through the Databricks SDK.

The SDK is blocking (requests underneath), so each attempt runs in a worker thread of a pool of
its own: the event loop never blocks, and slow SDK calls cannot starve the loop's default
executor, which aiohttp uses for DNS lookups. The engine's retry policy (MLflow's rules for the
SDK path) applies on top; ``DatabricksError`` becomes a response whose status comes from the error
code (MLflow's ``ERROR_CODE_TO_HTTP_STATUS``) with the body ``{"error_code", "message"}``, so that
policy sees it like any HTTP answer.

Deadline: the SDK retries some failures itself (connection errors, 429/503 with Retry-After)
within its config's ``retry_timeout_seconds``, which is set from ours; and each attempt is also
bounded by the time left before our deadline. A thread cannot be interrupted: when that bound
fires, the caller gets the deadline error at once and the abandoned SDK call ends on its own
(within its own retry budget), its result discarded.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
import logging
import math
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode, urlsplit

from async_core import TransportError, redact_url
from async_core.messages import Request, Response
from mlflow.environment_variables import MLFLOW_DATABRICKS_ENDPOINT_HTTP_RETRY_TIMEOUT
from mlflow.exceptions import ERROR_CODE_TO_HTTP_STATUS, INVALID_PARAMETER_VALUE, MlflowException
from mlflow.utils.secret_scrub import scrub

_logger = logging.getLogger(__name__)

# Enough for many concurrent calls; threads are made on demand and the pool is per process.
_MAX_WORKERS = 32
_MAX_CACHED_CLIENTS = 16
_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


class DatabricksSDKRequestError(TransportError):
    """The SDK failed without an API error (no response, or its own retry budget ran out).
    Not retried: the SDK has retried already. Its text names only the method, the path and the
    SDK error's class (an SDK error's own text may carry the request)."""

    retryable = False


def _get_executor() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        with _executor_lock:
            if _executor is None:
                _executor = ThreadPoolExecutor(
                    max_workers=_MAX_WORKERS, thread_name_prefix="mlflow-databricks-sdk"
                )
    return _executor


# ---------------------------------------------------------------------------------------------
# The WorkspaceClient, built once per (creds, timeouts)
# ---------------------------------------------------------------------------------------------
def _config_kwargs(host_creds) -> dict[str, Any]:
    """How the SDK authenticates, from the creds: a profile when one is named (the SDK then
    resolves everything), else explicit host + token (PAT, e.g. from a secret scope), OAuth M2M
    client credentials, or basic auth; else the SDK's default chain (environment, DEFAULT
    profile). ``auth_type`` is pinned for explicit credentials so unrelated DATABRICKS_*
    variables in the environment cannot make the SDK reject an ambiguous configuration."""
    if host_creds.databricks_auth_profile:
        return {"profile": host_creds.databricks_auth_profile}
    if host_creds.token:
        return {"host": host_creds.host, "token": host_creds.token, "auth_type": "pat"}
    if host_creds.client_id and host_creds.client_secret:
        return {
            "host": host_creds.host,
            "client_id": host_creds.client_id,
            "client_secret": host_creds.client_secret,
            "auth_type": "oauth-m2m",
        }
    if host_creds.username and host_creds.password:
        return {
            "host": host_creds.host,
            "username": host_creds.username,
            "password": host_creds.password,
            "auth_type": "basic",
        }
    return {"profile": None}


_clients: dict[tuple, Any] = {}
_clients_lock = threading.Lock()


def _workspace_client(host_creds, timeout, retry_timeout_seconds):
    """The cached client for these creds and timeouts. Blocking (the SDK may fetch OIDC metadata
    and a token): called in the worker thread. Built under a lock, so concurrent first calls
    make one client (one token request), not one each; failures are not cached."""
    key = (host_creds, timeout, retry_timeout_seconds)
    client = _clients.get(key)
    if client is not None:
        return client
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _build_workspace_client(host_creds, timeout, retry_timeout_seconds)
            if len(_clients) >= _MAX_CACHED_CLIENTS:
                _clients.pop(next(iter(_clients)))  # the oldest
            _clients[key] = client
    return client


def _build_workspace_client(host_creds, timeout, retry_timeout_seconds):
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.config import Config

    kwargs = _config_kwargs(host_creds)
    if timeout is not None:
        kwargs["http_timeout_seconds"] = timeout
    # The SDK's own retry budget must not outlast ours (its config takes whole seconds).
    kwargs["retry_timeout_seconds"] = max(1, math.ceil(retry_timeout_seconds))
    try:
        config = Config(**kwargs)
    except ValueError as e:
        # The SDK's message masks secrets ('***') and says which settings it saw.
        raise MlflowException(
            f"Could not configure the Databricks SDK client for {host_creds.host}: {e}. Check the "
            "Databricks authentication settings (profile in ~/.databrickscfg, DATABRICKS_HOST and "
            "DATABRICKS_TOKEN, or DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET).",
            error_code=INVALID_PARAMETER_VALUE,
        ) from None
    # With `config=`, every SDK setting must be on the config object.
    return WorkspaceClient(config=config)


def clear_client_cache() -> None:
    """Forget the cached SDK clients (e.g. after changing ~/.databrickscfg)."""
    with _clients_lock:
        _clients.clear()


# ---------------------------------------------------------------------------------------------
# One attempt
# ---------------------------------------------------------------------------------------------
def _error_response(error, request: Request) -> Response:
    error_code = getattr(error, "error_code", None)
    message = scrub(str(error))  # the server's message: it may echo a credential
    body = json.dumps({"error_code": error_code, "message": message}).encode("utf-8")
    return Response(
        ERROR_CODE_TO_HTTP_STATUS.get(error_code, 500),
        {"Content-Type": "application/json; charset=utf-8"},
        body,
        reason=message,
        url=request.url,
        method=request.method,
    )


def _call_arguments(request: Request) -> dict[str, Any]:
    """The SDK call for the original request parts (``request.extensions``).

    JSON goes as ``body`` (the SDK encodes it, as in MLflow). Form data and files go as the bytes
    the engine already encoded, with their Content-Type: file objects were read while encoding,
    and re-encoding multipart data would pick a boundary that no longer matches the header.
    """
    ext = request.extensions or {}
    path = ext.get("endpoint") or urlsplit(request.url).path
    params = ext.get("params")
    query = None
    if isinstance(params, Mapping):
        query = dict(params)
    elif params:
        path = f"{path}?{urlencode(params, doseq=True)}"
    args: dict[str, Any] = {
        "method": request.method,
        "path": path,
        "query": query,
        "headers": dict(request.headers),
        "raw": True,
    }
    data = ext.get("data")
    if ext.get("files") or (data is not None and data != {} and data != []):
        args["data"] = request.body
    elif ext.get("json") is not None:
        args["body"] = ext["json"]
    return args


def _sdk_attempt(host_creds, timeout, retry_timeout_seconds, request: Request) -> Response:
    from databricks.sdk.errors import DatabricksError

    client = _workspace_client(host_creds, timeout, retry_timeout_seconds)
    try:
        result = client.api_client.do(**_call_arguments(request))
    except DatabricksError as e:
        return _error_response(e, request)
    except Exception as e:
        # The SDK's retry loop ends with TimeoutError from the last failure: an API error there is
        # still the server's last answer.
        if isinstance(e.__cause__, DatabricksError):
            return _error_response(e.__cause__, request)
        error = DatabricksSDKRequestError(
            f"Databricks SDK request {request.method} {urlsplit(request.url).path} failed: "
            f"{type(e).__name__}",
            method=request.method, url=redact_url(request.url), cause=type(e).__name__,
            reason=f"Databricks SDK request failed ({type(e).__name__})",
        )
    else:
        error = None
    if error is not None:  # raised outside the handler: the SDK's error is not our context
        raise error
    raw = result["contents"]._response  # the requests.Response under the SDK's stream wrapper
    try:
        content = raw.content
    finally:
        raw.close()
    return Response(
        raw.status_code,
        raw.headers,
        content,
        reason=raw.reason,
        url=raw.url or request.url,
        method=request.method,
    )


class DatabricksSDKTransport:
    """``async_core.Transport`` over the SDK's ``api_client.do``; the body is always buffered."""

    __slots__ = ("_host_creds", "_timeout", "_retry_timeout_seconds")

    def __init__(self, host_creds, timeout: float | None, retry_timeout_seconds: float) -> None:
        self._host_creds = host_creds
        self._timeout = timeout
        self._retry_timeout_seconds = retry_timeout_seconds

    async def send(
        self, request: Request, total_timeout: float | None, on_sent=None
    ) -> Response:
        loop = asyncio.get_running_loop()
        if on_sent is not None:  # a throttle slot: the SDK gives no finer "sent" signal
            on_sent()
        call = functools.partial(
            _sdk_attempt, self._host_creds, self._timeout, self._retry_timeout_seconds, request
        )
        future = loop.run_in_executor(_get_executor(), contextvars.copy_context().run, call)
        if total_timeout is None:
            return await future
        # asyncio.TimeoutError: the engine turns it into its deadline error.
        return await asyncio.wait_for(future, max(total_timeout, 0.0))

    def __repr__(self) -> str:
        return f"<DatabricksSDKTransport host={self._host_creds.host!r}>"


def get_databricks_sdk_transport(
    host_creds, timeout, retry_timeout_seconds
) -> DatabricksSDKTransport:
    """The transport for ``host_creds.use_databricks_sdk``: ``timeout`` is the SDK's per-request
    ``http_timeout_seconds`` (None: the SDK default), ``retry_timeout_seconds`` our total
    deadline (None: MLFLOW_DATABRICKS_ENDPOINT_HTTP_RETRY_TIMEOUT), also given to the SDK."""
    if retry_timeout_seconds is None:
        retry_timeout_seconds = MLFLOW_DATABRICKS_ENDPOINT_HTTP_RETRY_TIMEOUT.get()
    return DatabricksSDKTransport(host_creds, timeout, retry_timeout_seconds)
