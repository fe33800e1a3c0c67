"""Kept importable: the one period parser lives in :mod:`async_core.limits.periods`."""

from async_core.limits.periods import (
    ACCEPTED_FORMS,
    UNIT_SECONDS,
    InvalidPeriodError,
    parse_period,
)

__all__ = ["ACCEPTED_FORMS", "UNIT_SECONDS", "InvalidPeriodError", "parse_period"]
