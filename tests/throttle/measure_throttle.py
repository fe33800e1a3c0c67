"""Measure the throttle (and aiolimiter's bucket, for comparison) against a fixed-window server.

Run from the project root:  .venv/bin/python -m tests.throttle.measure_throttle
Takes about a minute and a half. The server runs in its own process and opens its window at the
first hit (as an in-memory fixed-window limiter does). Per scenario: 429s, the most arrivals in
ANY interval of one period (the sliding count, so every window phase is covered), the makespan
of the burst against the strict minimum, and the sustained rate as a share of the limit.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import threading
import time
from collections.abc import Awaitable, Callable

from aiolimiter import AsyncLimiter

from async_core.throttle import Admission, Throttle

from .helpers import (
    FixedWindowServer,
    LoopThread,
    blocking_call,
    burst,
    max_in_any_window,
)

CALLS, PERIOD = 50, 1.0


def strict_minimum(n: int, calls: int, period: float) -> float:
    """Start ``n`` of a burst cannot come before ``(ceil(n / calls) - 1)`` periods have passed."""
    return (math.ceil(n / calls) - 1) * period


def sustained_share(arrivals: list[float]) -> float:
    """Least-squares rate of arrivals (index against time) as a share of the limit."""
    slope = statistics.linear_regression(arrivals, range(len(arrivals))).slope
    return slope / (CALLS / PERIOD)


def report(name: str, server: FixedWindowServer, n: int) -> dict[str, float]:
    arrivals = sorted(server.arrivals)
    span = arrivals[-1] - arrivals[0]
    figures = {
        "rejected": server.rejected,
        "max_window": max_in_any_window(arrivals, PERIOD),
        "makespan": span,
        "ratio": span / strict_minimum(n, CALLS, PERIOD),
        "sustained": sustained_share(arrivals),
    }
    print(
        f"{name:40s} n={n} 429s={server.rejected:2d} "
        f"max-in-any-window={figures['max_window']:3d}/{CALLS} "
        f"makespan={span:.3f}s (strict min {strict_minimum(n, CALLS, PERIOD):.0f}s, "
        f"x{figures['ratio']:.3f}) sustained={figures['sustained']:.1%}",
        flush=True,
    )
    return figures


def taker(adm: Admission, reserve: bool) -> Callable[[], Awaitable[object]]:
    return adm.reserve if reserve else adm.acquire


def throttle_burst(n: int, reserve: bool, anchor: str = "first-hit") -> dict[str, float]:
    owner, server = LoopThread("owner"), FixedWindowServer(CALLS, PERIOD, anchor)
    try:
        adm = Throttle(lambda: owner.loop).admission("measure", CALLS, PERIOD)
        owner.run(burst(server.url, n, taker(adm, reserve)), timeout=60)
        how = "reserve+started" if reserve else "acquire"
        return report(f"throttle {how}, guard {adm.guard * 1000:.0f}ms", server, n)
    finally:
        server.close()
        owner.close()


def mixed_callers(per_group: int, reserve: bool) -> dict[str, float]:
    """The owner loop, 2 other event loops and 2 blocking threads share one limit."""
    owner, server = LoopThread("owner"), FixedWindowServer(CALLS, PERIOD, "first-hit")
    adm = Throttle(lambda: owner.loop).admission("measure", CALLS, PERIOD)
    try:

        def blocking(tag: str) -> None:
            for _ in range(per_group):
                blocking_call(adm, server, tag, reserve)

        def other_loop(tag: str) -> None:
            asyncio.run(burst(server.url, per_group, taker(adm, reserve), tag))

        threads = [threading.Thread(target=blocking, args=(f"thread-{i}",)) for i in (1, 2)]
        threads += [threading.Thread(target=other_loop, args=(f"loop-{i}",)) for i in (1, 2)]
        for thread in threads:
            thread.start()
        owner.run(burst(server.url, per_group, taker(adm, reserve)), timeout=60)
        for thread in threads:
            thread.join(60)
        how = "reserve+started" if reserve else "acquire"
        return report(f"5 kinds of callers, {how}", server, 5 * per_group)
    finally:
        server.close()
        owner.close()


def aiolimiter_burst(n: int, capacity: float, rate: float, label: str) -> dict[str, float]:
    owner, server = LoopThread("owner"), FixedWindowServer(CALLS, PERIOD, "first-hit")
    try:

        async def run() -> None:
            limiter = AsyncLimiter(capacity, capacity / rate)
            await burst(server.url, n, limiter.acquire)

        owner.run(run(), timeout=60)
        return report(label, server, n)
    finally:
        server.close()
        owner.close()


def main(repeats: int = 5) -> None:
    runs: dict[str, list[dict[str, float]]] = {}
    for _ in range(repeats):
        runs.setdefault("acquire", []).append(throttle_burst(200, reserve=False))
        runs.setdefault("reserve", []).append(throttle_burst(200, reserve=True))
    throttle_burst(400, reserve=True)
    for _ in range(2):
        mixed_callers(40, reserve=False)
        mixed_callers(40, reserve=True)
    aiolimiter_burst(200, CALLS, CALLS / PERIOD, "aiolimiter AsyncLimiter(50, 1)")
    # The best bucket that cannot trip the window at >= 95% throughput: c + r * period <= calls.
    aiolimiter_burst(200, 2, 48, "aiolimiter capacity 2 at 48/s")
    for how, figures in runs.items():
        print(
            f"burst 200, {how}: worst window {max(f['max_window'] for f in figures)}/{CALLS}, "
            f"429s {sum(f['rejected'] for f in figures)} in {len(figures)} runs, makespan ratio "
            f"{min(f['ratio'] for f in figures):.3f}-{max(f['ratio'] for f in figures):.3f}, "
            f"sustained {min(f['sustained'] for f in figures):.1%}"
            f"-{max(f['sustained'] for f in figures):.1%}"
        )


if __name__ == "__main__":
    started = time.monotonic()
    main()
    print(f"({time.monotonic() - started:.0f} s)")
