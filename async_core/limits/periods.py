"""The one parser of rate-limit renewal periods: ``"second"``, ``"minute"``, ``"5 minutes"``, ...

Both the gateway configuration (to validate a ``Limit``) and the throttle (to size its bucket) use
it, so a period the config accepts is always one the throttle understands.
"""

from __future__ import annotations

import re
from functools import lru_cache

UNIT_SECONDS: dict[str, int] = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}

_PERIOD = re.compile(r"^\s*(?:([0-9]{1,12})\s*)?(second|minute|hour|day)s?\s*$", re.IGNORECASE)
_MAX_CHARS = 64
#: The longest period a limiter accepts (366 days; checked by ``window.validate_limit``): longer
#: ones are typos, or values such as ``1e308`` that would stall every caller.
MAX_PERIOD_SECONDS = 366 * 86400

ACCEPTED_FORMS = "'second', 'minute', 'hour' or 'day', optionally with a count such as '5 minutes'"


class InvalidPeriodError(ValueError):
    """A renewal period the throttle cannot understand."""


def parse_period(period: str) -> float:
    """Return the length in seconds of a renewal period such as ``"minute"`` or ``"10 seconds"``."""
    if not isinstance(period, str):
        raise InvalidPeriodError(
            f"Invalid renewal period {period!r}: expected a string, one of {ACCEPTED_FORMS}."
        )
    return _parse(period)


@lru_cache(maxsize=256)
def _parse(period: str) -> float:
    match = _PERIOD.match(period) if len(period) <= _MAX_CHARS else None
    if match is None:
        raise InvalidPeriodError(f"Invalid renewal period {period!r}: use {ACCEPTED_FORMS}.")
    count = int(match.group(1)) if match.group(1) is not None else 1
    if count <= 0:
        raise InvalidPeriodError(
            f"Invalid renewal period {period!r}: the count must be at least 1."
        )
    return float(count * UNIT_SECONDS[match.group(2).lower()])


def period_words(seconds: float) -> tuple[int | float, str]:
    """The inverse of :func:`parse_period`, as a limit is worded ("5 per 10 minute"):
    ``(count, unit)`` in the largest unit that divides ``seconds`` (300 -> ``(5, "minute")``);
    a fraction of a second stays in seconds (0.5 -> ``(0.5, "second")``)."""
    for unit in ("day", "hour", "minute", "second"):
        size = UNIT_SECONDS[unit]
        if seconds >= size and seconds % size == 0:
            return int(seconds // size), unit
    return seconds, "second"
