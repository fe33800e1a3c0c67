"""MLflow's ``http_request`` on the async core.

``ahttp_request`` is the implementation; ``http_request`` runs it on the background loop and
returns a ``requests.Response``. Both take exactly MLflow's parameters.
"""

from __future__ import annotations

import base64
import datetime
import json
import logging
import os
import ssl
import warnings
from collections.abc import AsyncIterator, Iterator
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

from async_core import (
    DEFAULTS,
    AsyncClient,
    CoreError,
    DeadlineExceeded,
    Hooks,
    InvalidURL,
    Request,
    RetriesExhausted,
    RetryAfterBeyondDeadline,
    RetryEvent,
    RetryPolicy,
    TransportError,
    TransportTimeout,
    default_client,
    get_runner,
    redact_url,
    run_sync,
)
from mlflow.environment_variables import (
    _MLFLOW_DATABRICKS_TRAFFIC_ID,
    _MLFLOW_HTTP_REQUEST_MAX_BACKOFF_FACTOR_LIMIT,
    _MLFLOW_HTTP_REQUEST_MAX_RETRIES_LIMIT,
    MLFLOW_ALLOW_HTTP_REDIRECTS,
    MLFLOW_DATABRICKS_ENDPOINT_HTTP_RETRY_TIMEOUT,
    MLFLOW_DATABRICKS_TRAFFIC_ID,
    MLFLOW_DEPLOYMENT_PREDICT_TIMEOUT,
    MLFLOW_DEPLOYMENT_PREDICT_TOTAL_TIMEOUT,
    MLFLOW_ENABLE_DB_SDK,
    MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR,
    MLFLOW_HTTP_REQUEST_BACKOFF_JITTER,
    MLFLOW_HTTP_REQUEST_MAX_RETRIES,
    MLFLOW_HTTP_REQUEST_TIMEOUT,
    MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER,
    EnvSnapshot,
)
from mlflow.exceptions import (
    CUSTOMER_UNAUTHORIZED,
    INVALID_PARAMETER_VALUE,
    InvalidUrlException,
    MlflowException,
    RestException,
    get_error_code,
)
from mlflow.tracking.request_header.registry import resolve_request_headers
from mlflow.utils.json_body import dumps as json_body_bytes
from mlflow.utils.request_utils import (
    _TRANSIENT_FAILURE_RESPONSE_CODES,
    augmented_raise_for_status,
)
from mlflow.utils.throttling import current_admission

_logger = logging.getLogger(__name__)

__all__ = [
    "MlflowHostCreds",
    "_TRANSIENT_FAILURE_RESPONSE_CODES",
    "ahttp_request",
    "ahttp_request_safe",
    "augmented_raise_for_status",
    "http_request",
    "http_request_safe",
    "verify_rest_response",
    "validate_deployment_timeout_config",
]

def _log_retry(event: RetryEvent) -> None:
    """One WARNING per retry, as urllib3 logs for MLflow's client (the URL is redacted)."""
    _logger.warning(
        "Retrying (%d/%d) in %.1f s after %s: %s %s",
        event.attempt, event.max_attempts - 1, event.wait, event.reason, event.method, event.url,
    )


DEFAULTS.set_hooks(Hooks(on_retry=_log_retry))

RESOURCE_NON_EXISTENT = "RESOURCE_DOES_NOT_EXIST"
_REST_API_PATH_PREFIX = "/api/2.0"
_ARMERIA_OK = "200 OK"
_TRAFFIC_ID_HEADER = "x-databricks-traffic-id"
_ORG_ID_HEADER = "x-databricks-org-id"
_SECRET_FIELDS = ("password", "token", "client_secret")
# What http_request accepts in **kwargs, as requests.Session.request would.
_SUPPORTED_KWARGS = frozenset(
    {"params", "data", "json", "files", "allow_redirects", "stream", "cert", "auth", "cookies",
     "proxies", "verify", "headers"}
)


