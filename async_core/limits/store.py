"""Where a sliding window lives: the store interface every limiter admits through.

A store keeps, per :class:`Window`, the starts of the last ``period + guard`` seconds and a
pause per scope (a server's ``Retry-After``). :meth:`Store.admit` is ONE atomic step: prune,
count, decide and record, so any number of limiters (tasks, loops, processes, machines) sharing
a store never admit more than ``calls`` starts in any ``period + guard``.

A start may be *pending* (granted, its request not on the wire yet): it counts as happening at
every instant until :meth:`Store.started` dates it or :meth:`Store.release` withdraws it. A
pending start whose holder died is dropped after ``pending_ttl`` seconds (shared stores only).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from async_core.limits.window import validate_limit

__all__ = ["Decision", "Store", "StoreUnavailable", "Window", "default_guard"]


def default_guard(period: float) -> float:
    """Seconds added to each window, <= 1 s: 2% of the period, and at least 40 ms, because a
    server stamps a burst when it handles each request, which spreads the burst over tens of
    milliseconds on a busy machine (measured up to ~70 ms for 50 at once)."""
    return min(max(0.04, 0.02 * period), 1.0)


class StoreUnavailable(ConnectionError):
    """The store could not be reached (or answered too late); nothing was admitted."""


@dataclass(frozen=True, slots=True)
class Window:
    """One limit for one scope: at most ``calls`` starts in any ``period + guard`` seconds."""

    scope: str
    calls: int
    period: float
    guard: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.scope, str) or not self.scope:
            raise ValueError(
                f"Invalid limiter scope={self.scope!r}: use a non-empty string that names who "
                "shares the limit."
            )
        validate_limit(self.calls, self.period)
        guard = self.guard
        if isinstance(guard, bool) or not isinstance(guard, (int, float)) or not (
            math.isfinite(guard) and 0 <= guard <= 1.0
        ):
            raise ValueError(f"Invalid limiter guard={guard!r}: use 0 to 1 seconds.")

    @property
    def span(self) -> float:
        return self.period + self.guard

    @property
    def key(self) -> str:
        """The window's name in a shared store: every limit of a scope has its own window."""
        return f"{self.scope}|{self.calls}|{self.period:g}"


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to one admission.

    ``wait``: seconds until one more start could fit (0 when admitted). ``remaining``: starts
    left in the window after this decision. ``reset``: seconds until the oldest counted start
    leaves the window (a place frees). ``token``: names the admitted start for
    :meth:`Store.started` / :meth:`Store.release`. ``now``: the store's clock at the decision.
    """

    admitted: bool
    wait: float
    remaining: int
    reset: float
    token: str | None = None
    now: float = 0.0


@runtime_checkable
class Store(Protocol):
    """A window store. Every method may be awaited from any event loop of the process."""

    #: ``memory`` or ``redis``: shown in logs and warnings, never a URI (it may hold a password).
    kind: str
    #: True when other processes can share it.
    shared: bool

    async def admit(
        self, window: Window, *, pending: bool = False, now: float | None = None
    ) -> Decision:
        """Admit one start now if the window and the scope's pause allow it; never waits."""
        ...

    async def started(self, window: Window, token: str, at: float | None = None) -> None:
        """A pending start happened at ``at`` (store clock; default: now)."""
        ...

    async def release(self, window: Window, token: str) -> None:
        """Give back a start that never happened (pending or recorded)."""
        ...

    async def pause(self, scope: str, seconds: float) -> None:
        """No start of ``scope`` (under any of its limits) for ``seconds`` from now."""
        ...

    async def ping(self) -> None:
        """Raise :class:`StoreUnavailable` unless the store answers."""
        ...

    def clock(self) -> float:
        """The store's clock now, as well as this process can tell without asking."""
        ...

    async def aclose(self) -> None: ...
