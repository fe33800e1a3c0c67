"""Traffic routes: a weighted split over destinations, then ordered fallbacks tried when a
destination fails before its first byte, with a short cooldown for a destination that keeps
failing. Time and randomness are injectable."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class Cooldowns:
    """Consecutive failures per destination; ``threshold`` in a row cools it for ``seconds``."""

    threshold: int = 3
    seconds: float = 5.0
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, int] = field(default_factory=dict)
    _until: dict[str, float] = field(default_factory=dict)

    def cooling(self, name: str) -> bool:
        until = self._until.get(name)
        if until is None:
            return False
        if self.clock() >= until:
            del self._until[name]
            return False
        return True

    def failed(self, name: str) -> None:
        count = self._failures.get(name, 0) + 1
        self._failures[name] = count
        if count >= self.threshold:
            self._until[name] = self.clock() + self.seconds
            self._failures[name] = 0

    def succeeded(self, name: str) -> None:
        self._failures.pop(name, None)
        self._until.pop(name, None)


@dataclass
class TrafficSplit(Generic[T]):
    """``weighted``: (name, target, percentage); ``fallbacks``: (name, target) in order."""

    weighted: Sequence[tuple[str, T, int]]
    fallbacks: Sequence[tuple[str, T]] = ()
    cooldowns: Cooldowns = field(default_factory=Cooldowns)
    rng: random.Random = field(default_factory=random.Random)

    def candidates(self) -> list[tuple[str, T]]:
        """The order to try this request in: one destination drawn by weight (among those not
        cooling down, if any), then the fallbacks; destinations cooling down go last."""
        weighted = [w for w in self.weighted if w[2] > 0]
        warm = [w for w in weighted if not self.cooldowns.cooling(w[0])]
        order: list[tuple[str, T]] = []
        later: list[tuple[str, T]] = []
        pool = warm or weighted
        if pool:
            pick = self.rng.choices(pool, weights=[w[2] for w in pool])[0]
            (order if warm else later).append((pick[0], pick[1]))
        seen = {name for name, _ in order + later}
        for name, target in self.fallbacks:
            if name in seen:
                continue
            seen.add(name)
            (later if self.cooldowns.cooling(name) else order).append((name, target))
        return order + later
