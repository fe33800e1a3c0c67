"""Engine failures as MLflow's exceptions, and the retry WARNING log.

Messages are built from the fields the engine chose (method, redacted URL, status, a fixed
reason, the cause's class name), never from a library object's text: aiohttp's reprs carry the
request headers, so credentials.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from async_core import (
    DEFAULTS,
    DeadlineExceeded,
    Hooks,
    InvalidURL,
    RetriesExhausted,
    RetryAfterBeyondDeadline,
    RetryEvent,
    TransportError,
    TransportTimeout,
    redact_url,
)
from mlflow.environment_variables import MLFLOW_HTTP_REQUEST_TIMEOUT
from mlflow.exceptions import InvalidUrlException, MlflowException

_logger = logging.getLogger("mlflow.utils.rest_utils")


def log_retry(event: RetryEvent) -> None:
    """One WARNING per retry, as urllib3 logs for MLflow's client (the URL is redacted), e.g.
    ``Retrying (2/7) in 4.0 s after connection refused: POST http://host/x``."""
    _logger.warning(
        "Retrying (%d/%d) in %.1f s after %s: %s %s",
        event.attempt, event.max_attempts - 1, event.wait, event.reason, event.method, event.url,
    )


HOOKS = Hooks(on_retry=log_retry)
DEFAULTS.set_hooks(HOOKS)  # the default client behind http_request / ahttp_request

_redact = redact_url  # the one redactor, in async_core


def _path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


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
