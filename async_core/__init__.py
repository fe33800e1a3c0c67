"""A general asyncio HTTP engine with policies: an ``AsyncClient`` owning one pooled aiohttp
session per event loop, one retry loop with Retry-After and a total deadline on an injectable
clock, its own error hierarchy (no HTTP library exception leaves it), a URL redactor, a
sliding-window throttle, and a background loop runner for blocking callers."""

from async_core.client import AsyncClient
from async_core.clock import SYSTEM_CLOCK, Clock
from async_core.defaults import DEFAULTS, default_client
from async_core.engine import Admission, Auth, Slot, Transport, send
from async_core.errors import (
    BlockingCallInRunnerThread,
    ConnectError,
    CoreError,
    DeadlineExceeded,
    InvalidURL,
    ProtocolError,
    ReadError,
    RetriesExhausted,
    RetryAfterBeyondDeadline,
    TLSError,
    TransportError,
    TransportTimeout,
)
from async_core.hooks import Hooks, RetryEvent
from async_core.messages import Request, Response
from async_core.policy import IDEMPOTENT_METHODS, RetryPolicy, parse_retry_after
from async_core.redact import redact_url
from async_core.runner import LoopRunner, get_runner, iter_sync, run_sync
from async_core.sessions import SessionPool
from async_core.transport import AiohttpTransport


def get_session_pool() -> SessionPool:
    """The default client's pool of sessions."""
    return default_client().transport.pool


def set_session_factory(factory) -> None:
    """How the default client builds its sessions; applies to sessions made later."""
    DEFAULTS.set_session_factory(factory)


__all__ = [
    "DEFAULTS",
    "IDEMPOTENT_METHODS",
    "SYSTEM_CLOCK",
    "Admission",
    "AiohttpTransport",
    "AsyncClient",
    "Auth",
    "BlockingCallInRunnerThread",
    "Clock",
    "ConnectError",
    "CoreError",
    "DeadlineExceeded",
    "Hooks",
    "InvalidURL",
    "LoopRunner",
    "ProtocolError",
    "ReadError",
    "Request",
    "Response",
    "RetriesExhausted",
    "RetryAfterBeyondDeadline",
    "RetryEvent",
    "RetryPolicy",
    "SessionPool",
    "Slot",
    "TLSError",
    "Transport",
    "TransportError",
    "TransportTimeout",
    "default_client",
    "get_runner",
    "get_session_pool",
    "iter_sync",
    "parse_retry_after",
    "redact_url",
    "run_sync",
    "send",
    "set_session_factory",
]
