"""RetryPolicy: backoff sequence, Retry-After parsing and which statuses are retried."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from email.utils import format_datetime

import pytest
from multidict import CIMultiDict

from async_core import RetryPolicy, parse_retry_after
from async_core.policy import DEFAULT_RETRY_STATUSES, RETRY_AFTER_STATUSES

NOW = 1_700_000_000.0  # a fixed wall-clock time for HTTP dates


class RecordingRng:
    """A deterministic rng: ``uniform(a, b)`` returns ``a + fraction * (b - a)`` and records."""

    def __init__(self, fraction: float = 0.5) -> None:
        self.fraction = fraction
        self.calls: list[tuple[float, float]] = []

    def uniform(self, a: float, b: float) -> float:
        self.calls.append((a, b))
        return a + self.fraction * (b - a)


def headers(**values: str) -> CIMultiDict:
    return CIMultiDict({k.replace("_", "-"): v for k, v in values.items()})


# --- backoff ---------------------------------------------------------------------------------
def test_defaults_are_mlflows():
    policy = RetryPolicy()
    assert (policy.max_retries, policy.backoff_factor, policy.backoff_jitter) == (7, 2.0, 1.0)
    assert policy.backoff_max == 120.0
    assert policy.attempts == 8
    assert {408, 429, 500, 502, 503, 504} == DEFAULT_RETRY_STATUSES
    assert {413, 429, 503} <= RETRY_AFTER_STATUSES


def test_backoff_sequence_without_jitter():
    policy = RetryPolicy(backoff_factor=1.5, backoff_jitter=0)
    # urllib3: the first retry is immediate, then factor * 2 ** (failures - 1).
    assert [policy.backoff(n) for n in range(1, 7)] == [0.0, 3.0, 6.0, 12.0, 24.0, 48.0]


def test_backoff_adds_uniform_jitter_from_the_injected_rng():
    rng = RecordingRng(fraction=0.25)
    policy = RetryPolicy(backoff_factor=1, backoff_jitter=2.0, rng=rng)
    waits = [policy.backoff(n) for n in range(1, 5)]
    assert waits == [0.0, 2.0 + 0.5, 4.0 + 0.5, 8.0 + 0.5]
    # No jitter is drawn for the immediate first retry; each later one draws uniform(0, jitter).
    assert rng.calls == [(0, 2.0)] * 3


def test_backoff_is_capped_at_120_seconds_including_jitter():
    rng = RecordingRng(fraction=1.0)
    policy = RetryPolicy(backoff_factor=10, backoff_jitter=5.0, rng=rng)
    assert policy.backoff(4) == 80.0 + 5.0
    assert policy.backoff(5) == 120.0  # 160 + 5, capped
    assert policy.backoff(30) == 120.0


def test_zero_backoff_factor_means_no_waiting():
    policy = RetryPolicy(backoff_factor=0, backoff_jitter=0)
    assert {policy.backoff(n) for n in range(1, 10)} == {0.0}


def test_policy_is_immutable_and_accepts_lists_of_codes():
    policy = RetryPolicy(retry_statuses=[500, 502])
    assert policy.retry_statuses == frozenset({500, 502})
    assert hash(policy) == hash(RetryPolicy(retry_statuses=(502, 500)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.max_retries = 3  # type: ignore[misc]


# --- Retry-After parsing ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3", 3.0),
        ("  7 ", 7.0),
        ("0.25", 0.25),
        ("1.5", 1.5),
        ("0", None),  # zero: fall back to the backoff (urllib3 does not sleep on 0 either)
        ("-4", None),  # negative
        ("-0.5", None),
        ("soon", None),  # garbage
        ("", None),
        ("nan", None),
        ("inf", None),
        ("1e400", None),
    ],
)
def test_parse_retry_after_seconds(value, expected):
    assert parse_retry_after(value, NOW) == expected


def test_parse_retry_after_http_date_in_the_future():
    when = datetime.fromtimestamp(NOW + 42, tz=timezone.utc)
    assert parse_retry_after(format_datetime(when, usegmt=True), NOW) == pytest.approx(42.0)
    # The obsolete "-0000" zone parses as a naive datetime; it still means UTC.
    assert parse_retry_after(format_datetime(when).replace("+0000", "-0000"), NOW) == (
        pytest.approx(42.0)
    )


def test_parse_retry_after_http_date_in_the_past_or_now_is_unusable():
    past = datetime.fromtimestamp(NOW - 30, tz=timezone.utc)
    assert parse_retry_after(format_datetime(past, usegmt=True), NOW) is None
    present = datetime.fromtimestamp(NOW, tz=timezone.utc)
    assert parse_retry_after(format_datetime(present, usegmt=True), NOW) is None


@pytest.mark.parametrize("value", ["Wed, 32 Foo 2024 99:99:99 GMT", "Mon, 1 Jan", "12:00"])
def test_parse_retry_after_bad_dates_are_unusable(value):
    assert parse_retry_after(value, NOW) is None


# --- which statuses are retried, and the wait ------------------------------------------------
@pytest.mark.parametrize("status", [413, 429, 503])
def test_retry_after_statuses_are_retried_when_they_carry_the_header(status):
    policy = RetryPolicy(retry_statuses=frozenset({500}))
    assert policy.is_retryable_status(status, headers(Retry_After="2"))
    # Case-insensitive header lookup, as aiohttp's headers are.
    assert policy.is_retryable_status(status, CIMultiDict({"retry-after": "2"}))
    assert not policy.is_retryable_status(status, headers())
    assert not policy.is_retryable_status(status, None)


def test_other_statuses_are_not_retried_because_of_retry_after():
    policy = RetryPolicy(retry_statuses=frozenset({500}))
    for status in (400, 404, 409, 502, 504):
        assert not policy.is_retryable_status(status, headers(Retry_After="2"))
    assert policy.is_retryable_status(500, headers())


def test_respect_retry_after_false_ignores_the_header_entirely():
    policy = RetryPolicy(
        respect_retry_after=False, retry_statuses=frozenset({503}), backoff_jitter=0,
        backoff_factor=1,
    )
    assert not policy.is_retryable_status(429, headers(Retry_After="2"))
    assert policy.is_retryable_status(503, headers(Retry_After="2"))
    assert policy.retry_after(503, headers(Retry_After="30"), NOW) is None
    assert policy.wait(2, 503, headers(Retry_After="30"), NOW) == (2.0, False)


def test_retry_after_wins_over_backoff_only_on_its_statuses():
    policy = RetryPolicy(backoff_factor=1, backoff_jitter=0)
    assert policy.wait(1, 503, headers(Retry_After="9"), NOW) == (9.0, True)
    assert policy.wait(3, 429, headers(Retry_After="0.5"), NOW) == (0.5, True)
    # 500 is retried, but Retry-After only applies to 413/429/503.
    assert policy.wait(3, 500, headers(Retry_After="9"), NOW) == (4.0, False)
    # Unusable values fall back to the backoff.
    for bad in ("0", "-1", "garbage"):
        assert policy.wait(3, 503, headers(Retry_After=bad), NOW) == (4.0, False)
    # Exceptions have no status: plain backoff.
    assert policy.wait(2, None, None, NOW) == (2.0, False)


def test_retry_after_http_date_uses_the_given_wall_clock():
    policy = RetryPolicy()
    when = format_datetime(datetime.fromtimestamp(NOW + 5, tz=timezone.utc), usegmt=True)
    wait, dictated = policy.wait(1, 429, headers(Retry_After=when), NOW)
    assert dictated and wait == pytest.approx(5.0)


def test_retry_after_is_not_capped_by_backoff_max():
    # urllib3 sleeps for whatever the server asks; only the total deadline bounds it.
    policy = RetryPolicy()
    assert policy.wait(1, 503, headers(Retry_After="600"), NOW) == (600.0, True)
