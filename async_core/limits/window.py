"""Pure sliding-window admission logic for the throttle: no asyncio, no clock of its own.

Every method takes ``now`` from the caller, so the rules can be tested with made-up times and no
sleeping. The memory store (``async_core.limits.memory``) drives it under a lock with its clock.

The rule: a start at ``now`` is admitted only while fewer than ``calls`` starts lie in
``(now - span, now]``, where ``span = period + guard``. Hence any ``calls + 1`` starts span at
least ``span`` seconds, so no interval of length ``period`` (however a server aligns its fixed
window) ever holds more than ``calls`` of them, and ``guard`` seconds are left over to absorb the
jitter between the start recorded here and the arrival at the server.

A start is either recorded at a known time, or *pending*: granted, but its request is not on the
wire yet (a connection is still being opened). A pending start counts as happening at every
``now`` until it is confirmed with the time it really happened, or withdrawn.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

from async_core.limits.periods import MAX_PERIOD_SECONDS

__all__ = ["MAX_CALLS", "PauseCell", "SlidingWindow", "next_slot", "validate_limit"]

#: The most starts one window may count: every start is kept until it leaves the window.
MAX_CALLS = 1_000_000


def validate_limit(calls: object, period: object) -> tuple[int, float]:
    """Check a (calls, period seconds) pair; raise ``ValueError`` naming the value and the fix."""
    if isinstance(calls, bool) or not isinstance(calls, int) or not 1 <= calls <= MAX_CALLS:
        raise ValueError(
            f"Invalid rate limit calls={calls!r}: use a positive whole number of calls per "
            f"period, at most {MAX_CALLS}."
        )
    if (
        isinstance(period, bool)
        or not isinstance(period, (int, float))
        or not math.isfinite(period)
        or not 0 < period <= MAX_PERIOD_SECONDS
    ):
        raise ValueError(
            f"Invalid rate limit period={period!r}: use a positive, finite number of seconds "
            f"(at most {MAX_PERIOD_SECONDS}, 366 days) or a renewal period such as 'second' or "
            "'5 minutes'."
        )
    return calls, float(period)


def next_slot(
    starts: Sequence[float],
    pending: int,
    calls: int,
    span: float,
    now: float,
    pause_until: float = -math.inf,
    pending_frees: float = math.inf,
) -> float:
    """The earliest time ``>= now`` at which one more start fits: the window rule on its own.

    ``starts`` are the recorded starts still inside ``(now - span, now]``, sorted; ``pending``
    starts count as happening at every instant, so they free a place no sooner than
    ``pending_frees`` (``math.inf``: only their settling can; a shared store that cannot be
    told passes ``now + span``, the earliest a pending start confirmed now would leave).
    """
    # How many recorded starts must leave the window before one more fits.
    leave = len(starts) + pending - calls + 1
    if leave <= 0:
        at = now
    elif leave > len(starts):
        at = pending_frees
    else:
        at = starts[leave - 1] + span
    return max(at, pause_until, now)


class PauseCell:
    """The time before which no start is admitted; shared by every window of one scope."""

    __slots__ = ("until",)

    def __init__(self) -> None:
        self.until = -math.inf

    def extend(self, until: float) -> bool:
        """Push the pause out to ``until``; never shorten it. Return whether it moved."""
        if until > self.until:
            self.until = until
            return True
        return False


class SlidingWindow:
    """The starts of the last ``period + guard`` seconds, and when the next one may happen."""

    __slots__ = ("_pause", "_pending", "_span", "_starts", "calls", "guard", "period")

    def __init__(
        self, calls: int, period: float, guard: float = 0.0, pause: PauseCell | None = None
    ) -> None:
        self.calls, self.period = validate_limit(calls, period)
        if isinstance(guard, bool) or not math.isfinite(guard) or guard < 0:
            raise ValueError(f"Invalid throttle guard={guard!r}: use a non-negative number.")
        self.guard = float(guard)
        self._span = self.period + self.guard
        self._starts: list[float] = []  # sorted; pruned to those still inside the span
        self._pending = 0
        self._pause = pause if pause is not None else PauseCell()

    @property
    def pause(self) -> PauseCell:
        return self._pause

    @property
    def pending(self) -> int:
        return self._pending

    def _prune(self, now: float) -> None:
        starts, span = self._starts, self._span
        gone = 0
        while gone < len(starts) and starts[gone] + span <= now:  # same test as next_start's
            gone += 1
        if gone:
            del starts[:gone]

    def next_start(self, now: float) -> float:
        """The earliest time, ``>= now``, at which one more start would be admitted.

        ``math.inf`` means only a confirmation or a withdrawal can free a place.
        """
        self._prune(now)
        return next_slot(
            self._starts, self._pending, self.calls, self._span, now, self._pause.until
        )

    def try_start(self, now: float) -> bool:
        """Record a start at ``now`` if the window and the pause allow it."""
        if self.next_start(now) <= now:
            self.record(now)
            return True
        return False

    def record(self, at: float) -> None:
        """Record a start the caller has checked with :meth:`next_start`."""
        starts = self._starts
        if not starts or at >= starts[-1]:
            starts.append(at)
        else:
            bisect.insort(starts, at)

    def reserve(self) -> None:
        """Record a pending start the caller has checked with :meth:`next_start`."""
        self._pending += 1

    def confirm(self, at: float) -> None:
        """A pending start happened at ``at``."""
        self._pending -= 1
        self.record(at)

    def withdraw(self) -> None:
        """A pending start never happened."""
        self._pending -= 1

    def forget_pending(self) -> None:
        """Drop every pending start (their callers are gone with the loop that served them)."""
        self._pending = 0

    def give_back(self, start: float) -> bool:
        """Forget a recorded start that never happened (its caller was cancelled or timed out).

        Starts recorded at the same instant are interchangeable, so removing any equal one is
        right. A start already pruned no longer affects admission, so there is nothing to do.
        """
        try:
            self._starts.remove(start)
        except ValueError:
            return False
        return True

    def occupancy(self, now: float) -> tuple[int, float | None]:
        """How many starts count at ``now`` (pending included), and the oldest recorded one."""
        self._prune(now)
        starts = self._starts
        return len(starts) + self._pending, (starts[0] if starts else None)

    def starts(self, now: float) -> list[float]:
        """The recorded starts still counted at ``now`` (for tests and diagnostics)."""
        self._prune(now)
        return list(self._starts)

    def __repr__(self) -> str:
        return (
            f"SlidingWindow(calls={self.calls}, period={self.period}, guard={self.guard}, "
            f"recent={len(self._starts)}, pending={self._pending})"
        )
