"""The request engine: ``send = admission -> auth -> transport``, in one retry loop.

Every attempt's outcome is classified once, here: a response whose status the policy retries, a
``TransportError`` that is retryable (and whose method the policy retries, or that never reached
the server), or a final outcome. Waits run on the injectable clock and never cross the deadline.
Each retry is announced to ``on_retry`` before its wait.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from async_core.clock import SYSTEM_CLOCK, Clock
from async_core.errormap import to_core_error
from async_core.errors import (
    ConnectError,
    DeadlineExceeded,
    RetriesExhausted,
    RetryAfterBeyondDeadline,
    TransportError,
)
from async_core.hooks import RetryEvent
from async_core.messages import Request, Response
from async_core.policy import RetryPolicy
from async_core.redact import redact_url

_logger = logging.getLogger(__name__)

#: Called once per attempt with the request; returns the request to send (e.g. freshly signed).
Auth = Callable[[Request], Awaitable[Request]]
OnRetry = Callable[[RetryEvent], None]


class Slot(Protocol):
    def started(self) -> None: ...

    def release(self) -> None: ...


class Admission(Protocol):
    """A client-side limiter: one slot per attempt."""

    async def reserve(self, timeout: float | None = None) -> Slot: ...

    def pause(self, seconds: float) -> None: ...


class Transport(Protocol):
    async def send(
        self,
        request: Request,
        total_timeout: float | None,
        on_sent: Callable[[], None] | None = None,
    ) -> Response:
        """Send one attempt. ``total_timeout`` bounds the whole attempt (the time left before the
        request's deadline), on top of the request's own connect/read timeout. ``on_sent``, if
        given, is called the moment the request is on the wire (the limiter's start time)."""
        ...


async def send(
    request: Request,
    policy: RetryPolicy,
    *,
    transport: Transport,
    auth: Auth | None = None,
    admission: Admission | None = None,
    raise_on_status: bool = False,
    clock: Clock = SYSTEM_CLOCK,
    on_retry: OnRetry | None = None,
) -> Response:
    """Send ``request`` with retries under ``policy``; one response or one error, never both.

    With ``raise_on_status``, a retryable status that survives every attempt raises
    ``RetriesExhausted``; otherwise that last response is returned.
    """
    deadline = None if policy.total_timeout is None else clock.monotonic() + policy.total_timeout
    attempts = policy.attempts
    # A body read from an iterator cannot be sent twice: only a connection that never opened
    # (nothing read yet) is worth another attempt.
    replayable = request.body is None or isinstance(request.body, (bytes, bytearray))
    method_ok = replayable and policy.retries_method(request.method)
    made = 0
    last_error: BaseException | None = None
    while True:
        remaining = None if deadline is None else deadline - clock.monotonic()
        if remaining is not None and remaining <= 0:
            raise _deadline(policy, made) from last_error
        made += 1
        error: BaseException | None = None
        try:
            if auth is None and admission is None:
                response = await transport.send(request, remaining)
            else:
                response = await _guarded(request, transport, auth, admission, remaining, made,
                                          policy)
        except Exception as exc:
            error = to_core_error(exc, request.method, request.url)
        # Raised outside the handler, so a library's exception is not even the __context__.
        if error is not None:
            if not isinstance(error, TransportError):
                raise error
            error.attempts = made
            # A connection that never opened sent nothing: safe to retry for any method.
            if made >= attempts or not error.retryable or not (
                method_ok or isinstance(error, ConnectError)
            ):
                raise error
            wait, status, dictated, last_error = policy.backoff(made), None, False, error
        else:
            status = response.status
            if not method_ok:
                return response
            if made >= attempts or not policy.is_retryable_status(status, response.headers):
                return _final(response, policy, raise_on_status, made)
            wait, dictated = policy.wait(made, status, response.headers, clock.time())
            if dictated and status == 429 and admission is not None:
                admission.pause(wait)
            remaining = None if deadline is None else deadline - clock.monotonic()
            if remaining is not None and wait >= remaining and not dictated:
                return _final(response, policy, raise_on_status, made)
            response.release()
            last_error = None
        remaining = None if deadline is None else deadline - clock.monotonic()
        if remaining is not None and wait >= remaining:
            if dictated:
                raise _beyond(policy, status, wait, remaining, made)
            raise _deadline(policy, made) from last_error
        if on_retry is not None:
            _announce(on_retry, request, made, attempts, wait, status, last_error)
        if wait > 0:
            await clock.sleep(wait)


async def _guarded(
    request: Request, transport: Transport, auth: Auth | None, admission: Admission | None,
    remaining: float | None, made: int, policy: RetryPolicy,
) -> Response:
    if admission is None:
        signed = request if auth is None else await auth(request)
        return await transport.send(signed, remaining)
    # Every attempt is a start the server counts. The slot is a start "now" until the
    # transport says the request is on the wire, and is given back if it never gets there.
    try:
        slot = await admission.reserve(remaining)
    except asyncio.TimeoutError:
        raise DeadlineExceeded(
            f"{_deadline(policy, made - 1)} while waiting for a client-side rate-limit slot",
            attempts=made - 1,
        ) from None
    try:
        # Signed after the wait, so a long queue cannot age a SigV4 timestamp.
        signed = request if auth is None else await auth(request)
        return await transport.send(signed, remaining, slot.started)
    finally:
        slot.release()


def _announce(on_retry: OnRetry, request: Request, made: int, attempts: int, wait: float,
              status: int | None, error: BaseException | None) -> None:
    event = RetryEvent(
        method=request.method,
        url=redact_url(request.url),
        attempt=made,
        max_attempts=attempts,
        wait=wait,
        status=status,
        cause=None if error is None else getattr(error, "cause", "") or type(error).__name__,
        reason=f"status {status}" if error is None else getattr(error, "reason", None),
    )
    try:
        on_retry(event)
    except Exception:  # an observer must not change the outcome
        _logger.exception("on_retry hook failed")


def _deadline(policy: RetryPolicy, made: int) -> DeadlineExceeded:
    return DeadlineExceeded(
        f"Retry deadline of {policy.total_timeout:g}s exceeded after {made} attempt(s)",
        attempts=made,
    )


def _beyond(policy: RetryPolicy, status: int | None, wait: float, remaining: float,
            made: int) -> RetryAfterBeyondDeadline:
    return RetryAfterBeyondDeadline(
        f"The server answered {status} and asked to retry after {wait:g}s, which is past the "
        f"deadline of {policy.total_timeout:g}s ({max(remaining, 0.0):.3g}s left) after "
        f"{made} attempt(s)",
        retry_after=wait,
        status=status or 0,
        attempts=made,
    )


def _final(response: Response, policy: RetryPolicy, raise_on_status: bool, made: int) -> Response:
    """The last response: returned, or with ``raise_on_status`` refused if still retryable."""
    if raise_on_status and policy.is_retryable_status(response.status, response.headers):
        response.release()
        raise RetriesExhausted(
            f"too many {response.status} error responses",
            status=response.status,
            attempts=made,
        )
    return response
