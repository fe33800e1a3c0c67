"""The request engine: ``send = admission -> auth -> transport``, retried in aiohttp-retry's loop.

aiohttp-retry owns the retry loop (attempt counting, status and exception classification). We
plug into it with a per-request ``RetryOptionsBase`` (``_Exchange``) whose ``get_timeout`` asks
the immutable ``RetryPolicy`` how long to wait. The first attempt is sent before entering that
loop, with the same classification, because almost every request ends there. Two library
pitfalls are handled here:
- aiohttp-retry never releases a response it retries: ``get_timeout`` releases it first, or a
  one-connection pool would starve;
- it sleeps with ``asyncio.sleep``, which cannot be faked and cannot see our deadline: so
  ``get_timeout`` returns 0 and the real, deadline-checked wait runs on the injectable clock
  at the start of the next attempt.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiohttp_retry import RetryClient, RetryOptionsBase
from aiohttp_retry.client import RequestParams

from async_core.clock import SYSTEM_CLOCK, Clock
from async_core.errors import DeadlineExceeded, RetriesExhausted, RetryAfterBeyondDeadline
from async_core.messages import Request, Response
from async_core.policy import RetryPolicy
from async_core.transport import RETRYABLE_EXCEPTIONS, AiohttpTransport, Transport

_logger = logging.getLogger(__name__)

#: Called once per attempt with the request; returns the request to send (e.g. freshly signed).
Auth = Callable[[Request], Awaitable[Request]]


class Slot(Protocol):
    def started(self) -> None: ...

    def release(self) -> None: ...


class Admission(Protocol):
    """A client-side throttle (see async_core.throttle)."""

    async def reserve(self, timeout: float | None = None) -> Slot: ...

    def pause(self, seconds: float) -> None: ...


class _EveryMethod:
    """aiohttp-retry checks ``method in options.methods``; MLflow retries every method."""

    __slots__ = ()

    def __contains__(self, method: object) -> bool:
        return True


_EVERY_METHOD = _EveryMethod()


class _StopRetrying(Exception):
    """Raised inside aiohttp-retry's loop to hand back the last response (deadline reached)."""

    def __init__(self, response: Response) -> None:
        super().__init__()
        self.response = response


class _Exchange(RetryOptionsBase):
    """The state of one logical request across its attempts; also its aiohttp-retry options."""

    # RetryOptionsBase.__init__ is skipped on purpose: it rebuilds sets we already hold, and the
    # options aiohttp-retry reads are only set in `hand_over`, for the few requests that retry.
    def __init__(
        self,
        request: Request,
        policy: RetryPolicy,
        transport: Transport,
        auth: Auth | None,
        admission: Admission | None,
        clock: Clock,
        deadline: float | None,
        made: int = 0,
    ) -> None:
        self.request = request
        self.policy = policy
        self.transport = transport
        self.auth = auth
        self.admission = admission
        self.clock = clock
        self.deadline = deadline  # on clock.monotonic(), or None
        self.pending_wait = 0.0
        self.made = made  # attempts started
        self.offset = 0  # attempts made before aiohttp-retry took over (see `send`)

    async def _accept(self, response: Response) -> bool:
        return not self.policy.is_retryable_status(response.status, response.headers)

    def _remaining(self) -> float | None:
        if self.deadline is None:
            return None
        return self.deadline - self.clock.monotonic()

    async def attempt(self) -> Response:
        if self.pending_wait > 0:
            await self.clock.sleep(self.pending_wait)
            self.pending_wait = 0.0
        remaining = self._remaining()
        if remaining is not None and remaining <= 0:
            raise DeadlineExceeded(self._deadline_message(), attempts=self.made)
        if self.admission is None:
            request = self.request if self.auth is None else await self.auth(self.request)
            self.made += 1
            return await self.transport.send(request, remaining)
        # Every attempt is a start the server counts. The slot is a start "now" until the
        # transport says the request is on the wire, and is given back if it never gets there.
        try:
            slot = await self.admission.reserve(remaining)
        except asyncio.TimeoutError as e:
            raise DeadlineExceeded(
                f"{self._deadline_message()} while waiting for a client-side rate-limit slot",
                attempts=self.made,
            ) from e
        try:
            # Signed after the wait, so a long queue cannot age a SigV4 timestamp.
            request = self.request if self.auth is None else await self.auth(self.request)
            self.made += 1
            return await self.transport.send(request, self._remaining(), slot.started)
        finally:
            slot.release()

    def hand_over(self) -> None:
        """The first attempt ran outside aiohttp-retry: its loop runs the remaining ones."""
        policy = self.policy
        self.offset = 1
        self.attempts = policy.attempts - 1
        self.statuses = policy.retry_statuses
        self.exceptions = RETRYABLE_EXCEPTIONS
        self.methods = _EVERY_METHOD
        self.retry_all_server_errors = False
        # Only consulted for statuses outside `statuses`; True means "accept, do not retry".
        self.evaluate_response_callback = self._accept if policy.respect_retry_after else None

    def get_timeout(self, attempt: int, response: Response | None = None) -> float:
        attempt += self.offset  # aiohttp-retry counts from 1 again after a hand-over
        status = None if response is None else response.status
        headers = None if response is None else response.headers
        wait, dictated = self.policy.wait(attempt, status, headers, self.clock.time())
        if dictated and status == 429 and self.admission is not None:
            self.admission.pause(wait)
        remaining = self._remaining()
        if remaining is not None and wait >= remaining:
            if dictated:
                if response is not None:
                    response.release()
                raise RetryAfterBeyondDeadline(
                    f"The server answered {status} and asked to retry after {wait:g}s, which is "
                    f"past the deadline of {self.policy.total_timeout:g}s (retry_timeout_seconds; "
                    f"{max(remaining, 0.0):.3g}s left) after {self.made} attempt(s)",
                    retry_after=wait,
                    status=status or 0,
                    attempts=self.made,
                )
            if response is not None:
                raise _StopRetrying(response)
            # Called from aiohttp-retry's `except` block: the transport error is the context.
            raise DeadlineExceeded(self._deadline_message(), attempts=self.made) from (
                sys.exc_info()[1]
            )
        if response is not None:
            response.release()
        self.pending_wait = wait
        return 0.0

    def _deadline_message(self) -> str:
        return (
            f"Retry deadline of {self.policy.total_timeout:g}s (retry_timeout_seconds) exceeded "
            f"after {self.made} attempt(s)"
        )


