"""Section (d): the client-side throttle against a gateway that enforces a fixed window.

A burst of 200 predictions goes through ``get_deploy_client("http://127.0.0.1:<port>")`` to the
embedded gateway (``mlflow.testing.GatewayServer``, in its own process), whose ``chat``
endpoint advertises ``{"calls": 50, "renewal_period": "second"}`` and answers 429 past it in
fixed windows. Reported:
the 429s the server sent, the most arrivals in any one-second interval, and the makespan (first to
last arrival at the server) against the strict minimum ``(ceil(200/50) - 1)`` periods = 3 s; the
naive ``200/50`` = 4 s is printed for reference.

The burst uses the public batch API (``client.predict_batch``). Until the deployment client has
it, the section is skipped with a message; ``--throttle-via apredict`` sends concurrent
``apredict`` calls instead (bounded by a timeout).
"""

from __future__ import annotations

import asyncio
import inspect
import math
import statistics
import time
from typing import Any

from benchmarks.gateway_process import gateway_process
from mlflow.deployments import get_deploy_client

CALLS, PERIOD_NAME, PERIOD = 50, "second", 1.0
TIMEOUT = 120.0  # seconds: a burst that is not done by then is reported as such


def strict_minimum(n: int, calls: int = CALLS, period: float = PERIOD) -> float:
    """Start ``n`` cannot come before ``ceil(n / calls) - 1`` whole periods have passed."""
    return (math.ceil(n / calls) - 1) * period


def naive_minimum(n: int, calls: int = CALLS, period: float = PERIOD) -> float:
    return n / calls * period


def max_in_any_window(arrivals: list[float], period: float = PERIOD) -> int:
    """The most arrivals inside any half-open interval of length ``period`` (every phase)."""
    best, left = 0, 0
    for right, at in enumerate(arrivals):
        while at - arrivals[left] >= period:
            left += 1
        best = max(best, right - left + 1)
    return best


def batch_api(client: Any) -> str | None:
    """The name of the client's batch method, or None while it has none."""
    for name in ("predict_batch", "apredict_batch"):
        if callable(getattr(client, name, None)):
            return name
    return None


def burst_inputs(n: int) -> list[dict[str, Any]]:
    return [{"messages": [{"role": "user", "content": f"question {i}"}]} for i in range(n)]


def _is_error(item: Any) -> bool:
    if isinstance(item, BaseException):
        return True
    error = getattr(item, "error", None)
    return error is not None and not callable(error)


def _quiet_kwargs(method: Any) -> dict[str, Any]:
    """Turn the batch's progress bar off when its signature allows it (benchmarks print tables)."""
    try:
        params = inspect.signature(method).parameters
    except (TypeError, ValueError):
        return {}
    for name in ("progress", "show_progress", "progress_bar"):
        if name in params:
            return {name: False}
    return {}


def _send_batch(client: Any, api: str, inputs: list, concurrency: int) -> list:
    method = getattr(client, api)
    kwargs = {"endpoint": "chat", "inputs": inputs, "concurrency": concurrency}
    kwargs.update(_quiet_kwargs(method))
    if api == "predict_batch":
        return list(method(**kwargs))
    return asyncio.run(asyncio.wait_for(method(**kwargs), TIMEOUT))


def _send_apredict(client: Any, inputs: list) -> list:
    async def go() -> list:
        calls = (client.apredict(endpoint="chat", inputs=x) for x in inputs)
        return await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), TIMEOUT)

    return asyncio.run(go())


def one_burst(n: int, concurrency: int, via: str = "auto") -> dict[str, Any]:
    """One burst of ``n`` against a fresh gateway process (a new port: a new throttle scope)."""
    with gateway_process(CALLS, PERIOD_NAME) as gateway:
        client = get_deploy_client(gateway.url)
        api = batch_api(client)
        if via == "apredict":
            api = "apredict"
        elif api is None:
            return {
                "skipped": (
                    f"{type(client).__name__} has no predict_batch/apredict_batch yet (issue 6, "
                    "the throttle, is being integrated): re-run this section once it lands, or "
                    "pass --throttle-via apredict to send concurrent apredict calls."
                )
            }
        inputs = burst_inputs(n)
        start = time.monotonic()
        try:
            if api == "apredict":
                results = _send_apredict(client, inputs)
            else:
                results = _send_batch(client, api, inputs, concurrency)
        except TimeoutError:
            return {"skipped": f"the burst did not finish within {TIMEOUT:.0f} s", "api": api}
        wall = time.monotonic() - start
        seen = gateway.stats()
    arrivals = sorted(seen["arrivals"])
    span = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else 0.0
    minimum = strict_minimum(n)
    return {
        "api": api,
        "requests": n,
        "concurrency": concurrency,
        "results": len(results),
        "errors": sum(_is_error(r) for r in results),
        "rejections": seen["rejected"],
        "attempts_seen_by_server": len(arrivals),
        "max_in_any_window": max_in_any_window(arrivals),
        "makespan_s": span,
        "wall_s": wall,
        "strict_minimum_s": minimum,
        "naive_minimum_s": naive_minimum(n),
        "makespan_over_minimum": span / minimum if minimum else float("nan"),
        "wall_over_minimum": wall / minimum if minimum else float("nan"),
    }


def throttle_section(n: int, rounds: int, concurrency: int, via: str = "auto") -> dict[str, Any]:
    bursts: list[dict[str, Any]] = []
    for _ in range(rounds):
        burst = one_burst(n, concurrency, via)
        if "skipped" in burst:
            return burst
        bursts.append(burst)
    ratios = [b["makespan_over_minimum"] for b in bursts]
    return {
        "limit": {"calls": CALLS, "renewal_period": PERIOD_NAME},
        "requests": n,
        "api": bursts[0]["api"],
        "rounds": bursts,
        "rejections_max": max(b["rejections"] for b in bursts),
        "rejections_total": sum(b["rejections"] for b in bursts),
        "errors_total": sum(b["errors"] for b in bursts),
        "max_in_any_window": max(b["max_in_any_window"] for b in bursts),
        "makespan_over_minimum_best": min(ratios),
        "makespan_over_minimum_median": statistics.median(ratios),
        "makespan_over_minimum_worst": max(ratios),
        "strict_minimum_s": strict_minimum(n),
        "naive_minimum_s": naive_minimum(n),
    }
