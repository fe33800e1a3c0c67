"""A general asyncio HTTP engine with policies: pooled aiohttp sessions per loop, retries on
aiohttp-retry with Retry-After and a total deadline, a process-wide sliding-window throttle
(throttle.py says why it is not aiolimiter's leaky bucket), and a background loop runner for
blocking callers. It knows nothing about MLflow."""

from async_core.client import AsyncClient, Hooks, RetryEvent
from async_core.clock import SYSTEM_CLOCK, Clock
from async_core.engine import Admission, Auth, Slot, send
from async_core.errors import (
    BlockingCallInRunnerThread,
    ConnectError,
    CoreError,
    DeadlineExceeded,
    ProtocolError,
    ReadError,
    RetriesExhausted,
    RetryAfterBeyondDeadline,
    TLSError,
    TransportError,
    TransportTimeout,
)
from async_core.messages import Request, Response
from async_core.policy import RetryPolicy, parse_retry_after
from async_core.runner import LoopRunner, get_runner, iter_sync, run_sync
from async_core.sessions import SessionPool, get_session_pool, set_session_factory
from async_core.transport import RETRYABLE_EXCEPTIONS, AiohttpTransport, Transport

__all__ = [
    "AsyncClient",
    "ConnectError",
    "Hooks",
    "ProtocolError",
    "ReadError",
    "RetryEvent",
    "TransportError",
    "TransportTimeout",
    "SYSTEM_CLOCK",
    "Admission",
    "AiohttpTransport",
    "Auth",
    "BlockingCallInRunnerThread",
    "Clock",
    "CoreError",
    "DeadlineExceeded",
    "LoopRunner",
    "RETRYABLE_EXCEPTIONS",
    "Request",
    "Response",
    "RetriesExhausted",
    "RetryAfterBeyondDeadline",
    "RetryPolicy",
    "SessionPool",
    "Slot",
    "TLSError",
    "Transport",
    "get_runner",
    "get_session_pool",
    "iter_sync",
    "parse_retry_after",
    "run_sync",
    "send",
    "set_session_factory",
]