class _AttemptSession:
    """The "session" aiohttp-retry drives: each ``request`` call is one attempt of an exchange."""

    __slots__ = ()

    async def request(self, method: str, url: Any, **kwargs: Any) -> Response:
        return await kwargs["trace_request_ctx"]["exchange"].attempt()

    async def close(self) -> None:  # RetryClient.close() would close a real session: ours has none
        return None


# Stateless and loop-agnostic: one RetryClient serves every loop and thread.
_retry_client = RetryClient(client_session=_AttemptSession(), logger=_logger)
_default_transport = AiohttpTransport()


async def send(
    request: Request,
    policy: RetryPolicy,
    *,
    transport: Transport | None = None,
    auth: Auth | None = None,
    admission: Admission | None = None,
    raise_on_status: bool = False,
    clock: Clock = SYSTEM_CLOCK,
) -> Response:
    """Send ``request`` with retries under ``policy``; one response or one error, never both.

    With ``raise_on_status``, a retryable status that survives every attempt raises
    ``RetriesExhausted``; otherwise that last response is returned.
    """
    transport = transport or _default_transport
    total = policy.total_timeout
    deadline = None if total is None else clock.monotonic() + total
    # Most requests succeed at once. The first attempt runs here, classified by the same policy
    # aiohttp-retry consults, so the common path does not pay for the retry machinery (~10% of
    # the CPU per request at 64 in flight); aiohttp-retry's loop runs every retry. With nothing
    # to sign and no slot to wait for, even the exchange is only made for a request that retries.
    direct = auth is None and admission is None and (total is None or total > 0)
    exchange = None if direct else _Exchange(
        request, policy, transport, auth, admission, clock, deadline
    )
    try:
        if exchange is None:
            response = await transport.send(request, total)
        else:
            response = await exchange.attempt()
    except RETRYABLE_EXCEPTIONS:
        if policy.max_retries == 0:
            raise
        if exchange is None:
            exchange = _Exchange(request, policy, transport, auth, admission, clock, deadline, 1)
        exchange.get_timeout(1)  # may raise DeadlineExceeded (chained to this error)
    else:
        if policy.max_retries == 0 or not policy.is_retryable_status(
            response.status, response.headers
        ):
            return _final(response, policy, raise_on_status, 1)
        if exchange is None:
            exchange = _Exchange(request, policy, transport, auth, admission, clock, deadline, 1)
        try:
            exchange.get_timeout(1, response)
        except _StopRetrying as stop:
            return _final(stop.response, policy, raise_on_status, exchange.made)
    exchange.hand_over()
    params = RequestParams(
        method=request.method,
        url=request.url,
        headers=None,
        trace_request_ctx={"exchange": exchange},
        kwargs={},
    )
    try:
        response = await _retry_client.requests([params], retry_options=exchange)
    except _StopRetrying as stop:
        response = stop.response
    return _final(response, policy, raise_on_status, exchange.made)


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
