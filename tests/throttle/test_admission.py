"""Admission semantics across the owner loop, other event loops and threads (short real waits)."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import Callable

import pytest

from async_core.periods import InvalidPeriodError
from async_core.runner import get_runner
from async_core.throttle import (
    Admission,
    AdmissionTimeout,
    Slot,
    Throttle,
    _Ticket,
    get_throttle,
)

from .helpers import LoopThread

Make = Callable[..., Throttle]


def state(owner: LoopThread, adm: Admission) -> tuple[list[float], int, int]:
    """(recorded starts, pending starts, waiting callers), read on the owner loop."""

    async def read() -> tuple[list[float], int, int]:
        now = asyncio.get_running_loop().time()
        return adm._window.starts(now), adm._window.pending, adm.waiting

    return owner.run(read())


# ------------------------------------------------------------------------------ registry


def test_the_same_limit_of_the_same_scope_is_one_limiter(throttle: Throttle) -> None:
    adm = throttle.admission("https://gw/endpoints/chat", 50, "second")
    assert throttle.admission("https://gw/endpoints/chat", 50, "1 second") is adm
    assert throttle.admission("https://gw/endpoints/chat", 50, 1) is adm
    assert throttle.admission("https://gw/endpoints/chat", 50, 1.0) is adm
    assert throttle.admission("https://gw/endpoints/chat", 60, "second") is not adm
    assert throttle.admission("https://gw/endpoints/chat", 50, "minute") is not adm
    assert throttle.admission("https://gw/endpoints/other", 50, "second") is not adm
    assert (adm.scope, adm.calls, adm.period, adm.guard) == (
        "https://gw/endpoints/chat",
        50,
        1.0,
        0.04,
    )
    assert throttle.admission("s", 10, "5 minutes").period == 300.0


def test_bad_arguments_are_refused_with_the_value_and_the_fix(throttle: Throttle) -> None:
    with pytest.raises(InvalidPeriodError, match="'fortnight'"):
        throttle.admission("s", 5, "fortnight")
    with pytest.raises(ValueError, match="calls=0"):
        throttle.admission("s", 0, "second")
    with pytest.raises(ValueError, match="period=-1"):
        throttle.admission("s", 5, -1)
    with pytest.raises(ValueError, match="scope=''"):
        throttle.admission("", 5, "second")
    with pytest.raises(ValueError, match="scope=None"):
        throttle.admission(None, 5, "second")  # type: ignore[arg-type]
    adm = throttle.admission("s", 5, "second")
    for bad in (-1, float("nan"), float("inf"), True, "3"):
        with pytest.raises(ValueError, match="Invalid pause"):
            adm.pause(bad)  # type: ignore[arg-type]


async def test_bad_timeout_is_refused(throttle: Throttle) -> None:
    adm = throttle.admission("s", 5, "second")
    with pytest.raises(ValueError, match="timeout=nan"):
        await adm.acquire(float("nan"))
    with pytest.raises(ValueError, match="timeout='1'"):
        adm.acquire_blocking("1")  # type: ignore[arg-type]


def test_secrets_in_a_scope_stay_out_of_reprs_and_errors(owner: LoopThread, make: Make) -> None:
    throttle = make(guard=0.0)
    adm = throttle.admission("https://user:s3cr3t@gw/ep?api_key=k3y", 1, 60)
    adm.acquire_blocking()
    with pytest.raises(AdmissionTimeout) as info:
        adm.acquire_blocking(timeout=0)
    for text in (repr(adm), str(info.value), repr(throttle)):
        assert "s3cr3t" not in text and "k3y" not in text
    assert "gw/ep" in str(info.value) and "1 calls per 60 s" in str(info.value)


@pytest.fixture
def make(make_throttle: Make) -> Make:
    return make_throttle


def test_get_throttle_is_one_registry_owned_by_the_background_runner() -> None:
    throttle = get_throttle()
    assert get_throttle() is throttle
    adm = throttle.admission("tests/throttle: runner-owned", 3, "second")
    adm.acquire_blocking(timeout=5)
    assert throttle._owner() is get_runner().loop
    assert adm._loop is get_runner().loop


# ------------------------------------------------------------------------------ FIFO


def test_waiters_on_the_owner_loop_are_served_first_come_first_served(
    owner: LoopThread, make: Make
) -> None:
    adm = make(guard=0.005).admission("fifo", 1, 0.03)

    async def run() -> list[int]:
        order: list[int] = []

        async def one(i: int) -> None:
            await adm.acquire()
            order.append(i)

        tasks = [asyncio.create_task(one(i)) for i in range(6)]
        await asyncio.gather(*tasks)
        return order

    assert owner.run(run()) == list(range(6))


async def test_waiters_on_another_loop_are_served_first_come_first_served(make: Make) -> None:
    adm = make(guard=0.005).admission("fifo", 1, 0.03)
    order: list[int] = []

    async def one(i: int) -> None:
        await adm.acquire()
        order.append(i)

    await asyncio.gather(*(one(i) for i in range(6)))
    assert order == list(range(6))


# ------------------------------------------------------------------------------ cancellation


async def test_a_cancelled_waiter_gives_its_place_back(owner: LoopThread, make: Make) -> None:
    # 1 call per 0.25 s (+0.01 guard): A starts, B and C queue, B is cancelled. C must start
    # one span after A; had B kept its place, C would start two spans after A.
    adm = make(guard=0.01).admission("cancel", 1, 0.25)
    await adm.acquire()
    a_started = time.monotonic()
    b = asyncio.create_task(adm.acquire())
    await asyncio.sleep(0.02)
    c = asyncio.create_task(adm.acquire())
    await asyncio.sleep(0.02)
    assert state(owner, adm)[2] == 2
    b.cancel()
    with pytest.raises(asyncio.CancelledError):
        await b
    await c
    assert time.monotonic() - a_started < 0.26 * 1.85
    starts, pending, waiting = state(owner, adm)
    assert (len(starts), pending, waiting) == (1, 0, 0)  # C only (A has left the window)


def test_a_cancelled_waiter_on_the_owner_loop_gives_its_place_back(
    owner: LoopThread, make: Make
) -> None:
    adm = make(guard=0.01).admission("cancel", 1, 0.25)

    async def run() -> tuple[float, list[float]]:
        loop = asyncio.get_running_loop()
        await adm.acquire()
        a_started = loop.time()
        b = asyncio.create_task(adm.acquire())
        c = asyncio.create_task(adm.acquire())
        await asyncio.sleep(0.02)
        b.cancel()
        await asyncio.gather(b, return_exceptions=True)
        await c
        return loop.time() - a_started, adm._window.starts(loop.time())

    waited, starts = owner.run(run())
    assert 0.26 <= waited < 0.26 * 1.85
    assert len(starts) == 1


def test_cancelled_after_the_grant_but_before_resuming_is_not_a_start(
    owner: LoopThread, make: Make
) -> None:
    adm = make(guard=0.0).admission("race", 1, 60)

    async def run() -> tuple[list[float], int]:
        loop = asyncio.get_running_loop()
        first = await adm._acquire_here(None, False)
        second = asyncio.create_task(adm.acquire())
        await asyncio.sleep(0)  # `second` is queued
        adm._give_back(first)  # frees the window: `second` is granted right here...
        assert adm._waiters == type(adm._waiters)()
        second.cancel()  # ...and cancelled before it could run
        with pytest.raises(asyncio.CancelledError):
            await second
        return adm._window.starts(loop.time()), adm.waiting

    assert owner.run(run()) == ([], 0)


def test_a_grant_that_reaches_an_abandoned_remote_caller_is_given_back(
    owner: LoopThread, make: Make
) -> None:
    adm = make(guard=0.0).admission("race", 2, 60)

    async def run() -> list[float]:
        ticket = _Ticket()
        await adm._serve(ticket, None, False)  # granted and handed over...
        adm._abandon_here(ticket)  # ...but the caller had given up meanwhile
        late = _Ticket()
        late.abandoned = True  # abandoned before the owner even started
        with pytest.raises(asyncio.CancelledError):
            await adm._serve(late, None, False)
        return adm._window.starts(asyncio.get_running_loop().time())

    assert owner.run(run()) == []


async def test_cancelling_on_the_owner_side_cancels_the_remote_caller(
    owner: LoopThread, make: Make
) -> None:
    adm = make(guard=0.0).admission("shutdown", 1, 60)
    await adm.acquire()
    waiter = asyncio.create_task(adm.acquire())
    await asyncio.sleep(0.05)

    async def cancel_all() -> None:  # what a runner shutdown does
        me = asyncio.current_task()
        for task in asyncio.all_tasks():
            if task is not me:
                task.cancel()

    owner.run(cancel_all())
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(waiter, 5)
    assert state(owner, adm)[2] == 0


# ------------------------------------------------------------------------------ timeouts


async def test_a_timed_out_waiter_raises_and_gives_its_place_back(
    owner: LoopThread, make: Make
) -> None:
    adm = make(guard=0.01).admission("timeout", 1, 0.25)
    await adm.acquire()
    started = time.monotonic()
    with pytest.raises(AdmissionTimeout) as info:
        await adm.acquire(timeout=0.05)
    assert isinstance(info.value, asyncio.TimeoutError)
    assert "'timeout' (1 calls per 0.25 s) within 0.05 s" in str(info.value)
    await adm.acquire()  # the next caller is not delayed by the timed-out one
    assert time.monotonic() - started < 0.26 * 1.85
    starts, _, waiting = state(owner, adm)
    assert len(starts) == 1 and waiting == 0  # the first start has left the window


async def test_a_blocking_waiter_times_out_the_same_way(owner: LoopThread, make: Make) -> None:
    adm = make(guard=0.0).admission("timeout", 1, 60)
    adm.acquire_blocking()
    with pytest.raises(AdmissionTimeout):
        await asyncio.to_thread(adm.acquire_blocking, 0.05)
    assert len(state(owner, adm)[0]) == 1


@pytest.mark.parametrize("timeout", [0, -1.0])
async def test_no_time_left_means_now_or_never(
    owner: LoopThread, make: Make, timeout: float
) -> None:
    adm = make(guard=0.0).admission("timeout", 1, 60)
    await adm.acquire(timeout=timeout)  # free: admitted at once
    with pytest.raises(AdmissionTimeout):
        await adm.acquire(timeout=timeout)
    assert len(state(owner, adm)[0]) == 1


# ------------------------------------------------------------------------------ 429 feedback


def test_pause_holds_back_every_caller_of_the_scope(owner: LoopThread, make: Make) -> None:
    throttle = make(guard=0.0)
    adm = throttle.admission("https://gw/ep", 100, 1)
    same_scope_other_limit = throttle.admission("https://gw/ep", 7, 60)
    other_scope = throttle.admission("https://gw/other", 100, 1)
    adm.acquire_blocking()
    grants: dict[str, float] = {}

    def note(name: str) -> None:
        grants[name] = time.monotonic()

    async def on_loop(target: Admission, name: str) -> None:
        await target.acquire()
        note(name)

    def blocking(name: str) -> None:
        adm.acquire_blocking()
        note(name)

    paused_at = time.monotonic()
    adm.pause(0.3)  # from this (non-owner) thread, as a 429 handler elsewhere would
    threads = [
        threading.Thread(target=blocking, args=("thread",)),
        threading.Thread(target=lambda: asyncio.run(on_loop(adm, "other loop"))),
        threading.Thread(target=lambda: asyncio.run(on_loop(other_scope, "other scope"))),
    ]
    for thread in threads:
        thread.start()
    owner.run(on_loop(adm, "owner loop"))
    owner.run(on_loop(same_scope_other_limit, "same scope, other limit"))
    for thread in threads:
        thread.join(10)
    for name in ("owner loop", "other loop", "thread", "same scope, other limit"):
        assert grants[name] >= paused_at + 0.3, name
    assert grants["other scope"] < paused_at + 0.3


async def test_a_pause_longer_than_the_deadline_fails_at_once(
    owner: LoopThread, make: Make
) -> None:
    adm = make(guard=0.0).admission("pause", 10, 1)
    adm.pause(5)
    started = time.monotonic()
    with pytest.raises(AdmissionTimeout):
        await adm.acquire(timeout=1)
    assert time.monotonic() - started < 0.5  # not after waiting out the deadline
    assert state(owner, adm)[:3:2] == ([], 0)


def test_pause_on_the_owner_loop_applies_at_once(owner: LoopThread, make: Make) -> None:
    adm = make(guard=0.0).admission("pause", 10, 1)

    async def run() -> float:
        loop = asyncio.get_running_loop()
        adm.pause(0.1)
        before = loop.time()
        await adm.acquire()
        return loop.time() - before

    assert owner.run(run()) >= 0.09


# ------------------------------------------------------------------------------ other forms


def test_a_blocking_call_on_the_owner_loop_is_refused(
    owner: LoopThread, throttle: Throttle
) -> None:
    adm = throttle.admission("deadlock", 1, 1)

    async def run() -> None:
        adm.acquire_blocking()

    with pytest.raises(RuntimeError, match="would deadlock"):
        owner.run(run())


async def test_context_managers_take_a_slot(owner: LoopThread, make: Make) -> None:
    adm = make(guard=0.0).admission("cm", 5, 60)
    async with adm:
        pass
    await asyncio.to_thread(lambda: adm.__enter__())
    with adm:
        pass
    assert len(state(owner, adm)[0]) == 3


async def test_a_reserved_slot_counts_from_when_it_started(owner: LoopThread, make: Make) -> None:
    adm = make(guard=0.0).admission("slot", 2, 60)
    slot = await adm.reserve()
    assert isinstance(slot, Slot)
    assert state(owner, adm)[:2] == ([], 1)
    before = time.monotonic()
    slot.started()
    slot.started()  # once only
    slot.release()  # after starting: nothing to give back
    starts, pending, _ = state(owner, adm)
    assert pending == 0 and len(starts) == 1 and starts[0] >= before


async def test_a_slot_released_before_it_started_is_given_back(
    owner: LoopThread, make: Make
) -> None:
    adm = make(guard=0.0).admission("slot", 1, 60)
    async with await adm.reserve():
        pass  # the request failed before anything was sent
    assert state(owner, adm)[:2] == ([], 0)
    with adm.reserve_blocking() as slot:
        slot.started()
    assert (len(state(owner, adm)[0]), state(owner, adm)[1]) == (1, 0)


async def test_a_pending_slot_holds_the_window_until_it_settles(
    owner: LoopThread, make: Make
) -> None:
    adm = make(guard=0.0).admission("slot", 1, 0.1)
    slot = await adm.reserve()
    waiter = asyncio.create_task(adm.acquire())
    await asyncio.sleep(0.3)  # far past the period: the pending slot still counts as "now"
    assert not waiter.done()
    slot.release()  # never sent: the waiter gets it at once
    await asyncio.wait_for(waiter, 1)


async def test_a_dropped_slot_counts_as_started(owner: LoopThread, make: Make) -> None:
    adm = make(guard=0.0).admission("slot", 3, 60)
    await adm.reserve()  # result dropped without started() or release()
    gc.collect()
    await asyncio.sleep(0.05)
    starts, pending, _ = state(owner, adm)
    assert (len(starts), pending) == (1, 0)


def test_a_closed_owner_loop_is_replaced_and_history_kept() -> None:
    loops = [LoopThread("first-owner")]
    throttle = Throttle(lambda: loops[-1].loop, guard=0.0)
    adm = throttle.admission("rebind", 2, 60)
    try:
        adm.acquire_blocking()
        loops[0].close()
        loops.append(LoopThread("second-owner"))
        adm.acquire_blocking()
        assert adm._loop is loops[1].loop
        with pytest.raises(AdmissionTimeout):
            adm.acquire_blocking(timeout=0)  # both starts still count
    finally:
        loops[-1].close()


def test_pending_slots_of_a_replaced_owner_loop_do_not_jam_the_new_one() -> None:
    loops = [LoopThread("first-owner")]
    throttle = Throttle(lambda: loops[-1].loop, guard=0.0)
    adm = throttle.admission("rebind", 1, 60)
    try:
        old_slot = adm.reserve_blocking()  # never settled under the first loop
        loops[0].close()
        loops.append(LoopThread("second-owner"))
        with adm.reserve_blocking(timeout=1) as slot:  # not blocked by the orphaned slot
            slot.started()
        old_slot.started()  # a late word from the old slot still counts as a start
        starts, pending, _ = state(loops[1], adm)
        assert (len(starts), pending) == (2, 0)
    finally:
        loops[-1].close()
