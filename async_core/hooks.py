"""Observers of a client's requests: each retry is announced before its wait."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryEvent:
    """One retry about to happen: what failed, and how long the engine waits before the next try."""

    method: str
    url: str  # redacted
    attempt: int  # the attempt that failed, from 1
    max_attempts: int
    wait: float
    status: int | None  # the retryable status, or None after a transport error
    cause: str | None  # the transport error's class name, or None after a status
    reason: str | None = None  # a short phrase: "connection refused", "status 503"


@dataclass(frozen=True, slots=True)
class Hooks:
    """Observers of a client's requests. Each is optional; an observer that raises is logged and
    ignored (it must not change the request's outcome)."""

    on_retry: Callable[[RetryEvent], None] | None = None