class MlflowHostCreds:
    """A hostname and optional authentication for talking to an MLflow server.

    Secrets (password, token, client_secret) are kept but never shown by ``repr``/``str``.
    """

    def __init__(
        self,
        host,
        username=None,
        password=None,
        token=None,
        aws_sigv4=False,
        auth=None,
        ignore_tls_verification=False,
        client_cert_path=None,
        server_cert_path=None,
        use_databricks_sdk=False,
        databricks_auth_profile=None,
        client_id=None,
        client_secret=None,
        use_secret_scope_token=False,
        workspace_id=None,
    ):
        if not host:
            raise MlflowException(
                message="host is a required parameter for MlflowHostCreds",
                error_code=INVALID_PARAMETER_VALUE,
            )
        if ignore_tls_verification and (server_cert_path is not None):
            raise MlflowException(
                message=(
                    "When 'ignore_tls_verification' is true then 'server_cert_path' "
                    "must not be set! This error may have occurred because the "
                    "'MLFLOW_TRACKING_INSECURE_TLS' and 'MLFLOW_TRACKING_SERVER_CERT_PATH' "
                    "environment variables are both set - only one of these environment "
                    "variables may be set."
                ),
                error_code=INVALID_PARAMETER_VALUE,
            )
        self.host = host
        self.username = username
        self.password = password
        self.token = token
        self.aws_sigv4 = aws_sigv4
        self.auth = auth
        self.ignore_tls_verification = ignore_tls_verification
        self.client_cert_path = client_cert_path
        self.server_cert_path = server_cert_path
        self.use_databricks_sdk = use_databricks_sdk
        self.databricks_auth_profile = databricks_auth_profile
        self.client_id = client_id
        self.client_secret = client_secret
        self.use_secret_scope_token = use_secret_scope_token
        self.workspace_id = workspace_id

    def __eq__(self, other):
        if isinstance(other, self.__class__):
            return self.__dict__ == other.__dict__
        return NotImplemented

    def __hash__(self):
        return hash(frozenset(self.__dict__.items()))

    def __repr__(self):
        fields = ", ".join(
            f"{name}={'***' if name in _SECRET_FIELDS and value else value!r}"
            for name, value in self.__dict__.items()
            if value not in (None, False)
        )
        return f"MlflowHostCreds({fields})"

    __str__ = __repr__

    @property
    def verify(self):
        if self.use_databricks_sdk:
            # Let databricks-sdk set HTTP request `verify` param.
            return None
        if self.server_cert_path is None:
            return not self.ignore_tls_verification
        return self.server_cert_path


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------
def _validate_max_retries(max_retries):
    limit = _MLFLOW_HTTP_REQUEST_MAX_RETRIES_LIMIT.get()
    if limit < 0:
        raise MlflowException(
            message=f"The current maximum retry limit is invalid ({limit}). Cannot be negative.",
            error_code=INVALID_PARAMETER_VALUE,
        )
    if max_retries >= limit:
        raise MlflowException(
            message=f"The configured max_retries value ({max_retries}) is "
            f"in excess of the maximum allowable retries ({limit})",
            error_code=INVALID_PARAMETER_VALUE,
        )
    if max_retries < 0:
        raise MlflowException(
            message=f"The max_retries value must be either 0 a positive integer. Got {max_retries}",
            error_code=INVALID_PARAMETER_VALUE,
        )


def _validate_backoff_factor(backoff_factor):
    limit = _MLFLOW_HTTP_REQUEST_MAX_BACKOFF_FACTOR_LIMIT.get()
    if limit < 0:
        raise MlflowException(
            message="The current maximum backoff factor limit is invalid "
            f"({limit}). Cannot be negative.",
            error_code=INVALID_PARAMETER_VALUE,
        )
    if backoff_factor >= limit:
        raise MlflowException(
            message=f"The configured backoff_factor value ({backoff_factor}) is in excess "
            "of the maximum allowable backoff_factor limit "
            f"({limit})",
            error_code=INVALID_PARAMETER_VALUE,
        )
    if backoff_factor < 0:
        raise MlflowException(
            message="The backoff_factor value must be either 0 a positive integer. "
            f"Got {backoff_factor}",
            error_code=INVALID_PARAMETER_VALUE,
        )


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


