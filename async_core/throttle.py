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
use; the waiter re-queues behind later ones). So the admission is a sliding-window log
(``async_core.limits``: a window store and a first-come first-served ``Limiter``); no part of
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

Threads and loops. This module is the registry; the machinery is ``async_core.limits``. An
in-process limit is one ``Limiter`` over this registry's memory store, living on one *owner* loop
(the shared background runner's): callers on other loops and blocking threads hand their wait to
it (``async_core.limits.owner_loop``), so every thread and loop of the process waits in ONE
first-come first-served queue. Cancellation goes both ways, and a slot granted to a caller that
has already gone away is given back, never leaked.

Shared stores. ``admission(..., storage_uri="redis://...")`` keeps the window in Redis instead:
every process naming the same scope and limit shares it, each event loop admits on its own loop
through a ``LoopLocal`` limiter, and the same slot semantics hold.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable

from async_core.limits.limiter import AdmissionTimeout, LimitSlot, check_pause
from async_core.limits.memory import MemoryStore
from async_core.limits.owner_loop import OwnerLoopLimiter
from async_core.limits.owner_loop import _Ticket as _Ticket  # the hand-off, for its tests
from async_core.limits.per_loop import LoopLocal
from async_core.limits.periods import parse_period
from async_core.limits.store import Store, Window, default_guard
from async_core.limits.uri import open_store
from async_core.limits.window import validate_limit
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

LoopFactory = Callable[[], asyncio.AbstractEventLoop]

#: A start granted by :meth:`Admission.reserve`, pending until ``started()``; ``release()`` gives
#: it back if it never went out. Thread-safe; ``with slot:`` / ``async with slot:`` release.
Slot = LimitSlot


def _runner_loop() -> asyncio.AbstractEventLoop:
    return get_runner().loop


class Admission(OwnerLoopLimiter):
    """One limit (``calls`` starts per ``period`` seconds) for one scope, shared process-wide.

    ``await acquire()`` (any event loop), ``acquire_blocking()`` (any thread but the owner's),
    ``async with admission:`` and ``with admission:`` each take one start slot, recorded as
    starting when it is granted. ``reserve()`` / ``reserve_blocking()`` return a :data:`Slot`
    instead, recorded when the caller says the request was sent. ``pause(seconds)`` holds back
    every caller of the scope.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return (
            f"<Admission scope={redact_url(self.scope)!r} calls={self.calls} "
            f"period={self.period:g}s guard={self.guard:g}s waiting={self.waiting}>"
        )


class Throttle:
    """A process-wide registry of limiters keyed on ``(scope, calls, period seconds)``.

    ``loop_factory`` returns the loop that owns every in-process limiter (default: the shared
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
        self._store = MemoryStore()  # this registry's own windows and pauses
        self._lock = threading.Lock()
        self._admissions: dict[tuple[str, str, int, float], Admission | LoopLocal] = {}
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
        store: Store = open_store(storage_uri)
        uri = (storage_uri or "") if store.shared else ""
        key = (uri, scope, calls, seconds)
        found = self._admissions.get(key)
        if found is None:
            with self._lock:
                found = self._admissions.get(key)
                if found is None:
                    window = Window(scope, calls, seconds, self._guard(seconds))
                    found = self._admissions[key] = (
                        LoopLocal(store, window)
                        if store.shared
                        else Admission(self._store, window, self._owner)
                    )
        return found

    def pause(self, scope: str, seconds: float) -> None:
        """429 feedback: no in-process caller of ``scope`` (under any limit) starts for
        ``seconds``."""
        self._store.pause_now(scope, check_pause(seconds))

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
        scopes = {key[1] for key in self._admissions}
        return f"<Throttle limiters={len(self._admissions)} scopes={len(scopes)}>"


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
