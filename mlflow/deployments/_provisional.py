"""What an endpoint's predictions go through while its advertised limit is still unknown.

The limit lookup (``GET /api/2.0/endpoints/<name>``) runs beside the first prediction instead of
in front of it. Two rules keep the throttle's guarantee (never more than ``calls`` starts in any
window the server may count) while the limit is unknown:

- **One early start.** Every limit allows at least one call, so exactly one request per target
  and endpoint (process-wide, whatever client, thread or loop sends it) goes out at once. The
  others wait for the lookup, at most ``LOOKUP_WAIT`` seconds and never past their own deadline;
  a caller still waiting then goes too (the lookup is slow or broken: no slower than without
  throttling).
- **Early starts are counted.** Each request sent before the limit was known is carried into the
  limit's window when the lookup answers, *before* anyone waiting is let through: a start that
  already happened is recorded as happening then (later than it really did, which is safe); one
  still on its way is a pending start of the window until it is sent. (Letting the first go
  without this lost its start: the window then admitted ``calls`` more, and the server saw
  ``calls + 1`` in its first window: one 429 in a burst of 200 at 50/s.)

With the window in a shared store (Redis: ``throttle_storage``,
``MLFLOW_DEPLOYMENTS_THROTTLE_STORAGE_URI``) there is no early start: other processes learn the
limit on their own and would admit a full window beside it, so every request waits for the lookup
(boundedly, as above).

Once known, the endpoint's admission (or None: no limit) is kept here for the process, so a new
client's first prediction is throttled at once while its own lookup runs.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
import os
import threading
import time
from typing import Any

from async_core import get_runner
from async_core.limits import open_store
from mlflow.utils.throttling import storage_uri_default

# Callers other than the one early start wait this long at most for the lookup (and never
# past their own deadline); then they go, counted like the early start.
LOOKUP_WAIT = 2.0
_UNKNOWN = object()


class _NoSlot:
    """The slot of an unthrottled request: nothing to count."""

    __slots__ = ()

    def started(self) -> None:
        return None

    def release(self) -> None:
        return None


_NO_SLOT = _NoSlot()


class EarlySlot:
    """A start made before the limit was known; handed to the limit's window once it is."""

    __slots__ = ("_lock", "_owner", "_real", "_released", "_started")

    def __init__(self, owner: Provisional) -> None:
        self._owner = owner
        self._lock = threading.Lock()
        self._started = False
        self._released = False
        self._real: Any = None  # the window's slot, once the limit is known

    def started(self) -> None:
        with self._lock:
            if self._started or self._released:
                return
            self._started = True
            real = self._real
        if real is not None:
            real.started()

    def release(self) -> None:
        with self._lock:
            if self._released:
                return
            self._released = True
            real, started = self._real, self._started
        if real is not None:
            real.release()
        elif not started:
            self._owner._discard(self)  # never sent: nothing to count

    def attach(self, real: Any) -> None:
        """The window's slot for this start: started now if the request already went out
        (recorded later than it happened: safe), given back if it never did."""
        with self._lock:
            self._real = real
            started, released = self._started, self._released
        if started:
            real.started()
        if released:
            real.release()


