"""A leaky bucket for limits that replenish continuously, weighted per acquisition.

Providers state some limits as a rate that refills continuously (requests or *tokens* per
minute): there, aiolimiter's leaky bucket is the right model, with the acquisition's weight
being its token count. (For a server that counts in fixed windows it is not: a full bucket
plus the leak lets nearly ``2 x calls`` into one window; the sliding window is for those.)

aiolimiter binds each bucket to one event loop and is not thread-safe, so a
:class:`TokenBudget` keeps one bucket per loop: each loop gets the whole rate. Use one loop
per budget, or divide the rate, when that matters.
"""

from __future__ import annotations

import asyncio
import math
import weakref

from aiolimiter import AsyncLimiter

__all__ = ["TokenBudget"]


def _positive(name: str, value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"Invalid token budget {name}={value!r}: use a positive, finite number.")
    return float(value)


class TokenBudget:
    """At most ``rate`` units per ``period`` seconds, refilled continuously (capacity: ``rate``).

    ``await budget.acquire(weight)`` waits until ``weight`` units are free (e.g. a request's
    estimated tokens); ``budget.has_capacity(weight)`` asks without taking.
    """

    def __init__(self, rate: float, period: float = 60.0) -> None:
        self.rate = _positive("rate", rate)
        self.period = _positive("period", period)
        self._buckets: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncLimiter] = (
            weakref.WeakKeyDictionary()
        )

    def _bucket(self) -> AsyncLimiter:
        loop = asyncio.get_running_loop()
        bucket = self._buckets.get(loop)
        if bucket is None:
            bucket = self._buckets[loop] = AsyncLimiter(self.rate, self.period)
        return bucket

    def _weight(self, weight: object) -> float:
        amount = _positive("weight", weight)
        if amount > self.rate:
            raise ValueError(
                f"Invalid token budget weight={weight!r}: more than the whole budget of "
                f"{self.rate:g} per {self.period:g} s can never be granted."
            )
        return amount

    async def acquire(self, weight: float = 1.0, timeout: float | None = None) -> None:
        amount = self._weight(weight)
        if timeout is None:
            await self._bucket().acquire(amount)
        else:
            await asyncio.wait_for(self._bucket().acquire(amount), timeout)

    def has_capacity(self, weight: float = 1.0) -> bool:
        return self._bucket().has_capacity(self._weight(weight))

    def __repr__(self) -> str:
        return f"<TokenBudget {self.rate:g} per {self.period:g} s>"
