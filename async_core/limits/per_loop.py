"""The cross-loop and cross-thread adapter: one limit used from any event loop or thread.

A :class:`Limiter` serves one loop. :class:`LoopLocal` keeps one per loop over one store, so
tasks on a server's loop, user loops and the background runner's loop each admit on their own
loop (no cross-thread hop) while sharing the store's window. Blocking callers run the wait on
the background runner's loop, the same facade every blocking call goes through. It speaks the
engine's admission protocol (``reserve`` / ``Slot.started`` / ``release`` / ``pause``).
"""

from __future__ import annotations

import asyncio
import threading
import weakref

from async_core.limits.facade import SharedLimit
from async_core.limits.limiter import Limiter, LimitSlot, check_pause
from async_core.limits.store import Decision, Store, Window
from async_core.runner import get_runner

__all__ = ["LoopLocal"]


class LoopLocal(SharedLimit):
    """``window`` on ``store`` for every loop and thread of the process."""

    def __init__(self, store: Store, window: Window) -> None:
        self.store = store
        self.window = window
        self._limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Limiter] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    def limiter(self) -> Limiter:
        """The limiter of the running loop."""
        loop = asyncio.get_running_loop()
        found = self._limiters.get(loop)
        if found is None:
            with self._lock:
                found = self._limiters.get(loop)
                if found is None:
                    found = self._limiters[loop] = Limiter(self.store, self.window)
        return found

    async def acquire(self, timeout: float | None = None) -> None:
        await self.limiter().acquire(timeout)

    async def reserve(self, timeout: float | None = None) -> LimitSlot:
        return await self.limiter().reserve(timeout)

    async def try_acquire(self) -> Decision:
        return await self.limiter().try_acquire()

    def acquire_blocking(self, timeout: float | None = None) -> None:
        get_runner().run(self.acquire(timeout))

    def reserve_blocking(self, timeout: float | None = None) -> LimitSlot:
        return get_runner().run(self.reserve(timeout))

    def pause(self, seconds: float) -> None:
        seconds = check_pause(seconds)  # here, not later on another loop
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            get_runner().loop.call_soon_threadsafe(self._pause_here, seconds)
            return
        self._pause_here(seconds)

    def _pause_here(self, seconds: float) -> None:
        self.limiter().pause(seconds)

    def __repr__(self) -> str:
        return (
            f"<LoopLocal {self.store.kind} calls={self.calls} period={self.period:g}s "
            f"guard={self.guard:g}s>"
        )