# ---------------------------------------------------------------------------------------------
# Building the request
# ---------------------------------------------------------------------------------------------
@lru_cache(maxsize=256)
def _checked_base(host: str) -> str:
    """The host without a trailing '/', validated once per distinct host."""
    base = host[:-1] if host.endswith("/") else host
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(base)
    # requests' own host checks (bad characters, bad IDNA labels) raise InvalidURL here, as
    # they would in MLflow, instead of a DNS lookup of a name that cannot exist.
    requests.models.PreparedRequest().prepare_url(base, None)
    return base


def _ssl_context(verify: bool | str, client_cert: str | tuple | None) -> ssl.SSLContext | bool:
    if verify is True:
        # requests reads these per request, so they must be part of the cache key.
        verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    return _cached_ssl_context(verify, client_cert)


@lru_cache(maxsize=64)
def _cached_ssl_context(
    verify: bool | str, client_cert: str | tuple | None
) -> ssl.SSLContext | bool:
    """SSL contexts are expensive (CA bundle parsing): build one per distinct configuration."""
    if verify is False:
        if client_cert is None:
            return False
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif verify is True:
        import certifi

        context = ssl.create_default_context(cafile=certifi.where())
    elif os.path.isdir(verify):
        context = ssl.create_default_context(capath=verify)
    else:
        context = ssl.create_default_context(cafile=verify)
    if client_cert is not None:
        if isinstance(client_cert, (tuple, list)):
            context.load_cert_chain(client_cert[0], client_cert[1])
        else:
            context.load_cert_chain(client_cert)
    return context


def _encode_body(kwargs: dict[str, Any], headers: dict[str, str]) -> bytes | None:
    """Serialize json/data/files to bytes once, as requests would, so retries and signers see
    the exact wire body."""
    files = kwargs.get("files")
    data = kwargs.get("data")
    if files:
        body, content_type = requests.models.RequestEncodingMixin._encode_files(files, data or {})
        _default_content_type(headers, content_type)
        return body
    if data is not None and data != {} and data != []:
        if isinstance(data, bytes):
            return data
        if isinstance(data, str):
            return data.encode("utf-8")
        if hasattr(data, "read"):
            content = data.read()
            return content.encode("utf-8") if isinstance(content, str) else content
        if isinstance(data, (dict, list, tuple)):
            _default_content_type(headers, "application/x-www-form-urlencoded")
            # requests' own encoder: it also drops None inside lists of values.
            encoded = requests.models.RequestEncodingMixin._encode_params(data)
            return encoded.encode("utf-8") if isinstance(encoded, str) else encoded
        return bytes(data)
    json_body = kwargs.get("json")
    if json_body is not None:
        _default_content_type(headers, "application/json")
        return json_body_bytes(json_body)
    return None


def _default_content_type(headers: dict[str, str], value: str) -> None:
    """Set Content-Type unless the caller set it, in any case (as requests does)."""
    # map() keeps the case-insensitive scan in C: this runs on every request with a body.
    if "content-type" not in map(str.lower, headers):
        headers["Content-Type"] = value


def _with_params(url: str, params: Any) -> str:
    if not params:
        return url
    prepared = requests.models.PreparedRequest()
    prepared.prepare_url(url, params)
    return prepared.url


def _resolve_headers(host_creds, extra_headers, env: tuple) -> dict[str, str]:
    # extra_headers win, matched case-insensitively (requests would send only the last one).
    headers = resolve_request_headers(extra_headers)
    # MLFLOW_DATABRICKS_TRAFFIC_ID, else _MLFLOW_DATABRICKS_TRAFFIC_ID: the last two raw values
    # of the snapshot (an empty value counts as unset, as MLflow's `or` does).
    traffic_id = env[-2] or env[-1]
    if traffic_id:
        headers[_TRAFFIC_ID_HEADER] = os.fsdecode(traffic_id)
    if getattr(host_creds, "workspace_id", None):
        headers[_ORG_ID_HEADER] = str(host_creds.workspace_id)
    return headers


