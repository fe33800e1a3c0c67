"""The pure sliding-window rules, driven by made-up times (no sleeping)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from async_core.limits.window import PauseCell, SlidingWindow, validate_limit
from async_core.throttle import default_guard

from .helpers import max_in_any_window


def greedy_schedule(window: SlidingWindow, n: int, arrive_at: float = 0.0) -> list[float]:
    """Start ``n`` requests that all want to go at ``arrive_at``, each as early as allowed."""
    starts, now = [], arrive_at
    for _ in range(n):
        now = window.next_start(now)
        assert window.try_start(now)
        starts.append(now)
    return starts


def test_burst_of_200_at_50_per_second_meets_the_strict_minimum_plus_guards() -> None:
    window = SlidingWindow(50, 1.0, guard=0.02)
    starts = greedy_schedule(window, 200)
    # Requests 1-50 at 0, 51-100 at 1.02, 101-150 at 2.04, 151-200 at 3.06.
    assert starts[:50] == [0.0] * 50
    assert starts[50:100] == [1.02] * 50
    assert starts[-1] == pytest.approx(3 * 1.02)
    strict_minimum = 3.0  # the 151st start cannot come before 3 periods have passed
    assert starts[-1] / strict_minimum == pytest.approx(1.02)
    assert max_in_any_window(starts, 1.0) == 50


def test_sustained_rate_is_period_over_period_plus_guard() -> None:
    window = SlidingWindow(10, 1.0, guard=0.02)
    starts = greedy_schedule(window, 1000)
    rate = (len(starts) - 10) / (starts[-1] - starts[0])
    assert rate / 10 == pytest.approx(1 / 1.02)
    assert rate / 10 >= 0.95
    assert max_in_any_window(starts, 1.0) == 10


def test_a_full_window_reopens_exactly_one_span_after_its_oldest_start() -> None:
    window = SlidingWindow(2, 1.0, guard=0.25)
    assert window.try_start(0.0) and window.try_start(0.5)
    assert not window.try_start(1.0)
    assert window.next_start(1.0) == 1.25  # 0.0 + period + guard
    assert not window.try_start(1.2)
    assert window.try_start(1.25)
    assert window.next_start(1.25) == 1.75


def test_spaced_starts_never_wait() -> None:
    window = SlidingWindow(3, 1.0)
    for now in (0.0, 0.4, 0.8, 1.2, 1.6, 2.0):
        assert window.next_start(now) == now
        assert window.try_start(now)


def test_a_given_back_start_frees_its_place() -> None:
    window = SlidingWindow(2, 1.0)
    window.record(0.0)
    window.record(0.5)
    assert window.next_start(0.6) == 1.0
    assert window.give_back(0.5)
    assert window.next_start(0.6) == 0.6
    assert not window.give_back(0.5)  # only once
    assert window.starts(0.6) == [0.0]


def test_giving_back_a_pruned_start_changes_nothing() -> None:
    window = SlidingWindow(1, 1.0)
    window.record(0.0)
    window.record(1.0)
    assert window.starts(1.5) == [1.0]
    assert not window.give_back(0.0)
    assert window.next_start(1.5) == 2.0


def test_pending_starts_count_as_now_until_confirmed() -> None:
    window = SlidingWindow(2, 1.0)
    window.reserve()
    window.reserve()
    assert window.pending == 2
    # Two pending starts fill the window, and never leave it by themselves.
    assert window.next_start(0.0) == math.inf
    assert window.next_start(5.0) == math.inf
    window.confirm(0.3)  # the first pending request went out at 0.3
    assert window.next_start(0.5) == 1.3  # the other pending one still counts as "now"
    window.withdraw()  # the second never went out
    assert window.pending == 0
    assert window.next_start(0.5) == 0.5
    assert window.starts(0.5) == [0.3]


def test_confirmed_starts_are_kept_in_time_order() -> None:
    window = SlidingWindow(3, 1.0)
    window.record(0.5)
    window.reserve()
    window.confirm(0.2)  # a request that went out before the last recorded one
    window.record(0.6)
    assert window.starts(0.7) == [0.2, 0.5, 0.6]
    assert window.next_start(0.7) == 1.2


def test_pause_delays_every_start_and_is_shared() -> None:
    cell = PauseCell()
    a, b = SlidingWindow(5, 1.0, pause=cell), SlidingWindow(100, 60.0, pause=cell)
    assert cell.extend(3.0)
    assert not cell.extend(2.0)  # never shortened
    assert a.next_start(1.0) == 3.0 and b.next_start(1.0) == 3.0
    assert not a.try_start(2.9)
    assert a.try_start(3.0)


@pytest.mark.parametrize(
    ("calls", "period", "message"),
    [
        (0, 1.0, "calls=0"),
        (-3, 1.0, "calls=-3"),
        (1.5, 1.0, "calls=1.5"),
        (True, 1.0, "calls=True"),
        ("50", 1.0, "calls='50'"),
        (5, 0, "period=0"),
        (5, -1.0, "period=-1.0"),
        (5, math.inf, "period=inf"),
        (5, math.nan, "period=nan"),
        (5, "1", "period='1'"),
    ],
)
def test_bad_limits_are_refused_with_the_value_and_the_fix(
    calls: object, period: object, message: str
) -> None:
    with pytest.raises(ValueError, match="Invalid rate limit") as info:
        validate_limit(calls, period)
    assert message in str(info.value)
    assert "use a positive" in str(info.value)


def test_bad_guard_is_refused() -> None:
    with pytest.raises(ValueError, match="guard=-0.1"):
        SlidingWindow(1, 1.0, guard=-0.1)


def test_default_guard_covers_jitter_and_stays_under_five_percent() -> None:
    assert default_guard(1.0) == 0.04
    assert default_guard(0.1) == 0.04
    assert default_guard(60.0) == 1.0
    assert default_guard(86400.0) == 1.0
    for period in (1.0, 2.0, 60.0, 3600.0):
        assert period / (period + default_guard(period)) >= 0.96


# Operations: ("start", dt) asks for a start dt after the previous step (admitted when allowed),
# ("reserve", dt) likewise for a pending start, ("confirm", k) / ("withdraw", k) settle a
# pending one, ("give_back", k) forgets a recorded one.
_ops = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(["start", "reserve"]), st.floats(0, 0.7)),
        st.tuples(st.sampled_from(["confirm", "withdraw", "give_back"]), st.integers(0, 50)),
    ),
    max_size=120,
)


@settings(max_examples=300, deadline=None)
@given(
    calls=st.integers(1, 6),
    period=st.sampled_from([0.25, 0.5, 1.0, 3.0]),
    guard=st.sampled_from([0.0, 0.01, 0.125]),
    ops=_ops,
)
def test_no_interval_of_one_period_ever_holds_more_than_calls_starts(
    calls: int, period: float, guard: float, ops: list[tuple[str, float]]
) -> None:
    window = SlidingWindow(calls, period, guard)
    now = 0.0
    happened: list[float] = []  # starts that really happened (recorded, or confirmed)
    pending = 0
    for op, arg in ops:
        if op in ("start", "reserve"):
            now += arg
            if window.next_start(now) <= now:
                if op == "start":
                    window.record(now)
                    happened.append(now)
                else:
                    window.reserve()
                    pending += 1
        elif op == "confirm" and pending:
            # A pending request goes out at some time between now and a little later.
            now += arg / 100
            window.confirm(now)
            happened.append(now)
            pending -= 1
        elif op == "withdraw" and pending:
            window.withdraw()
            pending -= 1
        elif op == "give_back" and happened:
            start = happened[arg % len(happened)]
            if window.give_back(start):
                happened.remove(start)
        # Whatever is still pending may go out right now: count it as such.
        assert max_in_any_window(happened + [now] * pending, period + guard) <= calls
