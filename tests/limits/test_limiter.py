"""The per-loop limiter on each store: try_acquire answers at once, acquire waits (FIFO,
cancellable, bounded by its timeout), reserve/started/release, and the per-loop adapter."""

from __future__ import annotations

import asyncio
import threading

import pytest

from async_core.limits import (
    AdmissionTimeout,
    Limiter,
    LoopLocal,
    MemoryStore,
    TokenBudget,
    Window,
)
from async_core.limits.redis_store import RedisStore


@pytest.fixture(params=["memory", "redis"])
async def store(request, redis_uri):
    made = MemoryStore() if request.param == "memory" else RedisStore(redis_uri)
    yield made
    await made.aclose()


async def test_try_acquire_answers_at_once_with_the_wait(store) -> None:
    limiter = Limiter(store, Window("try", 2, 30.0))
    first, second, third = [await limiter.try_acquire() for _ in range(3)]
    assert first.admitted and second.admitted and not third.admitted
    assert (first.remaining, second.remaining, third.remaining) == (1, 0, 0)
    assert 29.0 < third.wait <= 30.0


async def test_acquire_waits_one_span_after_the_oldest_start(store) -> None:
    window = Window("wait", 2, 0.25, 0.05)
    limiter = Limiter(store, window)
    loop = asyncio.get_running_loop()
    began = loop.time()
    for _ in range(3):
        await limiter.acquire(timeout=5)
    assert loop.time() - began >= 0.3 - 0.01  # the third start waited for the first to leave


async def test_a_timeout_raises_and_consumes_nothing(store) -> None:
    limiter = Limiter(store, Window("timeout", 1, 30.0))
    await limiter.acquire()
    with pytest.raises(AdmissionTimeout, match="1 calls per 30 s"):
        await limiter.acquire(timeout=0.05)
    with pytest.raises(AdmissionTimeout):
        await limiter.acquire(timeout=0)
    with pytest.raises(ValueError, match="timeout=nan"):
        await limiter.acquire(timeout=float("nan"))


async def test_waiters_are_served_first_come_first_served(store) -> None:
    limiter = Limiter(store, Window("fifo", 1, 0.05, 0.0))
    order: list[int] = []

    async def take(i: int) -> None:
        await limiter.acquire(timeout=10)
        order.append(i)

    tasks = []
    for i in range(6):
        tasks.append(asyncio.create_task(take(i)))
        await asyncio.sleep(0)  # queue in this order
    await asyncio.gather(*tasks)
    assert order == list(range(6))


async def test_a_cancelled_waiter_gives_its_turn_to_the_next(store) -> None:
    limiter = Limiter(store, Window("cancel", 1, 0.2, 0.0))
    await limiter.acquire()
    doomed = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0.01)
    survivor = asyncio.create_task(limiter.acquire(timeout=5))
    await asyncio.sleep(0.01)
    doomed.cancel()
    await survivor  # served once the first start leaves, not stuck behind the cancelled one
    assert doomed.cancelled()


async def test_a_reserved_slot_holds_the_window_until_released(store) -> None:
    limiter = Limiter(store, Window("reserve", 1, 0.2, 0.0))
    slot = await limiter.reserve()
    assert not (await limiter.try_acquire()).admitted
    waiter = asyncio.create_task(limiter.acquire(timeout=5))
    await asyncio.sleep(0.05)
    assert not waiter.done()  # a pending start counts at every instant
    slot.release()  # never started: the place comes back at once
    await asyncio.wait_for(waiter, 1)
    dated = await Limiter(store, Window("reserve2", 1, 30.0)).reserve()
    dated.started()
    dated.release()  # after started(): a no-op, the start stays
    await asyncio.sleep(0.05)
    assert not (await Limiter(store, Window("reserve2", 1, 30.0)).try_acquire()).admitted


async def test_a_limiter_refuses_a_second_running_loop(store) -> None:
    limiter = Limiter(store, Window("loops", 5, 1.0))
    await limiter.acquire()
    errors: list[BaseException] = []

    def other() -> None:
        try:
            asyncio.run(limiter.acquire())
        except RuntimeError as e:
            errors.append(e)

    thread = threading.Thread(target=other)
    thread.start()
    thread.join(10)
    assert errors and "another running event loop" in str(errors[0])


async def test_loop_local_shares_one_window_across_loops_and_blocking_threads(store) -> None:
    shared = LoopLocal(store, Window("everyone", 6, 30.0))
    results: list[bool] = []

    def blocking() -> None:
        for _ in range(2):
            try:
                shared.acquire_blocking(timeout=0.05)
                results.append(True)
            except AdmissionTimeout:
                results.append(False)

    async def on_own_loop() -> None:
        for _ in range(2):
            results.append((await shared.try_acquire()).admitted)

    threads = [threading.Thread(target=blocking) for _ in range(2)]
    threads += [threading.Thread(target=asyncio.run, args=(on_own_loop(),)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for _ in range(2):
        results.append((await shared.try_acquire()).admitted)
    for thread in threads:
        thread.join(10)
    assert len(results) == 10 and sum(results) == 6


async def test_token_budget_is_a_weighted_leaky_bucket() -> None:
    budget = TokenBudget(1000, 60.0)
    await budget.acquire(600)
    assert budget.has_capacity(400) and not budget.has_capacity(401)
    with pytest.raises(asyncio.TimeoutError):
        await budget.acquire(500, timeout=0.05)  # refills at 1000/60 per second
    for bad in (0, -1, float("nan"), float("inf"), True, 1001):
        with pytest.raises(ValueError, match="Invalid token budget"):
            await budget.acquire(bad)
    with pytest.raises(ValueError, match="rate=inf"):
        TokenBudget(float("inf"))