def _authorization(host_creds) -> str | None:
    if host_creds.username and host_creds.password:
        pair = f"{host_creds.username}:{host_creds.password}".encode()
        return "Basic " + base64.standard_b64encode(pair).decode("utf-8")
    if host_creds.token:
        return f"Bearer {host_creds.token}"
    if host_creds.client_secret:
        raise MlflowException(
            "To use OAuth authentication, set environmental variable "
            f"'{MLFLOW_ENABLE_DB_SDK.name}' to true",
            error_code=CUSTOMER_UNAUTHORIZED,
        )
    return None


def _auth_hook(host_creds, user_auth):
    """The per-attempt signer: SigV4, a plugin auth, or a requests ``auth=`` object."""
    auth = user_auth
    if host_creds.aws_sigv4:
        from mlflow.utils.aws_sigv4 import get_sigv4_auth

        auth = get_sigv4_auth()
    elif host_creds.auth:
        from mlflow.tracking.request_auth.registry import fetch_auth

        auth = fetch_auth(host_creds.auth)
    if auth is None:
        return None
    from mlflow.utils.requests_auth import requests_auth_hook

    return requests_auth_hook(auth)


def _proxy_for(url: str, proxies: dict | None) -> str | None:
    if not proxies:
        return None
    scheme = url.split(":", 1)[0]
    return proxies.get(scheme) or proxies.get("all")


_redact = redact_url  # the one redactor, in async_core


def _path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


# ---------------------------------------------------------------------------------------------
# Settings: retry policy, timeout, redirects
# ---------------------------------------------------------------------------------------------
# The environment variables the plain HTTP path reads. Their raw values key the cache of
# validated settings below: a changed variable applies at once, an unchanged one costs a lookup.
_http_env = EnvSnapshot(
    MLFLOW_HTTP_REQUEST_MAX_RETRIES,
    MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR,
    MLFLOW_HTTP_REQUEST_BACKOFF_JITTER,
    MLFLOW_HTTP_REQUEST_TIMEOUT,
    MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER,
    _MLFLOW_HTTP_REQUEST_MAX_RETRIES_LIMIT,
    _MLFLOW_HTTP_REQUEST_MAX_BACKOFF_FACTOR_LIMIT,
    MLFLOW_ALLOW_HTTP_REDIRECTS,
    # Last, in this order: _resolve_headers reads them by position.
    MLFLOW_DATABRICKS_TRAFFIC_ID,
    _MLFLOW_DATABRICKS_TRAFFIC_ID,
)


@lru_cache(maxsize=256)
def _http_settings(
    max_retries, backoff_factor, backoff_jitter, retry_codes, timeout, respect_retry_after,
    retry_timeout_seconds, env,
):
    """The validated retry policy, timeout and redirect default for one configuration.

    ``env`` (the raw values of the variables in ``_http_env``) is only the cache key: at 64
    requests in flight, re-reading and re-validating all of this on every call cost ~10% of the
    CPU per request.
    """
    max_retries, backoff_factor, backoff_jitter = _retry_defaults(
        max_retries, backoff_factor, backoff_jitter
    )
    _validate_max_retries(max_retries)
    _validate_backoff_factor(backoff_factor)
    if respect_retry_after is None:
        respect_retry_after = MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER.get()
    policy = RetryPolicy(
        max_retries=max_retries,
        backoff_factor=backoff_factor,
        backoff_jitter=backoff_jitter,
        retry_statuses=retry_codes,
        respect_retry_after=respect_retry_after,
        total_timeout=retry_timeout_seconds,
    )
    timeout = MLFLOW_HTTP_REQUEST_TIMEOUT.get() if timeout is None else timeout
    return policy, timeout, MLFLOW_ALLOW_HTTP_REDIRECTS.get()


def _retry_defaults(max_retries, backoff_factor, backoff_jitter) -> tuple:
    """The caller's retry settings, with MLflow's environment variables filling the gaps."""
    return (
        MLFLOW_HTTP_REQUEST_MAX_RETRIES.get() if max_retries is None else max_retries,
        MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR.get() if backoff_factor is None else backoff_factor,
        MLFLOW_HTTP_REQUEST_BACKOFF_JITTER.get() if backoff_jitter is None else backoff_jitter,
    )


