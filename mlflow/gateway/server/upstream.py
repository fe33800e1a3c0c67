"""The process's one upstream client and the retry policy of a request's budget.

Every provider call goes through this ``AsyncClient``: pooled connections, retries and
Retry-After come from the engine. The client's ``on_retry`` hook counts retries on the request
being served (found through the ``current_request_info`` ContextVar: the hook runs on the
request's own task)."""

from __future__ import annotations

import dataclasses
import math

from async_core import AsyncClient, Hooks, RetryEvent, RetryPolicy
from mlflow.gateway.server.context import current_request_info

#: Statuses worth another attempt at a provider (MLflow's retry codes).
UPSTREAM_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def _count_retry(event: RetryEvent) -> None:
    info = current_request_info.get()
    if info is not None:
        info.upstream_retries += 1
        info.upstream_attempts += 1


def budget_policy(budget_seconds: float) -> RetryPolicy:
    """Retries for one request that wait at most ``budget_seconds`` in all.

    Backoff waits are short (0.1 s doubling, capped at 2 s) and the number of retries is the most
    whose backoffs fit the budget. A Retry-After longer than the budget is not waited out: the
    engine hands the 429 back at once, with the upstream's Retry-After."""
    if not math.isfinite(budget_seconds) or budget_seconds < 0:
        raise ValueError(
            f"retry budget must be a finite number of seconds >= 0, got {budget_seconds!r}"
        )
    factor, cap = 0.1, 2.0
    retries, spent = 0, 0.0
    while retries < 10:
        wait = 0.0 if retries == 0 else min(cap, factor * 2**retries)
        if spent + wait > budget_seconds:
            break
        spent += wait
        retries += 1
    kwargs = dict(
        max_retries=retries,
        backoff_factor=factor,
        backoff_jitter=0.05,
        backoff_max=cap,
        retry_statuses=UPSTREAM_RETRY_STATUSES,
        respect_retry_after=True,
    )
    names = {f.name for f in dataclasses.fields(RetryPolicy)}
    if "retry_after_max" in names:
        kwargs["retry_after_max"] = budget_seconds
    return RetryPolicy(**kwargs)


def make_client(budget_seconds: float) -> AsyncClient:
    return AsyncClient(policy=budget_policy(budget_seconds), hooks=Hooks(on_retry=_count_retry))
