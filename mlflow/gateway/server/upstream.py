"""The process's one upstream client and the retry policy of a request's budget.

Every provider call goes through this ``AsyncClient``: pooled connections, retries and
Retry-After come from the engine. The client's ``on_retry`` hook runs on the request's own task,
so it finds the request being served through ContextVars: it counts the retry on its
``RequestInfo`` and adds the wait to the request's spent retry budget.

The budget is seconds of *waiting* per request (attempts themselves are bounded by the upstream
timeout, not by the budget: a long generation must not be cut short). ``BudgetPolicy`` is the
engine's ``RetryPolicy`` with one more rule: a response whose Retry-After does not fit what is
left of the budget is not retried, so the engine hands it back at once and the caller gets the
429 with the upstream's Retry-After instead of a held connection."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass

from async_core import (
    AsyncClient,
    Hooks,
    RetryEvent,
    RetryPolicy,
    Transport,
    parse_retry_after,
)
from mlflow.gateway.server.context import current_request_info

#: Statuses worth another attempt at a provider (MLflow's retry codes).
UPSTREAM_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

#: Seconds of retry waiting the current request has spent (a one-element list, per request).
retry_wait_spent: ContextVar[list[float] | None] = ContextVar(
    "mlflow_gateway_retry_wait_spent", default=None
)


def _on_retry(event: RetryEvent) -> None:
    info = current_request_info.get()
    if info is not None:
        info.upstream_retries += 1
        info.upstream_attempts += 1
    spent = retry_wait_spent.get()
    if spent is not None:
        spent[0] += event.wait


@dataclass(frozen=True, slots=True)
class BudgetPolicy(RetryPolicy):
    budget: float = 10.0

    def is_retryable_status(self, status: int, headers: Mapping[str, str] | None) -> bool:
        if not RetryPolicy.is_retryable_status(self, status, headers):
            return False
        if not self.respect_retry_after or status not in self.retry_after_statuses or not headers:
            return True
        value = headers.get("Retry-After")
        hinted = None if value is None else parse_retry_after(value, time.time())
        if hinted is None:
            return True
        spent = retry_wait_spent.get()
        left = self.budget - (spent[0] if spent is not None else 0.0)
        return hinted <= left


def budget_policy(budget_seconds: float) -> BudgetPolicy:
    """Retries for one request that wait at most ``budget_seconds`` in all.

    Backoff waits are short (0.1 s doubling, capped at 2 s) and the number of retries is the most
    whose backoffs fit the budget; a Retry-After that does not fit what is left is not waited."""
    if not math.isfinite(budget_seconds) or budget_seconds < 0:
        raise ValueError(
            f"retry budget must be a finite number of seconds >= 0, got {budget_seconds!r}"
        )
    factor, cap = 0.1, 2.0
    probe = RetryPolicy(backoff_factor=factor, backoff_jitter=0.0, backoff_max=cap)
    retries, spent = 0, 0.0
    while budget_seconds > 0 and retries < 10:  # a zero budget means no retries at all
        wait = probe.backoff(retries + 1)  # the engine's wait before retry number retries+1
        if spent + wait > budget_seconds:
            break
        spent += wait
        retries += 1
    return BudgetPolicy(
        max_retries=retries,
        backoff_factor=factor,
        backoff_jitter=0.0,
        backoff_max=cap,
        retry_statuses=UPSTREAM_RETRY_STATUSES,
        respect_retry_after=True,
        budget=budget_seconds,
    )


def make_client(budget_seconds: float, transport: Transport | None = None) -> AsyncClient:
    return AsyncClient(
        transport=transport, policy=budget_policy(budget_seconds), hooks=Hooks(on_retry=_on_retry)
    )
