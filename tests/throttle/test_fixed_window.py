"""Real time against a loopback server that enforces a fixed window and records arrivals.

Requests take a reserved slot and report when their headers are on the wire (aiohttp's trace
signal; a blocking client says so just before writing on an open connection), which is how a
client should drive the throttle. Each test takes a few seconds.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest

from async_core.throttle import Throttle

from .helpers import FixedWindowServer, LoopThread, blocking_call, burst, max_in_any_window

ServerFactory = Callable[..., FixedWindowServer]


def sustained_share(arrivals: list[float], calls: int, period: float) -> float:
    """Least-squares rate of the arrivals (index against time) as a share of the limit."""
    slope = statistics.linear_regression(sorted(arrivals), range(len(arrivals))).slope
    return slope / (calls / period)


def test_a_burst_of_200_at_50_per_second_is_never_refused_and_runs_at_full_speed(
    owner: LoopThread, throttle: Throttle, fixed_window_server: ServerFactory
) -> None:
    calls, period, n = 50, 1.0, 200
    server = fixed_window_server(calls, period, anchor="first-hit")
    adm = throttle.admission(server.url, calls, "second")

    statuses = owner.run(burst(server.url, n, adm.reserve), timeout=30)

    assert statuses == [200] * n and server.rejected == 0
    arrivals = sorted(server.arrivals)
    assert max_in_any_window(arrivals, period) <= calls  # every window phase, not just one
    assert max_in_any_window(arrivals, period) == calls  # ...and the windows were used fully
    # Not before the strict minimum: start 151 cannot come before 3 periods have passed.
    # (Full speed, >= 95% sustained, is a benchmark figure: benchmarks/bench_throttle.py.)
    strict_minimum = (math.ceil(n / calls) - 1) * period
    assert arrivals[-1] - arrivals[0] >= strict_minimum


def test_the_owner_loop_other_loops_and_threads_share_one_limit(
    owner: LoopThread, throttle: Throttle, fixed_window_server: ServerFactory
) -> None:
    calls, period, each = 20, 0.5, 16
    server = fixed_window_server(calls, period, anchor="aligned")
    adm = throttle.admission(server.url, calls, period)
    statuses: dict[str, list[int]] = {}

    def blocking_thread(tag: str) -> None:  # a blocking client with the blocking throttle API
        statuses[tag] = [blocking_call(adm, server, tag, reserve=True) for _ in range(each)]

    def facade_thread(tag: str) -> None:  # blocking calls that run on the owner (runner) loop
        statuses[tag] = [owner.run(burst(server.url, 1, adm.reserve, tag))[0] for _ in range(each)]

    def loop_thread(tag: str) -> None:  # a user's own event loop
        statuses[tag] = asyncio.run(burst(server.url, each, adm.reserve, tag))

    threads = [
        threading.Thread(target=blocking_thread, args=("blocking",)),
        threading.Thread(target=facade_thread, args=("facade",)),
        threading.Thread(target=loop_thread, args=("loop-1",)),
        threading.Thread(target=loop_thread, args=("loop-2",)),
    ]
    for thread in threads:
        thread.start()
    statuses["owner"] = owner.run(burst(server.url, each, adm.reserve, "owner"), timeout=30)
    for thread in threads:
        thread.join(30)

    assert {tag: codes.count(200) for tag, codes in statuses.items()} == {
        "owner": each,
        "blocking": each,
        "facade": each,
        "loop-1": each,
        "loop-2": each,
    }
    assert server.rejected == 0
    assert max_in_any_window(server.arrivals, period) <= calls
    assert Counter(server.callers) == {tag: each for tag in statuses}


async def test_plain_acquisitions_from_every_kind_of_caller_never_exceed_the_window(
    owner: LoopThread, throttle: Throttle
) -> None:
    """``acquire()`` records a start when granted: its grants alone obey the sliding window."""
    calls, period, each = 10, 0.25, 12
    adm = throttle.admission("grants", calls, period)
    grants: list[float] = []
    lock = threading.Lock()

    def note() -> None:
        with lock:
            grants.append(time.monotonic())

    async def many() -> None:
        async def one() -> None:
            await adm.acquire()
            note()

        await asyncio.gather(*(one() for _ in range(each)))

    def blocking() -> None:
        for _ in range(each):
            adm.acquire_blocking()
            note()

    threads = [threading.Thread(target=blocking) for _ in range(2)]
    threads.append(threading.Thread(target=lambda: asyncio.run(many())))
    for thread in threads:
        thread.start()
    owner_side = asyncio.wrap_future(asyncio.run_coroutine_threadsafe(many(), owner.loop))
    await asyncio.gather(many(), owner_side)
    for thread in threads:
        await asyncio.to_thread(thread.join, 30)

    assert len(grants) == 5 * each
    # Measured after each caller resumed, so allow for that jitter: not one window too many.
    assert max_in_any_window(grants, period - adm.guard) <= calls


@pytest.mark.parametrize("anchor", ["aligned", "first-hit"])
def test_the_fixed_window_server_refuses_what_an_unthrottled_burst_sends(
    owner: LoopThread, fixed_window_server: ServerFactory, anchor: str
) -> None:
    """The test server does enforce its window (else the tests above would prove nothing)."""
    server = fixed_window_server(5, 1.0, anchor=anchor)

    async def take() -> None:
        return None

    statuses = owner.run(burst(server.url, 8, take))
    assert sorted(statuses) == [200] * 5 + [429] * 3
    assert server.rejected == 3
