"""Building the request ``http_request`` sends: URL, headers, body, TLS, auth, the retry policy
and the transport (aiohttp, or the Databricks SDK), after validating every parameter."""

from __future__ import annotations

import base64
import os
import ssl
import warnings
from functools import lru_cache
from typing import Any
from urllib.parse import unquote, urlsplit

import requests
from urllib3.exceptions import InsecureRequestWarning

from async_core import Request, RetryPolicy
from mlflow.environment_variables import (
    _MLFLOW_DATABRICKS_TRAFFIC_ID,
    _MLFLOW_HTTP_REQUEST_MAX_BACKOFF_FACTOR_LIMIT,
    _MLFLOW_HTTP_REQUEST_MAX_RETRIES_LIMIT,
    MLFLOW_ALLOW_HTTP_REDIRECTS,
    MLFLOW_DATABRICKS_ENDPOINT_HTTP_RETRY_TIMEOUT,
    MLFLOW_DATABRICKS_TRAFFIC_ID,
    MLFLOW_ENABLE_DB_SDK,
    MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR,
    MLFLOW_HTTP_REQUEST_BACKOFF_JITTER,
    MLFLOW_HTTP_REQUEST_MAX_RETRIES,
    MLFLOW_HTTP_REQUEST_TIMEOUT,
    MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER,
    EnvSnapshot,
)
from mlflow.exceptions import CUSTOMER_UNAUTHORIZED, InvalidUrlException, MlflowException
from mlflow.tracking.request_header.registry import resolve_request_headers
from mlflow.utils import http_validation as check
from mlflow.utils.http_errors import _redact
from mlflow.utils.json_body import dumps as json_body_bytes
from mlflow.utils.request_utils import _TRANSIENT_FAILURE_RESPONSE_CODES as _DEFAULT_CODES
from mlflow.utils.secret_scrub import remember, remember_basic, remember_headers

_TRAFFIC_ID_HEADER = "x-databricks-traffic-id"
_ORG_ID_HEADER = "x-databricks-org-id"
#: Sent with one value across every attempt of a request, so a server can deduplicate retries.
IDEMPOTENCY_HEADER = "Idempotency-Key"
_NON_IDEMPOTENT = frozenset({"POST", "PATCH"})
# What http_request accepts in **kwargs, as requests.Session.request would (plus our opt-out).
_SUPPORTED_KWARGS = frozenset(
    {"params", "data", "json", "files", "allow_redirects", "stream", "cert", "auth", "cookies",
     "proxies", "verify", "headers", "idempotency_key"}
)
#: MLflow's contract retries every method.
_EVERY_METHOD = None


@lru_cache(maxsize=256)
def _checked_base(host: str) -> tuple[str, str | None]:
    """The host without a trailing '/' and without user-info, and the Basic ``Authorization``
    that user-info stands for (as requests, it wins over other credentials). Validated once
    per distinct host."""
    base = host[:-1] if host.endswith("/") else host
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(base)
    # requests' own host checks (bad characters, bad IDNA labels) raise InvalidURL here, as
    # they would in MLflow, instead of a DNS lookup of a name that cannot exist.
    requests.models.PreparedRequest().prepare_url(base, None)
    if "@" not in parts.netloc:
        return base, None
    user, password = unquote(parts.username or ""), unquote(parts.password or "")
    remember_basic(user, password)
    netloc = parts.netloc.rsplit("@", 1)[1]
    pair = base64.standard_b64encode(f"{user}:{password}".encode()).decode()
    return parts._replace(netloc=netloc).geturl(), f"Basic {pair}"


def _as_built(host: str, endpoint: str) -> str:
    """The URL as MLflow builds it (one trailing '/' of the host dropped), for messages: never
    the scheme's own '//' ("http://" + "/x" is "http:///x", not "http:/x")."""
    if host.endswith("/") and not host.endswith("://"):
        host = host[:-1]
    return f"{host}{endpoint}"