def _sdk_policy(max_retries, backoff_factor, backoff_jitter, retry_codes, retry_timeout_seconds):
    """MLflow's retry rules on top of the Databricks SDK: no Retry-After, no backoff cap."""
    max_retries, backoff_factor, backoff_jitter = _retry_defaults(
        max_retries, backoff_factor, backoff_jitter
    )
    return RetryPolicy(
        max_retries=max_retries,
        backoff_factor=backoff_factor,
        backoff_jitter=backoff_jitter,
        backoff_max=float("inf"),
        retry_statuses=retry_codes,
        respect_retry_after=False,
        total_timeout=(
            retry_timeout_seconds
            if retry_timeout_seconds is not None
            else MLFLOW_DATABRICKS_ENDPOINT_HTTP_RETRY_TIMEOUT.get()
        ),
    )


# ---------------------------------------------------------------------------------------------
# The one implementation
# ---------------------------------------------------------------------------------------------
def _prepare(
    host_creds,
    endpoint,
    method,
    max_retries,
    backoff_factor,
    backoff_jitter,
    extra_headers,
    retry_codes,
    timeout,
    raise_on_status,
    respect_retry_after_header,
    retry_timeout_seconds,
    kwargs,
) -> tuple[Request, RetryPolicy, Any, Any, bool]:
    """What to send and how: (request, retry policy, transport, per-attempt auth,
    raise_on_status). Raises MLflow's errors for bad arguments before anything is sent."""
    if kwargs and not kwargs.keys() <= _SUPPORTED_KWARGS:
        unknown = sorted(kwargs.keys() - _SUPPORTED_KWARGS)
        raise TypeError(f"http_request() got unexpected keyword argument(s): {unknown}")

    try:
        url = f"{_checked_base(host_creds.host)}{endpoint}"
        if kwargs.get("params"):
            url = _with_params(url, kwargs["params"])
    except (ValueError, requests.exceptions.RequestException) as e:
        url = f"{str(host_creds.host).rstrip('/')}{endpoint}"
        raise InvalidUrlException(f"Invalid url: {_redact(url)}") from e

    env = _http_env()
    headers = _resolve_headers(host_creds, extra_headers, env)
    if kwargs.get("headers"):
        headers.update(kwargs["headers"])
    if kwargs.get("cookies"):
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in kwargs["cookies"].items())
    body = _encode_body(kwargs, headers)
    if not isinstance(retry_codes, frozenset):
        retry_codes = frozenset(retry_codes or ())

    if host_creds.use_databricks_sdk:
        # The Databricks SDK makes the call (in a worker thread); MLflow's retry rules and the
        # total deadline apply on top, and SDK errors come back as mapped responses.
        from mlflow.utils.databricks_sdk_transport import get_databricks_sdk_transport

        transport = get_databricks_sdk_transport(host_creds, timeout, retry_timeout_seconds)
        policy = _sdk_policy(
            max_retries, backoff_factor, backoff_jitter, retry_codes, retry_timeout_seconds
        )
        request = Request(
            method,
            url,
            headers,
            body,
            timeout=timeout,
            extensions={"endpoint": endpoint, "params": kwargs.get("params"),
                        "json": kwargs.get("json"), "data": kwargs.get("data"),
                        "files": kwargs.get("files")},
        )
        # As in MLflow, an SDK error that outlives its retries is returned as a response.
        return request, policy, transport, None, False

    policy, timeout, allow_redirects_default = _http_settings(
        max_retries, backoff_factor, backoff_jitter, retry_codes, timeout,
        respect_retry_after_header, retry_timeout_seconds, env,
    )
    authorization = _authorization(host_creds)
    if authorization:
        headers["Authorization"] = authorization
    auth = _auth_hook(host_creds, kwargs.get("auth"))

    ssl_option = True
    if url.startswith("https:"):
        verify = kwargs.get("verify", host_creds.verify)
        cert = kwargs.get("cert", host_creds.client_cert_path)
        ssl_option = _ssl_context(verify, tuple(cert) if isinstance(cert, list) else cert)
    allow_redirects = kwargs.get("allow_redirects")
    proxies = kwargs.get("proxies")
    request = Request(
        method,
        url,
        headers,
        body,
        timeout=timeout,
        ssl=ssl_option,
        allow_redirects=allow_redirects_default if allow_redirects is None else allow_redirects,
        stream=bool(kwargs.get("stream")),
        proxy=_proxy_for(url, proxies) if proxies else None,
    )
    return request, policy, None, auth, raise_on_status


