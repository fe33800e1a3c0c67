"""Turning engine errors and upstream error responses into ``AIGatewayException``.

Every message is built from fields chosen here: a provider name, a host, a status, and the
upstream's own error message with our credentials scrubbed out (an upstream may echo the
request's Authorization header or key back in its error body)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from async_core.errors import (
    ConnectError,
    CoreError,
    DeadlineExceeded,
    InvalidURL,
    RetriesExhausted,
    RetryAfterBeyondDeadline,
    TransportError,
    TransportTimeout,
)
from async_core.policy import parse_retry_after
from mlflow.gateway.exceptions import AIGatewayException

REDACTED = "[REDACTED]"
_MAX_DETAIL = 2000
# Shorter strings are not scrubbed: replacing them would garble ordinary text.
_MIN_SECRET = 6


def scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret and len(secret) >= _MIN_SECRET and secret in text:
            text = text.replace(secret, REDACTED)
    return text


def host_of(url: str) -> str:
    """Scheme, host and port only: never a path or query (a query may carry a key)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}" if parts.scheme else host


def whole_seconds(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))


def upstream_message(body: bytes, content_type: str | None) -> str:
    """The most specific message an upstream error body carries (OpenAI-style
    ``error.message``, a top-level ``message``/``detail``/``error`` string), else its text."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        data: Any = json.loads(text) if text else None
    except ValueError:
        data = None
    if isinstance(data, list) and data and isinstance(data[0], Mapping):
        data = data[0]  # Gemini's streaming errors come as a one-element array
    if isinstance(data, Mapping):
        error = data.get("error")
        if isinstance(error, Mapping) and isinstance(error.get("message"), str):
            return error["message"]
        for key in ("message", "Message", "detail"):
            if isinstance(data.get(key), str) and data[key]:
                return data[key]
        if isinstance(error, str) and error:
            return error
    return text


def retry_after_header(headers: Mapping[str, str] | None, now: float) -> dict[str, str]:
    """The upstream's Retry-After, in whole seconds, or nothing."""
    if not headers or (value := headers.get("Retry-After")) is None:
        return {}
    seconds = parse_retry_after(value, now)
    return {} if seconds is None else {"Retry-After": whole_seconds(seconds)}


def upstream_error(
    provider: str,
    status: int,
    body: bytes,
    headers: Mapping[str, str] | None,
    secrets: Iterable[str],
    now: float,
) -> AIGatewayException:
    """An upstream 4xx/5xx, passed on with its status and a scrubbed message."""
    message = scrub(upstream_message(body, (headers or {}).get("Content-Type")), secrets)
    if len(message) > _MAX_DETAIL:
        message = message[:_MAX_DETAIL] + "..."
    detail = message or f"The {provider} API answered HTTP {status} with no message."
    extra = retry_after_header(headers, now) if status in (429, 503) else {}
    return AIGatewayException(status_code=status, detail=detail, headers=extra)


def map_transport_error(provider: str, url: str, error: BaseException) -> AIGatewayException | None:
    """The gateway's answer to an engine/transport error, or None if ``error`` is not one."""
    where = host_of(url)
    if isinstance(error, RetryAfterBeyondDeadline):
        status = error.status if error.status in (429, 503) else 429
        return AIGatewayException(
            status_code=status,
            detail=(
                f"The {provider} API is rate limiting this endpoint and asked to retry after "
                f"{whole_seconds(error.retry_after)}s, longer than the retry budget left."
            ),
            headers={"Retry-After": whole_seconds(error.retry_after)},
        )
    if isinstance(error, DeadlineExceeded):
        return AIGatewayException(
            status_code=504,
            detail=f"The request to the {provider} API at {where} ran out of its retry budget "
            f"after {error.attempts} attempt(s).",
        )
    if isinstance(error, TransportTimeout):
        return AIGatewayException(
            status_code=504, detail=f"The {provider} API at {where} timed out."
        )
    if isinstance(error, ConnectError):
        return AIGatewayException(
            status_code=502, detail=f"Could not connect to the {provider} API at {where}."
        )
    if isinstance(error, TransportError):
        reason = error.reason or "transport error"
        return AIGatewayException(
            status_code=502,
            detail=f"The connection to the {provider} API at {where} failed ({reason}).",
        )
    if isinstance(error, InvalidURL):
        return AIGatewayException(
            status_code=500, detail=f"The {provider} API URL of this endpoint is not valid."
        )
    if isinstance(error, RetriesExhausted):
        return AIGatewayException(
            status_code=error.status,
            detail=f"The {provider} API kept answering HTTP {error.status}.",
        )
    if isinstance(error, CoreError):
        return AIGatewayException(
            status_code=502, detail=f"The request to the {provider} API at {where} failed."
        )
    return None