def _ssl_context(verify: bool | str, client_cert: str | tuple | None) -> ssl.SSLContext | bool:
    if verify is True:
        # requests reads these per request, so they must be part of the cache key.
        verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    return _cached_ssl_context(verify, client_cert)


@lru_cache(maxsize=64)
def _cached_ssl_context(
    verify: bool | str, client_cert: str | tuple | None
) -> ssl.SSLContext | bool:
    """SSL contexts are expensive (CA bundle parsing): build one per distinct configuration.
    A missing or unreadable file is refused naming the parameter and the path (only the first
    use of a configuration pays for the check: errors are not cached)."""
    check.tls_path("verify", verify)
    check.tls_path("cert", client_cert)
    try:
        return _build_ssl_context(verify, client_cert)
    except (OSError, ssl.SSLError) as e:
        raise MlflowException(
            f"Invalid TLS files: verify={verify!r}, cert={client_cert!r} could not be loaded "
            f"({type(e).__name__}: {getattr(e, 'strerror', None) or 'not a valid PEM file'}).",
            error_code=check.INVALID_PARAMETER_VALUE,
        ) from None


def _build_ssl_context(verify, client_cert):
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
    if data is not None:
        check.data(data)
    if files:
        body, content_type = requests.models.RequestEncodingMixin._encode_files(files, data or {})
        _default_content_type(headers, content_type)
        return body
    if data is not None and data != {} and data != []:
        if isinstance(data, bytes):
            return data
        if isinstance(data, (bytearray, memoryview)):
            return bytes(data)
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
    json_body = kwargs.get("json")
    if json_body is not None:
        _default_content_type(headers, "application/json")
        try:
            return json_body_bytes(json_body)
        except (TypeError, ValueError, RecursionError) as e:
            error = check.json_body(e, json_body)
        raise error
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

    hook = requests_auth_hook(auth)

    async def remembering(request: Request) -> Request:
        signed = await hook(request)
        remember_headers(signed.headers)  # a signer's secrets, masked in any later message
        return signed

    return remembering


def _proxy_for(url: str, proxies: dict | None) -> str | None:
    if not proxies:
        return None
    scheme = url.split(":", 1)[0]
    return proxies.get(scheme) or proxies.get("all")


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
    if respect_retry_after is None:
        respect_retry_after = MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER.get()
    policy = RetryPolicy(
        max_retries=max_retries,
        backoff_factor=backoff_factor,
        backoff_jitter=backoff_jitter,
        retry_statuses=retry_codes,
        respect_retry_after=respect_retry_after,
        total_timeout=retry_timeout_seconds,
        methods=_EVERY_METHOD,
    )
    timeout = MLFLOW_HTTP_REQUEST_TIMEOUT.get() if timeout is None else timeout
    return policy, check.seconds("timeout", timeout), MLFLOW_ALLOW_HTTP_REDIRECTS.get()