class Provisional:
    """The admission of one target's endpoint until its limit is known (see module doc)."""

    __slots__ = ("_early", "_first_taken", "_known", "_lock", "_pause_until", "_promoting",
                 "_ready", "key")

    def __init__(self, key: str) -> None:
        self.key = key
        self._lock = threading.Lock()
        self._first_taken = False
        self._early: list[EarlySlot] = []  # sent (or being sent) before the limit was known
        self._known: Any = _UNKNOWN  # then: the limit's admission, or None (not throttled)
        self._promoting = False
        self._ready: concurrent.futures.Future = concurrent.futures.Future()
        self._pause_until = -math.inf

    # ------------------------------------------------------------------ state

    @property
    def known(self) -> bool:
        return self._known is not _UNKNOWN

    @property
    def admission(self) -> Any:
        """The known admission (None: not throttled); only meaningful once :attr:`known`."""
        return self._known

    def _early_slot(self) -> EarlySlot:
        slot = EarlySlot(self)
        self._early.append(slot)
        return slot

    def _discard(self, slot: EarlySlot) -> None:
        with self._lock:
            try:
                self._early.remove(slot)
            except ValueError:  # already carried into the window: attach() gives it back
                pass

    # ------------------------------------------------------------------ admission API

    async def reserve(self, timeout: float | None = None) -> Any:
        if not self.known and not _shared_window():
            with self._lock:
                if not self.known and not self._first_taken:
                    self._first_taken = True
                    return self._early_slot()  # the one request that never waits for the lookup
        if not self.known:
            bound = LOOKUP_WAIT if timeout is None else max(0.0, min(timeout, LOOKUP_WAIT))
            began = time.monotonic()
            try:
                await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(self._ready)), bound)
            except asyncio.TimeoutError:
                with self._lock:
                    if not self.known:
                        return self._early_slot()  # the lookup is late: go, and be counted
            if timeout is not None:
                timeout = max(0.0, timeout - (time.monotonic() - began))
        admission = self._known
        if admission is None:
            return _NO_SLOT
        return await admission.reserve(timeout)

    async def acquire(self, timeout: float | None = None) -> None:
        slot = await self.reserve(timeout)
        slot.started()
        slot.release()

    def pause(self, seconds: float) -> None:
        """A 429 before the limit is known: applied to the limit's window when it is."""
        with self._lock:
            if not self.known:
                self._pause_until = max(self._pause_until, time.monotonic() + seconds)
                return
            admission = self._known
        if admission is not None:
            admission.pause(seconds)

    # ------------------------------------------------------------------ promotion

    def promote(self, admission: Any) -> None:
        """The lookup answered (``admission`` None: not throttled). Any thread."""
        with self._lock:
            if self.known:
                self._known = admission  # a refresh: later callers use the new limit
                return
            if self._promoting:
                return  # another client's lookup is already carrying the early starts
            self._promoting = True
        try:
            loop = get_runner().loop
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                loop.create_task(self._promote(admission))
            else:
                asyncio.run_coroutine_threadsafe(self._promote(admission), loop)
        except RuntimeError:  # the runner is shutting down: nothing left to carry into
            self._settle(admission)

    async def _promote(self, admission: Any) -> None:
        # On the throttle's owner loop: each early start queues for its slot in the window
        # before anyone waiting is told the limit, so they all queue behind the early starts.
        try:
            while True:
                with self._lock:
                    early, self._early = self._early, []
                    if not early:  # checked and settled at once: no early start slips by
                        self._known = admission
                        break
                if admission is not None:
                    for slot in early:
                        task = asyncio.ensure_future(_carry(admission, slot))
                        _carrying.add(task)  # the loop keeps only weak references to tasks
                        task.add_done_callback(_carrying.discard)
                await asyncio.sleep(0)  # each carry has queued (or got) its slot
        finally:
            self._settle(admission)  # whatever happened, nobody waits for this again

    def _settle(self, admission: Any) -> None:
        # Called once per Provisional (by the one promotion), on any thread.
        with self._lock:
            if not self.known:  # failed half-way: early starts not carried stay uncounted
                self._known, self._early = admission, []
            pause_left = self._pause_until - time.monotonic()
        if admission is not None and pause_left > 0:
            admission.pause(pause_left)  # before anyone waiting is let through
        self._ready.set_result(admission)

    def __repr__(self) -> str:
        state = "unknown" if not self.known else repr(self._known)
        return f"<Provisional limit of {self.key!r}: {state}>"


def _shared_window() -> bool:
    """Whether the limit's window will live in a store other processes share. Their early
    starts could not be carried into it before their neighbours' admissions (each process
    learns the limit on its own), so there every request waits for the lookup."""
    try:
        return open_store(storage_uri_default()).shared
    except ValueError:  # a bad URI: reported when the limit is resolved
        return False


_carrying: set[asyncio.Future] = set()


async def _carry(admission: Any, slot: EarlySlot) -> None:
    slot.attach(await admission.reserve(None))


_registry: dict[str, Provisional] = {}
_registry_lock = threading.Lock()
_registry_pid = os.getpid()


def provisional(key: str, create: bool = True) -> Provisional | None:
    """The process-wide :class:`Provisional` of ``key`` (``<target>/<endpoint>``)."""
    global _registry, _registry_lock, _registry_pid
    if _registry_pid != os.getpid():  # a forked child: the parent's waiters are not ours
        _registry, _registry_lock, _registry_pid = {}, threading.Lock(), os.getpid()
    found = _registry.get(key)
    if found is not None or not create:
        return found
    with _registry_lock:
        return _registry.setdefault(key, Provisional(key))
