"""The default store: windows in this process's memory, shared by every thread and event loop.

Each call takes a lock for a few microseconds and never awaits, so limiters on any loop use one
window without a cross-thread hop. The clock is ``time.monotonic()`` unless ``now`` is given.
"""

from __future__ import annotations

import itertools
import math
import threading
import time

from async_core.limits.store import Decision, Window
from async_core.limits.window import PauseCell, SlidingWindow

__all__ = ["MemoryStore"]


class MemoryStore:
    kind = "memory"
    shared = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[str, SlidingWindow] = {}
        self._pauses: dict[str, PauseCell] = {}
        self._pending: dict[str, set[str]] = {}
        self._ids = itertools.count(1)

    def clock(self) -> float:
        return time.monotonic()

    def _window(self, window: Window) -> SlidingWindow:
        found = self._windows.get(window.key)
        if found is None:
            pause = self._pauses.setdefault(window.scope, PauseCell())
            found = SlidingWindow(window.calls, window.period, window.guard, pause)
            self._windows[window.key] = found
            self._pending[window.key] = set()
        return found

    def admit_now(self, window: Window, *, pending: bool = False, now: float | None = None):
        """:meth:`admit` without the coroutine, for callers that cannot await."""
        at = self.clock() if now is None else now
        with self._lock:
            sliding = self._window(window)
            free_at = sliding.next_start(at)
            admitted = free_at <= at
            token = None
            if admitted:
                if pending:
                    sliding.reserve()
                    token = f"p{next(self._ids)}"
                    self._pending[window.key].add(token)
                else:
                    sliding.record(at)
                    token = f"s{at!r}"
            starts = sliding.starts(at)
            used = len(starts) + sliding.pending
            if starts:
                reset = starts[0] + window.span - at
            else:
                reset = math.inf if sliding.pending else 0.0
        return Decision(
            admitted,
            0.0 if admitted else free_at - at,
            max(window.calls - used, 0),
            reset,
            token,
            at,
        )

    async def admit(
        self, window: Window, *, pending: bool = False, now: float | None = None
    ) -> Decision:
        return self.admit_now(window, pending=pending, now=now)

    def settle(self, window: Window, token: str, at: float | None, happened: bool) -> bool:
        """Date (``happened``) or withdraw a start; return whether a place may have freed."""
        with self._lock:
            sliding = self._windows.get(window.key)
            if sliding is None:
                return False
            if token.startswith("p"):
                tokens = self._pending[window.key]
                if token not in tokens:
                    return False
                tokens.discard(token)
                if happened:
                    sliding.confirm(self.clock() if at is None else at)
                else:
                    sliding.withdraw()
                return True
            if not happened:
                return sliding.give_back(float(token[1:]))
            return False

    async def started(self, window: Window, token: str, at: float | None = None) -> None:
        self.settle(window, token, at, True)

    async def release(self, window: Window, token: str) -> None:
        self.settle(window, token, None, False)

    async def pause(self, scope: str, seconds: float) -> None:
        with self._lock:
            self._pauses.setdefault(scope, PauseCell()).extend(self.clock() + seconds)

    async def ping(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"<MemoryStore windows={len(self._windows)}>"