def _retry_defaults(max_retries, backoff_factor, backoff_jitter) -> tuple:
    """The caller's retry settings, with MLflow's environment variables filling the gaps, all
    validated: the one check both the HTTP and the SDK path run."""
    return (
        check.max_retries(
            MLFLOW_HTTP_REQUEST_MAX_RETRIES.get() if max_retries is None else max_retries
        ),
        check.backoff_factor(
            MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR.get() if backoff_factor is None else backoff_factor
        ),
        check.backoff_jitter(
            MLFLOW_HTTP_REQUEST_BACKOFF_JITTER.get() if backoff_jitter is None else backoff_jitter
        ),
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
        methods=_EVERY_METHOD,
        total_timeout=(
            retry_timeout_seconds
            if retry_timeout_seconds is not None
            else MLFLOW_DATABRICKS_ENDPOINT_HTTP_RETRY_TIMEOUT.get()
        ),
    )



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
        base, url_authorization = _checked_base(host_creds.host)
        url = f"{base}{endpoint}"
        if kwargs.get("params"):
            url = _with_params(url, kwargs["params"])
    except (ValueError, requests.exceptions.RequestException) as e:
        url = _as_built(str(host_creds.host), endpoint)
        raise InvalidUrlException(f"Invalid url: {_redact(url)}") from e

    if retry_codes is not _DEFAULT_CODES:
        retry_codes = check.retry_codes(retry_codes)
    if max_retries is not None:
        max_retries = check.bool_retries(max_retries)
    if retry_timeout_seconds is not None:
        retry_timeout_seconds = check.seconds("retry_timeout_seconds", retry_timeout_seconds)
    if respect_retry_after_header is not None:
        check.flag("respect_retry_after_header", respect_retry_after_header)
    env = _http_env()
    if extra_headers is not None:
        check.headers("extra_headers", extra_headers)
    headers = _resolve_headers(host_creds, extra_headers, env)
    if kwargs:
        _add_kwarg_headers(headers, kwargs)
    body = _encode_body(kwargs, headers)
    if method.upper() in _NON_IDEMPOTENT:
        _add_idempotency_key(headers, kwargs.get("idempotency_key", True))

    if host_creds.token or host_creds.password or host_creds.client_secret:
        remember(host_creds.token, host_creds.password, host_creds.client_secret)
    if host_creds.use_databricks_sdk:
        # The Databricks SDK makes the call (in a worker thread); MLflow's retry rules and the
        # total deadline apply on top, and SDK errors come back as mapped responses.
        from mlflow.utils.databricks_sdk_transport import get_databricks_sdk_transport

        if timeout is not None:
            timeout = check.seconds("timeout", timeout)
        policy = _sdk_policy(
            max_retries, backoff_factor, backoff_jitter, retry_codes, retry_timeout_seconds
        )
        transport = get_databricks_sdk_transport(host_creds, timeout, retry_timeout_seconds)
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
    authorization = url_authorization or _authorization(host_creds)
    if authorization:
        headers["Authorization"] = authorization
        remember_headers({"Authorization": authorization})
    if kwargs.get("headers") or extra_headers:
        remember_headers(headers)
    auth = _auth_hook(host_creds, kwargs.get("auth"))

    ssl_option = True
    if url.startswith("https:"):
        verify = kwargs.get("verify", host_creds.verify)
        cert = kwargs.get("cert", host_creds.client_cert_path)
        ssl_option = _ssl_context(verify, tuple(cert) if isinstance(cert, list) else cert)
        if verify is False:
            _warn_unverified(url)
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


def _warn_unverified(url: str) -> None:
    """What requests' urllib3 warns on every unverified HTTPS request, with its class and text
    (so the same warning filters apply)."""
    warnings.warn(
        f"Unverified HTTPS request is being made to host '{urlsplit(url).hostname}'. "
        "Adding certificate verification is strongly advised. See: "
        "https://urllib3.readthedocs.io/en/latest/advanced-usage.html#tls-warnings",
        InsecureRequestWarning,
        stacklevel=2,
    )


def _add_kwarg_headers(headers: dict[str, str], kwargs: dict[str, Any]) -> None:
    if kwargs.get("headers"):
        headers.update(check.headers("headers", kwargs["headers"]))
    if kwargs.get("cookies"):
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in kwargs["cookies"].items())


def _add_idempotency_key(headers: dict[str, str], option: Any) -> None:
    """One key per call, kept across its attempts (the request is built once). ``option``:
    True (a fresh random key), False (none: the opt-out), or the caller's own key."""
    # map() keeps the case-insensitive scan in C: this runs on every POST.
    if option is False or "idempotency-key" in map(str.lower, headers):
        return
    if option is True:
        headers[IDEMPOTENCY_HEADER] = os.urandom(16).hex()
    elif isinstance(option, str) and option and check.headers(
        "idempotency_key", {IDEMPOTENCY_HEADER: option}
    ):
        headers[IDEMPOTENCY_HEADER] = option
    else:
        raise check.refuse("idempotency_key", option, "True, False or a non-empty str")
