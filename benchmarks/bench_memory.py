"""Section (e): resident memory growth over many requests, in a fresh process per client.

    python -m benchmarks.bench_memory --url URL --client twin --requests 100000 [--concurrency 64]

Prints one JSON object: RSS (VmRSS) after a warm-up, samples every tenth of the run, at the end
(after ``gc.collect()``), the growth in MB, and the peak (ru_maxrss). A fresh process per client
keeps one client's allocations out of another's figure; the warm-up lets the session, the
connection pool and the interpreter's caches reach their steady size before the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import sys
import time

from benchmarks.common import DEFAULT_TIME_CAP, PAYLOAD, in_flight, rss_mb, sequential

PATH = "/v1/chat/completions"
SAMPLES = 10


def _peak_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def _settled_rss() -> float:
    gc.collect()
    return rss_mb()


async def _async_run(call, n: int, warmup: int, concurrency: int, cap: float) -> dict:
    await in_flight(call, warmup, concurrency, cap)
    baseline = _settled_rss()
    samples, done, seconds = [], 0, 0.0
    step = max(1, n // SAMPLES)
    deadline = time.perf_counter() + cap
    while done < n and time.perf_counter() < deadline:
        left = deadline - time.perf_counter()
        run = await in_flight(call, min(step, n - done), concurrency, left)
        done, seconds = done + run.count, seconds + run.seconds
        samples.append([done, rss_mb()])
    return {"baseline_mb": baseline, "samples": samples, "requests": done, "seconds": seconds}


def measure(url: str, client: str, n: int, concurrency: int, cap: float) -> dict:
    warmup = max(concurrency * 4, min(n // 20, 2000))
    start_rss = rss_mb()
    if client == "twin":
        from mlflow.utils.rest_utils import MlflowHostCreds, ahttp_request

        creds = MlflowHostCreds(url)

        async def call() -> None:
            await ahttp_request(creds, PATH, "POST", json=PAYLOAD)

        result = asyncio.run(_async_run(call, n, warmup, concurrency, cap))
    elif client == "bare":
        import aiohttp

        async def go() -> dict:
            async with aiohttp.ClientSession() as session:

                async def call() -> None:
                    async with session.post(url + PATH, json=PAYLOAD) as r:
                        await r.read()

                return await _async_run(call, n, warmup, concurrency, cap)

        result = asyncio.run(go())
    elif client == "blocking":
        from mlflow.utils.rest_utils import MlflowHostCreds, http_request

        creds = MlflowHostCreds(url)

        def blocking_call() -> None:
            http_request(creds, PATH, "POST", json=PAYLOAD)

        sequential(blocking_call, warmup, cap)
        result = {"baseline_mb": _settled_rss(), "samples": [], "requests": 0, "seconds": 0.0}
        step, deadline = max(1, n // SAMPLES), time.perf_counter() + cap
        while result["requests"] < n and time.perf_counter() < deadline:
            run = sequential(blocking_call, min(step, n - result["requests"]),
                             deadline - time.perf_counter())
            result["requests"] += run.count
            result["seconds"] += run.seconds
            result["samples"].append([result["requests"], rss_mb()])
        concurrency = 1
    else:
        raise SystemExit(f"unknown client {client!r}: use twin, bare or blocking")
    final = _settled_rss()
    return {
        "client": client,
        "concurrency": concurrency,
        "warmup_requests": warmup,
        "start_mb": start_rss,
        "final_mb": final,
        "growth_mb": final - result["baseline_mb"],
        "peak_mb": _peak_mb(),
        **result,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--client", choices=("twin", "bare", "blocking"), required=True)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--time-cap", type=float, default=DEFAULT_TIME_CAP * 4)
    args = parser.parse_args(argv)
    result = measure(args.url, args.client, args.requests, args.concurrency, args.time_cap)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
