"""One limit served by ONE limiter on an owner loop, for callers on any event loop or thread.

:class:`~async_core.limits.per_loop.LoopLocal` gives each loop a limiter of its own, so first
come, first served holds per loop. Here a single :class:`Limiter` lives on an *owner* loop (the
background runner's) and serves everyone in one queue: the owner loop's tasks directly, other
loops through ``run_coroutine_threadsafe`` (awaited through ``wrap_future``), blocking threads on
the concurrent future. Cancellation goes both ways, and a grant that reaches a caller who has
already gone away is given back on the owner loop, never leaked.

If the owner loop changes (closed and replaced, or a forked child), a new limiter serves the new
loop; the old loop's pending starts may never settle, so the store stops counting them
(``orphan_pending``) while every recorded start stays.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
from collections.abc import Callable

from async_core.limits.facade import SharedLimit
from async_core.limits.limiter import (
    AdmissionTimeout,
    Limiter,
    LimitSlot,
    check_pause,
    check_timeout,
)
from async_core.limits.store import Store, Window

__all__ = ["OwnerLoopLimiter"]

# A remote caller also stops waiting this long after its own timeout, in case the owner loop is
# stalled and cannot deliver the owner-side timeout.
_REMOTE_GRACE = 1.0

_Token = str | LimitSlot  # a recorded start, or a pending one


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class _Ticket:
    """Hand-off state of one cross-thread acquisition; touched only on the owner loop."""

    __slots__ = ("abandoned", "token")

    def __init__(self) -> None:
        self.abandoned = False
        self.token: _Token | None = None


class OwnerLoopLimiter(SharedLimit):
    """``window`` on ``store``, admitted on the loop ``owner()`` returns, for any caller."""

    __slots__ = ("_bound", "_limiter", "_owner", "store", "window")

    def __init__(
        self, store: Store, window: Window, owner: Callable[[], asyncio.AbstractEventLoop]
    ) -> None:
        self.store = store
        self.window = window
        self._owner = owner
        self._bound: asyncio.AbstractEventLoop | None = None
        self._limiter = Limiter(store, window)

    # ----------------------------------------------------------------- public API

    async def acquire(self, timeout: float | None = None) -> None:
        """Wait for a start, recorded when granted; :class:`AdmissionTimeout` past ``timeout``."""
        await self._take(check_timeout(timeout), False)

    async def reserve(self, timeout: float | None = None) -> LimitSlot:
        """Like :meth:`acquire`, but the start is pending until :meth:`LimitSlot.started`."""
        slot = await self._take(check_timeout(timeout), True)
        assert isinstance(slot, LimitSlot)
        return slot

    def acquire_blocking(self, timeout: float | None = None) -> None:
        """:meth:`acquire` for blocking code; must not run on the owner loop's thread."""
        self._take_blocking(check_timeout(timeout), False)

    def reserve_blocking(self, timeout: float | None = None) -> LimitSlot:
        """:meth:`reserve` for blocking code; must not run on the owner loop's thread."""
        slot = self._take_blocking(check_timeout(timeout), True)
        assert isinstance(slot, LimitSlot)
        return slot

    def pause(self, seconds: float) -> None:
        """429 feedback: no start of this scope (under any of its limits) for ``seconds``."""
        seconds = check_pause(seconds)
        pause_now = getattr(self.store, "pause_now", None)
        if pause_now is not None:  # in memory: no I/O, any thread
            pause_now(self.scope, seconds)
        else:
            asyncio.run_coroutine_threadsafe(self.store.pause(self.scope, seconds), self._owner())

    @property
    def waiting(self) -> int:
        """How many callers are queued, the one being served included."""
        return len(self._limiter._queue)

    # Read on the owner loop, for tests and diagnostics.
    _loop = property(lambda self: self._bound, doc="The owner loop now serving the queue.")
    _waiters = property(
        lambda self: collections.deque(t for t in self._limiter._queue if not t.done()),
        doc="The callers queued behind the one being served.",
    )
    _window = property(
        lambda self: self.store.window_state(self.window),  # type: ignore[attr-defined]
        doc="The memory store's live record of the window.",
    )

    # ----------------------------------------------------------------- owner loop

    def _here(self) -> Limiter:
        loop = asyncio.get_running_loop()
        if self._bound is not loop:
            if self._bound is not None:  # the owner loop was replaced: see the module note
                self._limiter = Limiter(self.store, self.window)
                orphan = getattr(self.store, "orphan_pending", None)
                if orphan is not None:
                    orphan(self.window)
            self._bound = loop
        return self._limiter

    async def _acquire_here(self, timeout: float | None, pending: bool) -> _Token:
        """Take a start on the owner loop; return its token (to give it back if unused)."""
        limiter = self._here()
        token = await limiter._take(timeout, pending)
        return LimitSlot(limiter, token) if pending else token

    def _give_back(self, token: _Token) -> None:
        if isinstance(token, LimitSlot):
            token.release()
        else:
            self._limiter._settle(token, False)

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
        owner = self._owner()
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
                raise self._limiter._timeout_error(timeout)
            return fut.result()
        except BaseException:
            fut.cancel()
            self._abandon(owner, cfut, ticket)
            raise

    def _take_blocking(self, timeout: float | None, pending: bool) -> _Token:
        owner = self._owner()
        if _running_loop() is owner:
            raise RuntimeError(
                "A blocking rate-limit call was made on the limiter's own event loop, where it "
                "would deadlock; use 'await limiter.acquire()' there."
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
                raise self._limiter._timeout_error(timeout) from None
            raise

    def _abandon(
        self, owner: asyncio.AbstractEventLoop, cfut: concurrent.futures.Future, ticket: _Ticket
    ) -> None:
        """The caller stopped waiting: cancel the owner-side wait, and give back a late grant."""
        cfut.cancel()
        try:
            owner.call_soon_threadsafe(self._abandon_here, ticket)
        except RuntimeError:  # owner loop closed: its queue is gone anyway
            pass