def _mlflow_error(error: Exception, url: str, timeout) -> MlflowException:
    """MLflow's exception for an engine failure (the caller chains ``error``). Built from the
    fields the engine chose; never from a library object's text."""
    url = _redact(url)
    if isinstance(error, RetriesExhausted):
        return MlflowException(
            f"API request to {url} failed with exception Max retries exceeded with url: "
            f"{_path_of(url)} (Caused by ResponseError('too many {error.status} error "
            "responses'))"
        )
    if isinstance(error, RetryAfterBeyondDeadline):
        return MlflowException(
            f"API request to {url} failed: the server answered {error.status} and asked to "
            f"retry after {error.retry_after:g}s, which is past the deadline (retry_timeout_"
            f"seconds) after {error.attempts} attempt(s)"
        )
    if isinstance(error, DeadlineExceeded):
        cause = error.__cause__
        detail = f"; last error: {_describe(cause)}" if isinstance(cause, TransportError) else ""
        return MlflowException(
            f"API request to {url} failed with exception {error} (retry_timeout_seconds)"
            f"{detail}"
        )
    if isinstance(error, TransportTimeout):
        within = "" if timeout is None else f" within {timeout}s"
        return MlflowException(
            f"API request to {url} failed with timeout exception {_describe(error)}: no "
            f"response{within}. To increase the timeout, set the environment variable "
            f"{MLFLOW_HTTP_REQUEST_TIMEOUT!s} to a larger value."
        )
    if isinstance(error, InvalidURL):
        return InvalidUrlException(f"Invalid url: {url}")
    if isinstance(error, TransportError):
        return MlflowException(f"API request to {url} failed with exception {_describe(error)}")
    return MlflowException(
        f"API request to {url} failed with exception {type(error).__name__}"
    )


def _describe(error: TransportError) -> str:
    """``ConnectError: connection refused (ClientConnectorError) after 8 attempt(s)``."""
    cause = f" ({error.cause})" if error.cause else ""
    attempts = f" after {error.attempts} attempt(s)" if error.attempts > 1 else ""
    return f"{type(error).__name__}: {error.reason}{cause}{attempts}"


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
        transport=transport, hooks=default_client().hooks
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


# ---------------------------------------------------------------------------------------------
# Responses
# ---------------------------------------------------------------------------------------------
class _EngineResponse(requests.Response):
    """A ``requests.Response`` filled from an engine response.

    The cookie jar, the case-insensitive header dict and the history list are built on first
    use, and attributes that keep requests' defaults live on the class: most callers read only
    the status and the body, and setting everything eagerly cost more than the rest of the
    conversion.
    """

    _headers = None
    _cookies = None
    _history = None
    _url = None
    _next = None
    raw = None
    request = None
    elapsed = datetime.timedelta(0)

    def __init__(self, core) -> None:  # requests.Response.__init__ is skipped on purpose
        content = core.content
        self._core = core
        self._content = False if content is None else content
        self._content_consumed = content is not None
        self.status_code = core.status
        self.reason = core.reason
        content_type = core.headers.get("Content-Type")
        self.encoding = _encoding_of(content_type) if content_type else None

    @property
    def url(self) -> str:
        if self._url is None:
            self._url = self._core.url
        return self._url

    @url.setter
    def url(self, value) -> None:
        self._url = value

    @property
    def headers(self) -> CaseInsensitiveDict:
        if self._headers is None:
            self._headers = CaseInsensitiveDict(self._core.headers)
        return self._headers

    @headers.setter
    def headers(self, value) -> None:
        self._headers = value

    @property
    def cookies(self):
        if self._cookies is None:
            self._cookies = requests.cookies.RequestsCookieJar()
        return self._cookies

    @cookies.setter
    def cookies(self, value) -> None:
        self._cookies = value

    @property
    def history(self) -> list:
        if self._history is None:
            self._history = []
        return self._history

    @history.setter
    def history(self, value) -> None:
        self._history = value


