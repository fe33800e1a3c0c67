"""``period_words``: the one inverse of the period parser, as limits are worded in refusals
("5 per 10 minute"); every worded period parses back to its length."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from async_core.limits.periods import UNIT_SECONDS, parse_period, period_words


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(1, (1, "second")), (59, (59, "second")), (60, (1, "minute")), (300, (5, "minute")),
     (7200, (2, "hour")), (90, (90, "second")), (86400 * 3, (3, "day")), (0.5, (0.5, "second"))],
)
def test_largest_dividing_unit(seconds, words):
    assert period_words(seconds) == words


@settings(max_examples=200, deadline=None)
@given(count=st.integers(min_value=1, max_value=10**6), unit=st.sampled_from(list(UNIT_SECONDS)))
def test_worded_periods_parse_back(count, unit):
    seconds = parse_period(f"{count} {unit}")
    worded_count, worded_unit = period_words(seconds)
    assert parse_period(f"{worded_count} {worded_unit}") == seconds
