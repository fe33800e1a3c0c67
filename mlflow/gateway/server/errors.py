"""JSON error bodies in MLflow's (FastAPI's) shapes, and the mapping of every failure a route can
meet onto one of them. Messages are built from fields we chose, never from a library object's
repr or an upstream body (either may carry a credential)."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from async_core.errors import (
    ConnectError,
    CoreError,
    DeadlineExceeded,
    RetriesExhausted,
    RetryAfterBeyondDeadline,
    TLSError,
    TransportError,
    TransportTimeout,
)
from mlflow.exceptions import MlflowException
from mlflow.gateway.exceptions import AIGatewayException
from mlflow.gateway.jsonio import dumps
from mlflow.gateway.server.payloads import InvalidRequestBody

_logger = logging.getLogger("mlflow.gateway.server")

_REASONS = {404: "Not Found", 405: "Method Not Allowed"}


def json_response(
    payload: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    # The Content-Type given as a header (the content_type argument is parsed and rebuilt).
    all_headers = {**headers, _CONTENT_TYPE: _JSON} if headers else {_CONTENT_TYPE: _JSON}
    return web.Response(body=dumps(payload), status=status, headers=all_headers)


_CONTENT_TYPE = "Content-Type"
_JSON = "application/json"


def error_response(
    status: int, detail: Any, headers: Mapping[str, str] | None = None
) -> web.Response:
    """``{"detail": ...}``: what FastAPI's HTTPException handler answers in MLflow's gateway."""
    return json_response({"detail": detail}, status, headers)


def validation_error_response(errors: list[dict[str, Any]]) -> web.Response:
    """422 ``{"detail": [{"type", "loc", "msg", "input"}...]}``: FastAPI's request validation
    error, as MLflow's gateway answers a body that does not fit the route's schema."""
    return json_response({"detail": errors}, 422)


def retry_after_header(seconds: float) -> str:
    # Whole seconds, rounded up and never 0: a caller that waits this long finds a slot.
    return str(max(1, math.ceil(seconds)))


def to_gateway_exception(error: BaseException) -> AIGatewayException | None:
    """The HTTP answer for an engine error that reached the server (providers normally map them
    first; this is the server's safety net)."""
    if isinstance(error, RetryAfterBeyondDeadline):
        return AIGatewayException(
            status_code=429 if error.status == 429 else error.status,
            detail=(
                f"The upstream provider asked to retry after {error.retry_after:.0f} seconds, "
                "beyond this request's retry budget. Retry after the time in Retry-After."
            ),
            headers={"Retry-After": retry_after_header(error.retry_after)},
        )
    if isinstance(error, DeadlineExceeded):
        return AIGatewayException(
            status_code=504,
            detail="The upstream provider did not answer within this request's retry budget.",
        )
    if isinstance(error, RetriesExhausted):
        return AIGatewayException(
            status_code=error.status,
            detail=f"The upstream provider answered {error.status} on every attempt "
            f"({error.attempts}).",
        )
    if isinstance(error, TransportTimeout):
        return AIGatewayException(
            status_code=504, detail="The upstream provider timed out."
        )
    if isinstance(error, TLSError):
        return AIGatewayException(
            status_code=502, detail="The TLS handshake with the upstream provider failed."
        )
    if isinstance(error, ConnectError):
        return AIGatewayException(
            status_code=502, detail="Could not connect to the upstream provider."
        )
    if isinstance(error, TransportError):
        return AIGatewayException(
            status_code=502,
            detail="The connection to the upstream provider failed "
            f"({error.cause or type(error).__name__}).",
        )
    if isinstance(error, CoreError):
        return AIGatewayException(status_code=502, detail="The upstream request failed.")
    if isinstance(error, TimeoutError):
        return AIGatewayException(status_code=504, detail="The upstream provider timed out.")
    return None


def exception_response(error: BaseException) -> web.Response:
    """The response for an exception raised while serving a request."""
    if isinstance(error, web.HTTPException):
        if error.status == 413:
            return error_response(413, error.text or "Request Entity Too Large")
        detail = _REASONS.get(error.status) or error.reason
        return error_response(error.status, detail, _allow_header(error))
    if isinstance(error, AIGatewayException):
        return error_response(error.status_code, error.detail, error.headers)
    if isinstance(error, InvalidRequestBody):
        return validation_error_response(error.errors)
    if isinstance(error, MlflowException):
        return error_response(
            error.get_http_status_code(),
            {"error_code": error.error_code, "message": error.message},
        )
    mapped = to_gateway_exception(error)
    if mapped is not None:
        return error_response(mapped.status_code, mapped.detail, mapped.headers)
    # Class name only: the exception's text may quote a header or a body.
    _logger.error("Unhandled %s while serving a gateway request", type(error).__name__)
    return error_response(500, "Internal Server Error")


def _allow_header(error: web.HTTPException) -> dict[str, str] | None:
    allow = error.headers.get("Allow")
    return {"Allow": allow} if allow else None


@web.middleware
async def errors_middleware(request: web.Request, handler) -> web.StreamResponse:
    """Innermost layer: every failure becomes a JSON response, so outer middlewares (access log,
    metrics) always see a status."""
    try:
        return await handler(request)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        return exception_response(e)
    except (AIGatewayException, InvalidRequestBody, MlflowException, CoreError) as e:
        return exception_response(e)
    except Exception as e:  # noqa: BLE001 - the caller gets JSON, the log gets the class name
        return exception_response(e)
