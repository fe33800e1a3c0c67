"""Checks of rate-limit values on the client side: what a user passes to ``set_limit`` and what a
gateway advertises for an endpoint.

A user's bad value raises ``MlflowException(INVALID_PARAMETER_VALUE)`` naming it. A gateway's
bad value never breaks the client: the endpoint is returned with ``limit=None`` and one warning
is logged. Values are echoed bounded (type, size and a truncated repr), so a hostile server
cannot make a message huge.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping
from typing import Any

# The throttle's own bounds (one definition): a limit accepted here is one it can pace to.
from async_core.limits.periods import MAX_PERIOD_SECONDS
from async_core.limits.window import MAX_CALLS
from async_core.periods import InvalidPeriodError, parse_period
from mlflow.exceptions import INVALID_PARAMETER_VALUE, MlflowException
from mlflow.gateway.utils import describe_value

_logger = logging.getLogger("mlflow.deployments")


_warned: set[tuple[str, str, str]] = set()
_warned_lock = threading.Lock()


def _fields(limit: Any) -> tuple[Any, Any]:
    if isinstance(limit, Mapping):
        return limit.get("calls"), limit.get("renewal_period")
    return getattr(limit, "calls", None), getattr(limit, "renewal_period", None)


def limit_problem(limit: Any) -> str | None:
    """Why ``limit`` cannot be paced to, or None when it can. Checks values only; the shape
    (a Limit or a mapping) is checked by the caller."""
    calls, period = _fields(limit)
    if isinstance(calls, bool) or not isinstance(calls, int) or not 1 <= calls <= MAX_CALLS:
        return (
            f"calls={describe_value(calls)} is not a whole number of calls between 1 and "
            f"{MAX_CALLS}"
        )
    if isinstance(period, str):
        try:
            seconds = parse_period(period)
        except InvalidPeriodError:
            return (
                f"renewal_period={describe_value(period)} is not a period such as 'second', "
                "'minute', 'hour', 'day' or '5 minutes'"
            )
    elif isinstance(period, int | float) and not isinstance(period, bool):
        seconds = float(period)
    else:
        return f"renewal_period={describe_value(period)} is not a period or a number of seconds"
    if not math.isfinite(seconds) or seconds <= 0 or seconds > MAX_PERIOD_SECONDS:
        return (
            f"renewal_period={describe_value(period)} is not a finite period between 0 and "
            f"{MAX_PERIOD_SECONDS // 86400} days"
        )
    return None


def check_user_limit(limit: Any) -> None:
    """Refuse a ``set_limit`` value with a non-finite, absurd or non-numeric period or count."""
    if limit is None:
        return
    if not isinstance(limit, Mapping) and not (
        hasattr(limit, "calls") and hasattr(limit, "renewal_period")
    ):
        return  # not a limit at all: limit_fields says so, naming the accepted forms
    problem = limit_problem(limit)
    if problem is not None:
        raise MlflowException(
            f"Invalid limit: {problem}. Use e.g. Limit(calls=50, renewal_period='second').",
            error_code=INVALID_PARAMETER_VALUE,
        )


def warn_once(target: str, endpoint: str, problem: str) -> None:
    """One warning per (target, endpoint, problem) for the life of the process."""
    marker = (target, endpoint, problem)
    with _warned_lock:
        if marker in _warned:
            return
        _warned.add(marker)
    _logger.warning(
        "Endpoint %r of %s advertises an unusable rate limit (%s); it is reported as "
        "limit=None and requests to it are not throttled.",
        endpoint,
        target,
        problem,
    )


def advertised_limit(target: str, endpoint: str, raw: Any, model: type) -> Any:
    """The ``model`` (``Limit``) for a gateway's raw ``limit`` value, or None (with one warning)
    when it is malformed: the endpoint itself is still returned."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        warn_once(target, endpoint, f"limit={describe_value(raw)} is not an object")
        return None
    problem = limit_problem(raw)
    if problem is not None and not isinstance(raw.get("renewal_period"), str):
        # A non-text period cannot be a Limit at all.
        warn_once(target, endpoint, problem)
        return None
    if problem is not None and problem.startswith("calls="):
        warn_once(target, endpoint, problem)
        return None
    key = raw.get("key")
    if key is not None and not isinstance(key, str):
        warn_once(target, endpoint, f"key={describe_value(key)} is not a string")
        return None
    # A well-formed limit whose period the throttle cannot use is kept as reported; the
    # throttle warns about it once and leaves the endpoint unthrottled.
    return model(calls=raw["calls"], renewal_period=raw["renewal_period"], key=key)
