"""Errors raised by the engine. Every failure below HTTP leaves the engine as a ``TransportError``;
a caller never sees the HTTP library's exception types (their reprs carry request headers)."""

from __future__ import annotations


class CoreError(Exception):
    """Base of every error the engine raises."""


class DeadlineExceeded(CoreError):
    """The request's total deadline ran out before it could finish."""

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


class InvalidURL(CoreError, ValueError):
    """The URL cannot be requested (no host, bad characters). Nothing was sent."""

    def __init__(self, message: str, *, url: str = "") -> None:
        super().__init__(message)
        self.url = url  # redacted


class TransportError(CoreError):
    """One attempt failed below HTTP. Carries only fields the engine chose: never a header, a body
    or a library object's repr (those carry credentials).

    ``reason`` is a short fixed phrase ("connection refused"); ``cause`` the underlying error's
    class name; ``attempts`` the attempts made when the error left the engine."""

    #: Worth another attempt (the retry loop still asks the policy about the method).
    retryable = True

    def __init__(
        self, message: str = "", *, method: str = "", url: str = "", attempts: int = 0,
        cause: str = "", reason: str = "",
    ) -> None:
        super().__init__(message or f"{reason}: {method} {url}".strip(": "))
        self.method = method
        self.url = url  # redacted
        self.attempts = attempts
        self.cause = cause
        self.reason = reason or message


class ConnectError(TransportError):
    """The connection could not be opened (refused, DNS, unreachable). Nothing was sent."""


class DestinationDenied(ConnectError):
    """A connect-time policy (the caller's resolver or socket factory, see ``ConnectionDenied``)
    refused the destination. Nothing was sent; deterministic, so never retried. ``address`` is
    the refused host or address as the policy named it."""

    retryable = False

    def __init__(self, message: str = "", *, address: str = "", **fields: object) -> None:
        super().__init__(message, **fields)  # type: ignore[arg-type]
        self.address = address


class ConnectionDenied(OSError):
    """Raise this from a connector's resolver or socket factory to refuse a destination (an
    allow-list, an address filter). The attempt fails with ``DestinationDenied`` carrying
    ``reason`` and ``address``: both must be safe to show (no URL, no credential)."""

    def __init__(self, reason: str, *, address: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.address = address


class ReadError(TransportError):
    """The connection broke while sending or reading (reset, truncated body)."""


class TransportTimeout(TransportError, TimeoutError):
    """Connecting or reading took longer than the per-attempt timeout (also a ``TimeoutError``)."""


class ProtocolError(TransportError):
    """The peer spoke malformed HTTP (bad status line, oversized headers, redirect loop)."""

    retryable = False


class TLSError(TransportError):
    """A TLS handshake or certificate failure. Deterministic, so it is never retried."""

    retryable = False


class BlockingCallInRunnerThread(RuntimeError):
    """A blocking call was made from the runner's own event-loop thread (it would deadlock)."""
