"""A per-loop limiter over a window store: ``acquire`` waits for a slot (a client pacing
itself), ``try_acquire`` answers at once (a server enforcing a limit). Both use the same window.

One ``Limiter`` serves the tasks of one event loop, in first-come first-served order: only the
head of its queue asks the store, sleeping exactly until the store says a place frees (or, when
the window is held by pending starts only, re-asking every ``guard``). Another loop, thread or
process shares the limit through the same store with limiters of its own
(:mod:`async_core.limits.per_loop` keeps one per loop).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
from typing import Any

from async_core.limits.store import Decision, Store, Window
from async_core.redact import redact_url

__all__ = ["AdmissionTimeout", "LimitSlot", "Limiter", "check_pause", "check_timeout"]

_logger = logging.getLogger(__name__)


class AdmissionTimeout(asyncio.TimeoutError):
    """No rate-limit slot became free within the caller's remaining deadline."""


def check_timeout(timeout: Any) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or math.isnan(timeout):
        raise ValueError(
            f"Invalid admission timeout={timeout!r}: use a number of seconds, or None to wait "
            "without limit."
        )
    return None if timeout == math.inf else float(timeout)


def check_pause(seconds: Any) -> float:
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
    return float(seconds)


def _wake_up(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class LimitSlot:
    """A start granted by :meth:`Limiter.reserve`, pending until :meth:`started`.

    Same contract as the throttle's slots: ``started()`` when the request is on the wire,
    ``release()`` when it ends (gives the place back if it never started). Thread-safe.
    """

    __slots__ = ("_limiter", "_open", "token")

    def __init__(self, limiter: Limiter, token: str) -> None:
        self._limiter = limiter
        self.token = token
        self._open = True

    def started(self) -> None:
        if self._open:
            self._open = False
            self._limiter._settle(self.token, True)

    def release(self) -> None:
        if self._open:
            self._open = False
            self._limiter._settle(self.token, False)

    def __enter__(self) -> LimitSlot:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    async def __aenter__(self) -> LimitSlot:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.release()

    def __del__(self) -> None:
        # Dropped without a word: assume it went out now (safe; never jams the window).
        if getattr(self, "_open", False):
            try:
                self.started()
            except Exception:  # loop or interpreter shutting down
                pass


class Limiter:
    """``window``'s limit on ``store``, for the tasks of one event loop (the first to use it)."""

    def __init__(self, store: Store, window: Window) -> None:
        self.store = store
        self.window = window
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: collections.deque[asyncio.Future[None]] = collections.deque()
        self._wake: asyncio.Future[None] | None = None  # the head's nap, cut short by a poke
        self._poked = False  # a place may have freed since the head last asked
        self._tasks: set[asyncio.Task] = set()

    @property
    def calls(self) -> int:
        return self.window.calls

    @property
    def period(self) -> float:
        return self.window.period

    @property
    def guard(self) -> float:
        return self.window.guard

    @property
    def scope(self) -> str:
        return self.window.scope

    # ------------------------------------------------------------------ public API

    async def try_acquire(self, *, pending: bool = False) -> Decision:
        """Take a slot now if one is free; never waits. ``decision.wait`` says how long until
        one frees when refused. May raise ``StoreUnavailable``."""
        self._bind()
        return await self.store.admit(self.window, pending=pending)

    async def acquire(self, timeout: float | None = None) -> None:
        """Wait for a slot, recorded as starting now. Raises :class:`AdmissionTimeout` if none
        within ``timeout`` seconds; cancellation gives the place in the queue back."""
        await self._take(check_timeout(timeout), False)

    async def reserve(self, timeout: float | None = None) -> LimitSlot:
        """Like :meth:`acquire`, but the start is pending until :meth:`LimitSlot.started`."""
        token = await self._take(check_timeout(timeout), True)
        return LimitSlot(self, token)

    def pause(self, seconds: float) -> None:
        """429 feedback: no start of this scope for ``seconds`` (every sharer of the store)."""
        self._background(self.store.pause(self.scope, check_pause(seconds)))

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    def __repr__(self) -> str:
        return (
            f"<Limiter {self.store.kind} calls={self.calls} period={self.period:g}s "
            f"guard={self.guard:g}s waiting={len(self._queue)}>"
        )

    # ------------------------------------------------------------------ internals

    def _bind(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            if self._loop is not None and not self._loop.is_closed():
                raise RuntimeError(
                    "This Limiter belongs to another running event loop; use one Limiter per "
                    "loop (async_core.limits.per_loop.LoopLocal keeps one for each)."
                )
            self._loop, self._queue, self._wake = loop, collections.deque(), None
        return loop

    async def _take(self, timeout: float | None, pending: bool) -> str:
        loop = self._bind()
        deadline = None if timeout is None else loop.time() + timeout
        # Everyone queues, even with nobody ahead: a store answers over I/O, so a caller that
        # skipped the queue could overtake one whose answer is still on its way.
        turn: asyncio.Future[None] = loop.create_future()
        self._queue.append(turn)
        if self._queue[0] is turn:
            turn.set_result(None)
        try:
            if deadline is None:
                await turn
            elif not turn.done():
                # asyncio.wait, not wait_for: on 3.11 wait_for can swallow a cancellation.
                await asyncio.wait((turn,), timeout=max(deadline - loop.time(), 0.0))
                if not turn.done():
                    raise self._timeout_error(timeout)
            while True:
                self._poked = False
                decision = await self._admit(pending)
                if decision.admitted:
                    assert decision.token is not None
                    return decision.token
                wait = decision.wait
                if not math.isfinite(wait):  # held by pending starts: re-ask every guard
                    wait = max(self.guard, 0.01)
                if deadline is not None:
                    left = deadline - loop.time()
                    if left <= 0 or (math.isfinite(decision.wait) and decision.wait > left):
                        # Certain to miss the deadline (bar a start given back): fail now.
                        raise self._timeout_error(timeout)
                    wait = min(wait, left)
                if not self._poked:
                    await self._nap(loop, wait)
        except asyncio.TimeoutError:
            raise self._timeout_error(timeout) from None
        finally:
            self._leave(turn)

    async def _nap(self, loop: asyncio.AbstractEventLoop, seconds: float) -> None:
        """Sleep ``seconds``, or until poked; a cancellation always gets through."""
        wake = self._wake = loop.create_future()
        timer = loop.call_later(seconds, _wake_up, wake)
        try:
            await wake
        finally:
            timer.cancel()
            self._wake = None

    async def _admit(self, pending: bool) -> Decision:
        if getattr(self.store, "settle", None) is not None:  # in memory: never suspends
            return await self.store.admit(self.window, pending=pending)
        # Over I/O: a caller cancelled while the answer is on its way must not keep a place
        # the store granted meanwhile (a pending one would hold it until it expires).
        call = asyncio.ensure_future(self.store.admit(self.window, pending=pending))
        try:
            return await asyncio.shield(call)
        except asyncio.CancelledError:
            call.add_done_callback(self._give_back_late_grant)
            raise

    def _give_back_late_grant(self, call: asyncio.Future[Decision]) -> None:
        if call.cancelled() or call.exception() is not None:
            return
        decision = call.result()
        if decision.admitted and decision.token is not None:
            self._background(self.store.release(self.window, decision.token), poke=True)

    def _leave(self, turn: asyncio.Future[None]) -> None:
        queue = self._queue
        was_head = bool(queue) and queue[0] is turn
        try:
            queue.remove(turn)
        except ValueError:
            pass
        if not turn.done():
            turn.cancel()
        if was_head:
            while queue and queue[0].done():  # cancelled waiters not yet removed
                queue.popleft()
            if queue:
                queue[0].set_result(None)

    def _settle(self, token: str, happened: bool) -> None:
        store = self.store
        at = store.clock() if happened else None
        settle_now = getattr(store, "settle", None)
        if settle_now is not None:  # the memory store: no I/O, any thread
            if settle_now(self.window, token, at, happened):
                self._poke()
            return
        coro = store.started(self.window, token, at) if happened else store.release(
            self.window, token
        )
        self._background(coro, poke=not happened)

    def _poke(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._wake_head()
        else:
            try:
                loop.call_soon_threadsafe(self._wake_head)
            except RuntimeError:  # closed meanwhile
                pass

    def _wake_head(self) -> None:
        self._poked = True
        if self._wake is not None:
            _wake_up(self._wake)

    def _background(self, coro: Any, poke: bool = False) -> None:
        """Run a store call on this limiter's loop without making the caller wait for it."""
        loop = self._loop
        if loop is None or loop.is_closed():
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                coro.close()
                return

        async def run() -> None:
            try:
                await coro
            except Exception as e:  # store down: a pending start expires on its own
                _logger.debug("Rate-limit store call failed: %s", type(e).__name__)
            else:
                if poke:
                    self._wake_head()

        def spawn() -> None:
            task = loop.create_task(run())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            spawn()
        else:
            try:
                loop.call_soon_threadsafe(spawn)
            except RuntimeError:
                coro.close()

    def _timeout_error(self, timeout: float | None) -> AdmissionTimeout:
        return AdmissionTimeout(
            f"No rate-limit slot for {redact_url(self.scope)!r} ({self.calls} calls per "
            f"{self.period:g} s) within "
            f"{timeout or 0:g} s; allow a longer request timeout or send fewer requests."
        )