@lru_cache(maxsize=64)
def _encoding_of(content_type: str) -> str | None:
    return get_encoding_from_headers({"content-type": content_type})


class AsyncStreamResponse(_EngineResponse):
    """A ``requests.Response`` whose body is still on the wire, read asynchronously."""

    async def aiter_bytes(self, chunk_size: int = 65536) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._core.aiter_chunks(chunk_size):
                yield chunk
        except CoreError as e:
            raise _mlflow_error(e, self.url, None) from e
        self._content_consumed = True

    async def aiter_lines(self, chunk_size: int = 65536) -> AsyncIterator[bytes]:
        """Lines without their endings, split like ``requests.Response.iter_lines``."""
        pending = b""
        async for chunk in self.aiter_bytes(chunk_size):
            lines = (pending + chunk).splitlines(keepends=True)
            pending = lines.pop() if lines and not lines[-1].endswith((b"\n", b"\r")) else b""
            for line in lines:
                yield line.rstrip(b"\r\n")
        if pending:
            yield pending

    async def aread(self) -> bytes:
        if self._content is False:
            self._content = b"".join([chunk async for chunk in self.aiter_bytes()])
        return self._content

    @property
    def content(self):
        if self._content is False:
            raise RuntimeError(
                "The body of a streamed async response must be read with `await resp.aread()`, "
                "`resp.aiter_bytes()` or `resp.aiter_lines()`."
            )
        return self._content

    async def aclose(self) -> None:
        self._core.close() if not self._content_consumed else self._core.release()

    def close(self) -> None:
        self._core.close()

    async def __aenter__(self) -> AsyncStreamResponse:
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.aclose()


class _BlockingRaw:
    """A ``raw`` for a streamed sync ``requests.Response``: each read runs on the runner loop."""

    __slots__ = ("_core",)

    def __init__(self, core) -> None:
        self._core = core

    def read(self, amt: int | None = None, decode_content: bool = True) -> bytes:
        if amt is None:
            return b"".join(self.stream())
        return self._read_chunk(amt)

    def stream(self, amt: int = 65536, decode_content: bool = True) -> Iterator[bytes]:
        while True:
            chunk = self._read_chunk(amt or 65536)
            if not chunk:
                return
            yield chunk

    def _read_chunk(self, amt: int) -> bytes:
        try:
            return run_sync(self._core.read_chunk(amt))
        except CoreError as e:
            raise _mlflow_error(e, self._core.url, None) from e

    def close(self) -> None:
        # aiohttp objects belong to the runner loop: close there, not from this thread.
        get_runner().loop.call_soon_threadsafe(self._core.close)

    def release_conn(self) -> None:
        get_runner().loop.call_soon_threadsafe(self._core.release)


def _blocking_stream_response(core) -> requests.Response:
    response = _EngineResponse(core)
    response.raw = _BlockingRaw(core)
    return response


# ---------------------------------------------------------------------------------------------
# MLflow's helpers around http_request
# ---------------------------------------------------------------------------------------------
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
            f"{base_msg}. Response body: '{response.text}'",
            error_code=get_error_code(response.status_code),
        )
    if endpoint.startswith(_REST_API_PATH_PREFIX) and not _can_parse_as_json_object(
        response.text
    ):
        base_msg = (
            "API request to endpoint was successful but the response body was not "
            "in a valid JSON format"
        )
        raise MlflowException(f"{base_msg}. Response body: '{response.text}'")
    return response
