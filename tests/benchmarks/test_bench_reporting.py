"""Unit tests of the harness's arithmetic, bars, markdown and throttle section."""

from __future__ import annotations

import pytest

from benchmarks import bench_throttle
from benchmarks.common import Samples, in_flight, paired_ratio
from benchmarks.report import bars, render_markdown
from benchmarks.run import parse_args, rotated

MACHINE = {
    "cpu": "Test CPU", "cores": 2, "usable_cores": 2, "python": "3.11.7",
    "implementation": "CPython", "aiohttp": "3.9.0", "mlflow_aio": "0.1.0",
    "platform": "Linux", "load_average_at_start": [0.5, 0.4, 0.3],
}


def _samples(values: list[float], higher: bool) -> Samples:
    s = Samples("x", higher_is_better=higher)
    for v in values:
        s.add(v)
    return s


def test_samples_best_depends_on_direction() -> None:
    assert _samples([3.0, 1.0, 2.0], higher=False).best == 1.0
    assert _samples([3.0, 1.0, 2.0], higher=True).best == 3.0
    assert _samples([3.0, 1.0, 2.0], higher=True).median == 2.0


def test_paired_ratio_is_the_median_of_per_round_ratios() -> None:
    ours = _samples([110.0, 300.0, 120.0], higher=False)
    base = _samples([100.0, 100.0, 100.0], higher=False)
    assert paired_ratio(ours, base) == pytest.approx(1.2)


def test_rotation_changes_who_goes_first() -> None:
    names = ["a", "b", "c"]
    assert [rotated(names, r)[0] for r in range(4)] == ["a", "b", "c", "a"]
    assert sorted(rotated(names, 2)) == names


async def test_in_flight_stops_at_the_count_and_the_time_cap() -> None:
    calls = 0

    async def call() -> None:
        nonlocal calls
        calls += 1

    run = await in_flight(call, 25, 4, time_cap=10)
    assert run.count == calls == 25
    run = await in_flight(call, 10**9, 4, time_cap=0.05)
    assert 0 < run.count < 10**9


def test_strict_and_naive_minimum() -> None:
    assert bench_throttle.strict_minimum(200) == 3.0
    assert bench_throttle.naive_minimum(200) == 4.0
    assert bench_throttle.strict_minimum(50) == 0.0
    assert bench_throttle.strict_minimum(51) == 1.0


def test_max_in_any_window_covers_every_phase() -> None:
    # Two fixed windows [0,1) and [1,2) would each see 3, but [0.5, 1.5) holds 6.
    arrivals = [0.0, 0.1, 0.2, 0.5, 0.6, 0.7, 1.0, 1.1, 1.2, 1.5]
    assert bench_throttle.max_in_any_window(arrivals, 1.0) == 6
    assert bench_throttle.max_in_any_window([], 1.0) == 0
    assert bench_throttle.max_in_any_window([0.0, 1.0, 2.0], 1.0) == 1


def test_one_burst_runs_or_says_why_not() -> None:
    """A burst below the limit: skipped with a reason until predict_batch exists, then exact."""
    burst = bench_throttle.one_burst(10, concurrency=4)
    if "skipped" in burst:
        assert "predict_batch" in burst["skipped"]
        return
    assert burst["results"] == 10 and burst["errors"] == 0
    assert burst["rejections"] == 0 and burst["attempts_seen_by_server"] == 10


def test_one_burst_via_apredict_counts_what_the_server_saw() -> None:
    burst = bench_throttle.one_burst(12, concurrency=4, via="apredict")
    assert burst["api"] == "apredict"
    assert burst["results"] == 12 and burst["errors"] == 0
    assert burst["attempts_seen_by_server"] == 12 and burst["rejections"] == 0
    assert burst["max_in_any_window"] == 12


def _results(blocking_ratio: float, share64: float, growth: float, requests: int) -> dict:
    def client(best: float, ratio: float) -> dict:
        return {"unit": "x", "best": best, "median": best, "rounds": [best],
                "vs_bare": ratio, "vs_bare_paired": ratio}

    return {
        "started": "2026-01-01T00:00:00+00:00",
        "machine": MACHINE,
        "config": {"rounds": 1},
        "mlflow_peer": {"used": False},
        "sequential": {"requests": 10, "clients": {
            "bare aiohttp": client(400, 1.0),
            "blocking http_request": client(400 * blocking_ratio, blocking_ratio),
        }},
        "in_flight": {"requests": 10, "levels": [64], "clients": {
            "bare aiohttp": {"64": client(5000, 1.0)},
            "async twin (ahttp_request)": {"64": client(5000 * share64, share64)},
        }},
        "memory": {"rows": [{"client": "twin", "requests": requests, "concurrency": 64,
                             "baseline_mb": 40.0, "final_mb": 40.0 + growth,
                             "growth_mb": growth}]},
        "throttle": {"skipped": "not yet"},
    }


def test_bars_pass_and_fail_on_the_thresholds() -> None:
    good = {b["bar"]: b["passed"] for b in bars(_results(1.4, 0.9, 3.0, 100_000))}
    assert list(good.values()) == [True, True, True, None]
    bad = {b["bar"]: b["passed"] for b in bars(_results(1.6, 0.8, 25.0, 100_000))}
    assert list(bad.values()) == [False, False, False, None]
    short = bars(_results(1.4, 0.9, 3.0, 5_000))
    assert short[2]["passed"] is None  # fewer than 100,000 requests: not judged


def test_markdown_holds_the_machine_and_every_section() -> None:
    results = _results(1.4, 0.9, 3.0, 100_000)
    results["bars"] = bars(results)
    text = render_markdown(results)
    assert "Test CPU, 2 cores (2 usable), CPython 3.11.7, aiohttp 3.9.0" in text
    assert "| blocking http_request | 560 | 560 | 1.40x | 1.40x |" in text
    assert "| async twin (ahttp_request) | 4500 (4500) 90% |" in text
    assert "Skipped: not yet" in text
    assert "| twin | 100,000 | 64 | 40.0 | 43.0 | +3.0 |" in text


def test_arguments_have_quick_defaults_and_reject_nonsense() -> None:
    quick = parse_args(["--quick"])
    assert (quick.rounds, quick.requests, quick.sections) == (2, 200, "abcde")
    full = parse_args(["--sections", "a,d"])
    assert (full.rounds, full.requests, full.memory_requests, full.sections) == (
        5, 2000, 100_000, "ad")
    with pytest.raises(SystemExit):
        parse_args(["--sections", "xyz"])
    with pytest.raises(SystemExit):
        parse_args(["--concurrency", "0"])
