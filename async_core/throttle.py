"""Client-side throttle: pace request starts so a fixed-window rate limit is never tripped.

Design note
-----------
Shape. Servers (AI gateways among them) count requests in a *fixed* window of ``period``
seconds whose phase the client cannot see, and refuse request ``calls + 1`` with a 429. The only
client rule that is safe for every phase is a sliding window: at most ``calls`` starts in any
interval of length ``period``. We keep the start times of the last ``period + guard`` seconds
and admit a start only while fewer than ``calls`` of them remain (``async_core.limits.window``).
So starts ``i`` and ``i + calls`` are always at least ``period + guard`` apart; the guard (default
``min(max(40 ms, 2% of period), 1 s)``) absorbs the jitter between the start recorded here and
the moment the server's limiter sees it (a server handles a burst of 50 over tens of
milliseconds; with a 20 ms guard, 2 runs in 32 under load saw a window collide). A saturated
queue gets ``calls`` starts at once and ``calls`` more every ``period + guard``: sustained
throughput is ``period / (period + guard)`` of the limit (96% for a 1 s period) and a burst
of ``n`` takes ``(ceil(n / calls) - 1) * (period + guard)``, within ``guard / period`` of the
strict minimum.

When a start happens. ``acquire()`` records the start when the slot is granted. That is exact
only if the request goes out at once. It does not for a fresh connection pool: the first
``calls`` requests wait for ``calls`` connections to open, and arrive tens of milliseconds
later than the next window's requests on kept-alive connections, so the two bunch up at the
server. ``reserve()`` returns a :class:`Slot` that counts as starting *now* at every instant
until ``slot.started()`` says when the request really went out (aiohttp: the
``on_request_headers_sent`` trace signal), so connection set-up and pool queueing cannot bunch
requests; ``slot.release()`` gives back a slot whose request never went out.

Why not aiolimiter's leaky bucket. ``AsyncLimiter(calls, period)`` lets a full bucket of
``calls`` through and keeps leaking, so one window can see close to ``2 * calls``. Any bucket
that cannot trip a fixed window (capacity ``c``, rate ``r`` with ``c + r * period <= calls``)
reaches ``>= 95%`` throughput only with ``c <= 5%`` of ``calls``, so 200 requests at 50/s take
``(200 - c) / r`` ~= 4.1 s against a strict minimum of 3 s (1.37x). Its waiters are also not
strictly first come, first served (a newcomer can take capacity a woken waiter was about to
use; the waiter re-queues behind later ones). So the admission is a small sliding-window log in
aiolimiter's own style (``__slots__``, FIFO futures, one timer per limiter); no part of
aiolimiter is left that fits this job.

Measured (``python -m tests.throttle.measure_throttle``: 2-core machine under other load;
server in its own process, window opened by the first hit, fresh aiohttp session per run):

==================================  =====  =================  ===============  =========
200 requests, limit 50 per second   429s   max in any 1 s     makespan / 3 s   sustained
==================================  =====  =================  ===============  =========
``reserve()`` + ``started()``, x5   0      50                 1.026 - 1.042    97.6-97.9%
``acquire()`` (grant time), x5      79     92                 1.020 - 1.026    98.1-99.1%
5 kinds of callers, ``reserve()``   0      50                 1.040 - 1.052    97.4-97.9%
aiolimiter ``AsyncLimiter(50, 1)``  51     101                0.992            115%
aiolimiter capacity 2 at 48/s       0      50                 1.374            96.0%
==================================  =====  =================  ===============  =========

(400 requests with ``reserve()``: 0 refused, at most 50 in any second, 7.18 s against 7 s.)

Threads and loops. The state of a limiter lives on one *owner* loop (the shared background
runner's loop) and is touched only there, so it needs no locks. Callers on other loops hand the
wait to the owner with ``run_coroutine_threadsafe`` and await it through ``wrap_future``;
blocking callers wait on the concurrent future. Cancellation goes both ways, and a slot granted
to a caller that has already gone away is given back on the owner loop, never leaked.

Shared stores. ``admission(..., storage_uri="redis://...")`` keeps the window in Redis instead
(``async_core.limits``): every process naming the same scope and limit shares it, each event
loop admits on its own loop through a ``LoopLocal`` limiter, and the same slot semantics hold.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable

from async_core.limits.limiter import AdmissionTimeout
from async_core.limits.per_loop import LoopLocal
from async_core.limits.periods import parse_period
from async_core.limits.store import Window, default_guard
from async_core.limits.uri import open_store
from async_core.limits.window import PauseCell, SlidingWindow, validate_limit
from async_core.redact import redact_url
from async_core.runner import get_runner

__all__ = [
    "Admission",
    "AdmissionTimeout",
    "Slot",
    "Throttle",
    "default_guard",
    "get_throttle",
]

_logger = logging.getLogger(__name__)

# A remote caller also stops waiting this long after its own timeout, in case the owner loop is
# stalled and cannot deliver the owner-side timeout.
_REMOTE_GRACE = 1.0
# Timers fire when `now > when - resolution`; aiming one resolution late avoids re-arming spins.
_CLOCK_RESOLUTION = time.get_clock_info("monotonic").resolution

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def _check_timeout(timeout: float | None) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or math.isnan(timeout):
        raise ValueError(
            f"Invalid admission timeout={timeout!r}: use a number of seconds, or None to wait "
            "without limit."
        )
    return None if timeout == math.inf else float(timeout)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _runner_loop() -> asyncio.AbstractEventLoop:
    return get_runner().loop


class _Ticket:
    """Hand-off state of one cross-thread acquisition; touched only on the owner loop."""

    __slots__ = ("abandoned", "token")

    def __init__(self) -> None:
        self.abandoned = False
        self.token: _Token | None = None


class _Scope:
    """What every limiter of one scope shares: the 429 pause."""

    __slots__ = ("members", "pause")

    def __init__(self) -> None:
        self.pause = PauseCell()
        # Replaced, never mutated, so the owner loop can iterate while another thread adds.
        self.members: tuple[Admission, ...] = ()


class Slot:
    """A start granted by :meth:`Admission.reserve` whose request is not on the wire yet.

    Until :meth:`started` is called it counts as starting at every instant, so connection set-up
    and queueing for a pooled connection cannot bunch requests at the server. Call
    :meth:`started` when the request is sent (for aiohttp: the ``on_request_headers_sent``
    trace signal) and :meth:`release` when it ends; releasing a slot that never started gives
    it back. ``with slot:`` / ``async with slot:`` release on exit. Methods are thread-safe.
    """

    __slots__ = ("_admission", "_epoch", "_open")

    def __init__(self, admission: Admission) -> None:
        self._admission = admission
        self._epoch = admission._epoch
        self._open = True  # changed only on the owner loop

    def started(self) -> None:
        """The request has been sent now."""
        if self._open:
            self._admission._settle_soon(self, True)

    def release(self) -> None:
        """The request is over; if it was never sent, the slot is given back."""
        if self._open:
            self._admission._settle_soon(self, False)

    def __enter__(self) -> Slot:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    async def __aenter__(self) -> Slot:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.release()

    def __del__(self) -> None:
        # Dropped without a word: assume the request went out now (safe, never jams the window).
        if getattr(self, "_open", False):
            try:
                self._admission._settle_soon(self, True)
            except Exception:  # interpreter or owner loop shutting down
                pass

    def __repr__(self) -> str:
        state = "open" if self._open else "settled"
        return f"<Slot of {self._admission!r} {state}>"


_Token = float | Slot  # a recorded start time, or a pending start


class Admission:
    """One limit (``calls`` starts per ``period`` seconds) for one scope, shared process-wide.

    ``await acquire()`` (any event loop), ``acquire_blocking()`` (any thread but the owner's),
    ``async with admission:`` and ``with admission:`` each take one start slot, recorded as
    starting when it is granted. ``reserve()`` / ``reserve_blocking()`` return a :class:`Slot`
    instead, recorded when the caller says the request was sent.
    """

    __slots__ = (
        "_epoch",
        "_loop",
        "_scope",
        "_throttle",
        "_timer",
        "_waiters",
        "_window",
        "calls",
        "period",
        "scope",
    )

    def __init__(
        self, throttle: Throttle, scope: str, calls: int, period: float, guard: float, state: _Scope
    ) -> None:
        self._throttle = throttle
        self.scope = scope
        self.calls = calls
        self.period = period
        self._scope = state
        self._window = SlidingWindow(calls, period, guard, state.pause)
        # Owner-loop state: FIFO of (future, wants a pending slot), one timer to wake the head.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiters: deque[tuple[asyncio.Future[_Token], bool]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._epoch = 0  # bumped when the owner loop changes; older slots are not pending here

    @property
    def guard(self) -> float:
        return self._window.guard

    # ----------------------------------------------------------------- public API

    async def acquire(self, timeout: float | None = None) -> None:
        """Wait for a slot. Raises :class:`AdmissionTimeout` if none within ``timeout`` seconds.

        ``timeout`` is the request's remaining total deadline (``None``: no limit). Cancellation
        or a timeout gives the place in the queue back: no slot is consumed, no one is delayed.
        """
        await self._take(_check_timeout(timeout), False)

    async def reserve(self, timeout: float | None = None) -> Slot:
        """Like :meth:`acquire`, but the start is pending until :meth:`Slot.started`."""
        slot = await self._take(_check_timeout(timeout), True)
        assert isinstance(slot, Slot)
        return slot

    def acquire_blocking(self, timeout: float | None = None) -> None:
        """:meth:`acquire` for blocking code; must not run on the owner loop's thread."""
        self._take_blocking(_check_timeout(timeout), False)

    def reserve_blocking(self, timeout: float | None = None) -> Slot:
        """:meth:`reserve` for blocking code; must not run on the owner loop's thread."""
        slot = self._take_blocking(_check_timeout(timeout), True)
        assert isinstance(slot, Slot)
        return slot

    def pause(self, seconds: float) -> None:
        """429 feedback: every caller of this scope waits ``seconds`` (from now) to start."""
        self._throttle.pause(self.scope, seconds)

    @property
    def waiting(self) -> int:
        """How many callers are queued (read on the owner loop for an exact figure)."""
        return sum(1 for fut, _ in tuple(self._waiters) if not fut.done())

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    def __enter__(self) -> None:
        self.acquire_blocking()

    def __exit__(self, *exc_info: object) -> None:
        return None

    def __repr__(self) -> str:
        return (
            f"<Admission scope={redact_url(self.scope)!r} calls={self.calls} "
            f"period={self.period:g}s guard={self.guard:g}s waiting={self.waiting}>"
        )

    # ----------------------------------------------------------------- owner loop

    async def _acquire_here(self, timeout: float | None, pending: bool) -> _Token:
        """Take a slot on the owner loop; return its token (to give it back if unused)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._rebind(loop)
        now = loop.time()
        if not self._waiters and self._window.next_start(now) <= now:
            return self._grant(now, pending)
        if timeout is not None and (timeout <= 0 or self._scope.pause.until - now > timeout):
            # Certain to miss the deadline: fail now rather than at its end.
            raise self._timeout_error(timeout)
        fut: asyncio.Future[_Token] = loop.create_future()
        self._waiters.append((fut, pending))
        if self._timer is None:
            self._wake()
        expiry = None if timeout is None else loop.call_later(timeout, self._expire, fut, timeout)
        try:
            return await fut
        except BaseException:
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                # Granted, but the caller went away before it could start: not a start.
                self._give_back(fut.result())
            else:
                fut.cancel()
                self._drop(fut)
            raise
        finally:
            if expiry is not None:
                expiry.cancel()

    def _grant(self, now: float, pending: bool) -> _Token:
        if pending:
            self._window.reserve()
            return Slot(self)
        self._window.record(now)
        return now

    def _wake(self) -> None:
        """Grant slots to the head of the queue while the window allows; else arm the timer."""
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        loop, waiters, window = self._loop, self._waiters, self._window
        if loop is None:
            return
        now = loop.time()
        while waiters:
            fut, pending = waiters[0]
            if fut.done():  # cancelled or timed out, not yet removed by its task
                waiters.popleft()
                continue
            at = window.next_start(now)
            if at > now:
                if at != math.inf:  # else a confirmation or a withdrawal will wake us
                    self._timer = loop.call_at(at + _CLOCK_RESOLUTION, self._wake)
                return
            waiters.popleft()
            fut.set_result(self._grant(now, pending))

    def _expire(self, fut: asyncio.Future[_Token], timeout: float) -> None:
        if not fut.done():
            fut.set_exception(self._timeout_error(timeout))

    def _drop(self, fut: asyncio.Future[_Token]) -> None:
        waiters = self._waiters
        for index, (queued, _) in enumerate(waiters):
            if queued is fut:
                del waiters[index]
                break
        if not waiters and self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _give_back(self, token: _Token) -> None:
        if isinstance(token, Slot):
            self._settle(token, False)
        elif self._window.give_back(token):
            self._wake()

    def _settle(self, slot: Slot, started: bool, at: float | None = None) -> None:
        """Owner loop: a pending slot started at ``at`` (default: now), or never started."""
        if not slot._open or self._loop is None:
            return
        slot._open = False
        when = self._loop.time() if at is None else at
        if slot._epoch != self._epoch:  # granted under an old owner loop: no longer pending
            if started:
                self._window.record(when)
        elif started:
            self._window.confirm(when)
        else:
            self._window.withdraw()
        self._wake()

    def _settle_soon(self, slot: Slot, started: bool) -> None:
        """Any thread: settle ``slot`` on the owner loop, timed now."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        at = loop.time() if started else None  # the owner's clock (monotonic), read here
        if _running_loop() is loop:
            self._settle(slot, started, at)
        else:
            loop.call_soon_threadsafe(self._settle, slot, started, at)

    def _rebind(self, loop: asyncio.AbstractEventLoop) -> None:
        # The owner loop changed (runner restarted, or a forked child): the old loop's waiters
        # and timer died with it, and its pending slots may never settle here (a child never
        # hears of its parent's). Recorded starts stay: those did happen.
        self._loop = loop
        self._waiters = deque()
        self._timer = None
        self._epoch += 1
        self._window.forget_pending()

    def _reschedule(self) -> None:
        """Re-arm the timer after the pause moved (owner loop only)."""
        if self._loop is not None and self._waiters:
            self._wake()

    async def _serve(self, ticket: _Ticket, timeout: float | None, pending: bool) -> _Token:
        """Owner-side half of a cross-thread acquisition."""
        if ticket.abandoned:
            raise asyncio.CancelledError
        token = await self._acquire_here(timeout, pending)
        if ticket.abandoned:
            self._give_back(token)
            raise asyncio.CancelledError
        ticket.token = token
        return token

    def _abandon_here(self, ticket: _Ticket) -> None:
        ticket.abandoned = True
        token, ticket.token = ticket.token, None
        if token is not None:
            self._give_back(token)

    # ----------------------------------------------------------------- caller side

    async def _take(self, timeout: float | None, pending: bool) -> _Token:
        owner = self._throttle._owner()
        if asyncio.get_running_loop() is owner:
            return await self._acquire_here(timeout, pending)
        ticket = _Ticket()
        cfut = asyncio.run_coroutine_threadsafe(self._serve(ticket, timeout, pending), owner)
        fut = asyncio.wrap_future(cfut)
        try:
            if timeout is None:
                return await fut
            done, _ = await asyncio.wait((fut,), timeout=max(timeout, 0.0) + _REMOTE_GRACE)
            if not done:
                raise self._timeout_error(timeout)
            return fut.result()
        except BaseException:
            fut.cancel()
            self._abandon(owner, cfut, ticket)
            raise

    def _take_blocking(self, timeout: float | None, pending: bool) -> _Token:
        owner = self._throttle._owner()
        if _running_loop() is owner:
            raise RuntimeError(
                "A blocking throttle call was made on the throttle's own event loop, where it "
                "would deadlock; use 'await admission.acquire()' there."
            )
        ticket = _Ticket()
        cfut = asyncio.run_coroutine_threadsafe(self._serve(ticket, timeout, pending), owner)
        try:
            return cfut.result(None if timeout is None else max(timeout, 0.0) + _REMOTE_GRACE)
        except BaseException as exc:
            self._abandon(owner, cfut, ticket)
            if isinstance(exc, concurrent.futures.TimeoutError) and not isinstance(
                exc, AdmissionTimeout
            ):
                raise self._timeout_error(timeout) from None
            raise

    def _abandon(
        self, owner: asyncio.AbstractEventLoop, cfut: concurrent.futures.Future, ticket: _Ticket
    ) -> None:
        """The caller stopped waiting: cancel the owner-side wait, and give back a late grant."""
        cfut.cancel()
        try:
            owner.call_soon_threadsafe(self._abandon_here, ticket)
        except RuntimeError:  # owner loop closed: its limiter state is gone anyway
            pass

    def _timeout_error(self, timeout: float | None) -> AdmissionTimeout:
        return AdmissionTimeout(
            f"No rate-limit slot for {redact_url(self.scope)!r} ({self.calls} calls per "
            f"{self.period:g} s) within {timeout or 0:g} s; allow a longer request timeout or "
            "send fewer requests."
        )


class Throttle:
    """A process-wide registry of limiters keyed on ``(scope, calls, period seconds)``.

    ``loop_factory`` returns the loop that owns every limiter's state (default: the shared
    background runner's loop); it is asked again if that loop closes or the process forks.
    ``guard`` is a fixed guard in seconds, or a function of the period (default
    :func:`default_guard`).
    """

    def __init__(
        self,
        loop_factory: LoopFactory | None = None,
        *,
        guard: float | Callable[[float], float] | None = None,
    ) -> None:
        self._loop_factory: LoopFactory = loop_factory or _runner_loop
        if guard is None:
            guard = default_guard
        self._guard: Callable[[float], float] = (
            guard if callable(guard) else (lambda _period, g=float(guard): g)
        )
        self._lock = threading.Lock()
        self._admissions: dict[tuple[str, int, float], Admission] = {}
        self._shared_admissions: dict[tuple[str, str, int, float], LoopLocal] = {}
        self._scopes: dict[str, _Scope] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = os.getpid()

    def admission(
        self, scope: str, calls: int, period: str | float, storage_uri: str | None = None
    ) -> Admission | LoopLocal:
        """The limiter of ``scope`` for ``calls`` per ``period`` (``"minute"``, ``"5 seconds"``,
        or seconds). The same key always gives the same object.

        ``storage_uri`` (``redis://host:port/db``, ``rediss://...``) puts the window in a
        shared store: every process naming the same scope, limit and store shares it, and each
        event loop admits on its own loop. ``None`` or ``memory://``: this process only.
        """
        if not isinstance(scope, str) or not scope:
            raise ValueError(
                f"Invalid throttle scope={scope!r}: use a non-empty string such as the "
                "endpoint URL or the limit's key."
            )
        seconds = parse_period(period) if isinstance(period, str) else period
        calls, seconds = validate_limit(calls, seconds)
        store = open_store(storage_uri)
        if store.shared:
            return self._shared(store, storage_uri or "", scope, calls, seconds)
        key = (scope, calls, seconds)
        found = self._admissions.get(key)
        if found is not None:
            return found
        with self._lock:
            found = self._admissions.get(key)
            if found is None:
                state = self._scopes.get(scope)
                if state is None:
                    state = self._scopes[scope] = _Scope()
                found = Admission(self, scope, calls, seconds, self._guard(seconds), state)
                state.members = (*state.members, found)
                self._admissions[key] = found
            return found

    def _shared(
        self, store: object, uri: str, scope: str, calls: int, seconds: float
    ) -> LoopLocal:
        key = (uri, scope, calls, seconds)
        found = self._shared_admissions.get(key)
        if found is None:
            with self._lock:
                found = self._shared_admissions.get(key)
                if found is None:
                    window = Window(scope, calls, seconds, self._guard(seconds))
                    found = self._shared_admissions[key] = LoopLocal(store, window)
        return found

    def pause(self, scope: str, seconds: float) -> None:
        """429 feedback: no caller of ``scope`` (under any limit) starts for ``seconds``."""
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, (int, float))
            or not math.isfinite(seconds)
            or seconds < 0
        ):
            raise ValueError(
                f"Invalid pause of {seconds!r} seconds: use a non-negative number such as the "
                "Retry-After value."
            )
        owner = self._owner()
        until = owner.time() + seconds
        if _running_loop() is owner:
            self._apply_pause(scope, until)
        else:
            owner.call_soon_threadsafe(self._apply_pause, scope, until)

    def _apply_pause(self, scope: str, until: float) -> None:
        state = self._scopes.get(scope)
        if state is None:
            with self._lock:
                state = self._scopes.setdefault(scope, _Scope())
        if state.pause.extend(until):
            _logger.debug("Throttle pauses %r until loop time %.3f", redact_url(scope), until)
            for member in state.members:
                member._reschedule()

    def _owner(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is None or loop.is_closed() or self._pid != os.getpid():
            with self._lock:
                loop = self._loop
                if loop is None or loop.is_closed() or self._pid != os.getpid():
                    loop = self._loop = self._loop_factory()
                    self._pid = os.getpid()
        return loop

    def __repr__(self) -> str:
        return f"<Throttle limiters={len(self._admissions)} scopes={len(self._scopes)}>"


_default: Throttle | None = None
_default_lock = threading.Lock()


def get_throttle() -> Throttle:
    """The process-wide default registry, owned by the background runner's loop."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Throttle()
    return _default
