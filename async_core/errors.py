"""Errors raised by the engine. The mlflow layer maps them onto MLflow's exception types."""

from __future__ import annotations


class CoreError(Exception):
    """Base of every error the engine raises itself (transport errors pass through as aiohttp's)."""


class DeadlineExceeded(CoreError):
    """The request's total deadline (``retry_timeout_seconds``) ran out before it could finish.

    Deliberately not a TimeoutError: aiohttp-retry would take that for a retryable timeout.
    """

    def __init__(self, message: str, *, attempts: int = 0) -> None:
        super().__init__(message)
        self.attempts = attempts


class RetryAfterBeyondDeadline(DeadlineExceeded):
    """The server asked us to wait longer than the time left before the deadline."""

    def __init__(self, message: str, *, retry_after: float, status: int, attempts: int) -> None:
        super().__init__(message, attempts=attempts)
        self.retry_after = retry_after
        self.status = status


class RetriesExhausted(CoreError):
    """Every attempt got a retryable status and ``raise_on_status`` was requested."""

    def __init__(self, message: str, *, status: int, attempts: int) -> None:
        super().__init__(message)
        self.status = status
        self.attempts = attempts


class TransportError(CoreError):
    """One attempt failed below HTTP. Carries only fields the engine chose: never a header, a body
    or a library object's repr (those carry credentials)."""

    def __init__(
        self, message: str, *, method: str = "", url: str = "", attempts: int = 0,
        cause: str = "",
    ) -> None:
        super().__init__(message)
        self.method = method
        self.url = url  # redacted
        self.attempts = attempts
        self.cause = cause  # the underlying error's class name


class ConnectError(TransportError):
    """The connection could not be opened (refused, DNS, unreachable)."""


class ReadError(TransportError):
    """The connection broke while sending or reading (reset, truncated body)."""


class TransportTimeout(TransportError):
    """Connecting or reading took longer than the per-attempt timeout."""


class ProtocolError(TransportError):
    """The peer spoke malformed HTTP (bad status line, oversized headers, redirect loop)."""


class TLSError(TransportError):
    """A TLS handshake or certificate failure. Deterministic, so it is never retried."""


class BlockingCallInRunnerThread(RuntimeError):
    """A blocking call was made from the runner's own event-loop thread (it would deadlock)."""
