"""What the server learns about one request while serving it, for metrics, the access log and the
rate limiter. Routes fill it; middlewares read it. It holds no body and no credential."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

from aiohttp import web


@dataclass(slots=True)
class RequestInfo:
    request_id: str = ""
    endpoint: str | None = None  # the resolved endpoint name (after aliases and traffic routes)
    provider: str | None = None
    upstream_attempts: int = 0
    upstream_retries: int = 0
    first_byte_seconds: float | None = None  # streams: time to the first chunk sent
    rate_limited: bool = False
    streamed: bool = False


#: The key under which an aiohttp ``web.Request`` carries its ``RequestInfo``.
REQUEST_INFO_KEY = web.RequestKey("mlflow_gateway_request_info", RequestInfo)

#: The request being served on this task: engine hooks (on_retry) count attempts through it.
current_request_info: ContextVar[RequestInfo | None] = ContextVar(
    "mlflow_gateway_request_info", default=None
)
