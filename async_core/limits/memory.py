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

_SWEEP_ABOVE = 4096  # windows kept before idle ones are swept


class MemoryStore:
    kind = "memory"
    shared = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[str, SlidingWindow] = {}
        self._pauses: dict[str, PauseCell] = {}
        self._pending: dict[str, set[str]] = {}
        self._orphans: dict[str, set[str]] = {}  # pending starts no longer counted (see below)
        self._ids = itertools.count(1)
        self._sweep_above = _SWEEP_ABOVE

    def clock(self) -> float:
        return time.monotonic()

    def _sweep(self, now: float) -> None:
        """Forget idle windows (no start in their span, none pending): a server partitioning by
        client address or API key would otherwise keep one per caller ever seen."""
        for key in [k for k, w in self._windows.items() if not w.pending and not w.starts(now)]:
            del self._windows[key]
            del self._pending[key]
            self._orphans.pop(key, None)
        self._sweep_above = max(_SWEEP_ABOVE, 2 * len(self._windows))

    def _window(self, window: Window, key: str | None = None) -> SlidingWindow:
        key = window.key if key is None else key
        found = self._windows.get(key)
        if found is None:
            pause = self._pauses.setdefault(window.scope, PauseCell())
            found = SlidingWindow(window.calls, window.period, window.guard, pause)
            self._windows[key] = found
            self._pending[key] = set()
        return found

    def admit_now(self, window: Window, *, pending: bool = False, now: float | None = None):
        """:meth:`admit` without the coroutine, for callers that cannot await."""
        at = self.clock() if now is None else now
        key = window.key
        with self._lock:
            if len(self._windows) > self._sweep_above:
                self._sweep(at)
            sliding = self._window(window, key)
            free_at = sliding.next_start(at)
            admitted = free_at <= at
            token = None
            if admitted:
                if pending:
                    sliding.reserve()
                    token = f"p{next(self._ids)}"
                    self._pending[key].add(token)
                else:
                    sliding.record(at)
                    token = f"s{at!r}"
            used, oldest = sliding.occupancy(at)
            if oldest is not None:
                reset = oldest + window.span - at
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
        key = window.key
        with self._lock:
            sliding = self._windows.get(key)
            if sliding is None:
                return False
            if token.startswith("p"):
                tokens = self._pending[key]
                if token not in tokens:
                    orphans = self._orphans.get(key)
                    if orphans is None or token not in orphans:
                        return False
                    orphans.discard(token)
                    if happened:  # a late word from an orphan: its start did happen
                        sliding.record(self.clock() if at is None else at)
                    return happened
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

    def orphan_pending(self, window: Window) -> None:
        """Stop counting ``window``'s pending starts: the loop that served their holders is gone
        (closed, or left behind in a parent process), so they may never settle. One that still
        reports ``started`` is recorded then."""
        with self._lock:
            sliding = self._windows.get(window.key)
            if sliding is not None:
                self._orphans.setdefault(window.key, set()).update(self._pending[window.key])
                self._pending[window.key].clear()
                sliding.forget_pending()

    def window_state(self, window: Window) -> SlidingWindow:
        """The live record of ``window`` (for tests and diagnostics)."""
        with self._lock:
            return self._window(window)

    def pause_now(self, scope: str, seconds: float) -> None:
        """:meth:`pause` without the coroutine: no I/O, any thread."""
        with self._lock:
            self._pauses.setdefault(scope, PauseCell()).extend(self.clock() + seconds)

    async def pause(self, scope: str, seconds: float) -> None:
        self.pause_now(scope, seconds)

    async def ping(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"<MemoryStore windows={len(self._windows)}>"
