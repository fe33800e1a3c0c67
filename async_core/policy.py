"""The retry policy: one small immutable object that decides *whether* and *how long* to wait.

Semantics follow urllib3's ``Retry``: the first retry is immediate, then
``backoff_factor * 2**(n-1) + uniform(0, jitter)`` capped at ``backoff_max`` (n = consecutive
failures so far); a usable ``Retry-After`` on 413/429/503 wins over the backoff, capped at
``retry_after_max``. ``methods`` says which methods may be retried after a response or a broken
connection (``None``: every method); a connection that never opened is retried for any method,
since nothing was sent.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import Protocol

DEFAULT_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
RETRY_AFTER_STATUSES = frozenset({413, 429, 503})
DEFAULT_BACKOFF_MAX = 120.0
#: urllib3's default: the methods whose repetition the server cannot tell from one request.
IDEMPOTENT_METHODS = frozenset({"DELETE", "GET", "HEAD", "OPTIONS", "PUT", "TRACE"})


class Uniform(Protocol):
    def uniform(self, a: float, b: float) -> float: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int = 7
    backoff_factor: float = 2.0
    backoff_jitter: float = 1.0
    backoff_max: float = DEFAULT_BACKOFF_MAX
    retry_statuses: frozenset[int] = DEFAULT_RETRY_STATUSES
    respect_retry_after: bool = True
    retry_after_statuses: frozenset[int] = RETRY_AFTER_STATUSES
    #: Total deadline in seconds over all attempts and waits; None means no deadline.
    total_timeout: float | None = None
    #: Which methods are retried (upper case); None means every method.
    methods: frozenset[str] | None = None
    #: The longest Retry-After honoured, in seconds; None means no cap.
    retry_after_max: float | None = None
    rng: Uniform = field(default=random, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Accept any iterable of codes (callers pass lists) but keep the object hashable/immutable.
        for name in ("retry_statuses", "retry_after_statuses"):
            value = getattr(self, name)
            if not isinstance(value, frozenset):
                object.__setattr__(self, name, frozenset(_as_codes(value)))
        if self.methods is not None and not isinstance(self.methods, frozenset):
            object.__setattr__(self, "methods", frozenset(m.upper() for m in self.methods))

    def retries_method(self, method: str) -> bool:
        return self.methods is None or method in self.methods

    @property
    def attempts(self) -> int:
        return self.max_retries + 1

    def backoff(self, failures: int) -> float:
        """Seconds to wait after ``failures`` consecutive failed attempts (>= 1)."""
        if failures <= 1:
            return 0.0
        value = self.backoff_factor * (2 ** (failures - 1))
        if self.backoff_jitter > 0:
            value += self.rng.uniform(0, self.backoff_jitter)
        return max(0.0, min(self.backoff_max, value))

    def retry_after(
        self, status: int, headers: Mapping[str, str] | None, now: float
    ) -> float | None:
        """The server's Retry-After in seconds, if it applies to this status and lies ahead."""
        if not self.respect_retry_after or status not in self.retry_after_statuses or not headers:
            return None
        value = headers.get("Retry-After")
        seconds = None if value is None else parse_retry_after(value, now)
        cap = self.retry_after_max
        return seconds if seconds is None or cap is None else min(seconds, cap)

    def is_retryable_status(self, status: int, headers: Mapping[str, str] | None) -> bool:
        if status in self.retry_statuses:
            return True
        # urllib3 also retries a Retry-After status that carries the header, even if not listed.
        return (
            self.respect_retry_after
            and status in self.retry_after_statuses
            and bool(headers)
            and "Retry-After" in headers
        )

    def wait(self, failures: int, status: int | None, headers, now: float) -> tuple[float, bool]:
        """How long to wait before the next attempt, and whether the server dictated it."""
        if status is not None:
            hinted = self.retry_after(status, headers, now)
            if hinted is not None:
                return hinted, True
        return self.backoff(failures), False


def parse_retry_after(value: str, now: float) -> float | None:
    """Seconds from ``now`` (a wall-clock timestamp), or None when unusable, zero or in the past.

    Accepts integer or fractional seconds and the HTTP-date form.
    """
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:  # "-0000" dates parse naive; HTTP dates are always UTC
            when = when.replace(tzinfo=timezone.utc)
        seconds = when.timestamp() - now
    if not math.isfinite(seconds) or seconds <= 0:
        return None
    return seconds


def _as_codes(codes: Iterable[int] | None) -> Iterable[int]:
    return () if codes is None else (int(c) for c in codes)
