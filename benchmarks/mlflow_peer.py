"""The MLflow peer: MLflow's own ``http_request`` and deployment client, measured the same way.

Run by ``benchmarks.run --mlflow-venv PATH`` with that virtualenv's interpreter, as a file (not a
module) so that this checkout's ``mlflow`` package is not on ``sys.path``; it must import the
real one. Standard library + mlflow only. Prints one JSON object on stdout.

    PATH/bin/python benchmarks/mlflow_peer.py --job '{"url": ..., "requests": 2000, ...}'
"""

from __future__ import annotations

import argparse
import concurrent.futures
import itertools
import json
import os
import sys
import time
import uuid

PAYLOAD = {"messages": [{"role": "user", "content": "hello"}], "temperature": 0.0}
PATH = "/v1/chat/completions"
BENCH_ID_HEADER = "X-Bench-Id"


def _sequential(call, n: int, cap: float) -> dict:
    deadline, done = time.perf_counter() + cap, 0
    start = time.perf_counter()
    while done < n and time.perf_counter() < deadline:
        call()
        done += 1
    return {"count": done, "seconds": time.perf_counter() - start}


def _threaded(call, n: int, threads: int, cap: float) -> dict:
    """``n`` calls from ``threads`` threads: MLflow's client is blocking, so threads are how a
    user gets requests in flight with it."""
    deadline, counter = time.perf_counter() + cap, itertools.count()

    def worker() -> int:
        done = 0
        while next(counter) < n and time.perf_counter() < deadline:
            call()
            done += 1
        return done

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        start = time.perf_counter()
        done = sum(pool.map(lambda _: worker(), range(threads)))
        return {"count": done, "seconds": time.perf_counter() - start}


def _stats(url: str) -> int:
    import urllib.request

    with urllib.request.urlopen(url + "/__stats", timeout=5) as response:
        return json.loads(response.read())["attempts"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--job", required=True, help="JSON: what to measure")
    job = json.loads(parser.parse_args().job)

    import mlflow
    from mlflow.utils.rest_utils import MlflowHostCreds, http_request

    cap = float(job.get("time_cap", 30.0))
    n = int(job.get("requests", 1000))
    out: dict = {"mlflow": mlflow.__version__, "python": sys.version.split()[0]}

    if job.get("url"):
        creds = MlflowHostCreds(job["url"])

        def call() -> None:
            http_request(creds, PATH, "POST", json=PAYLOAD).content  # noqa: B018

        _sequential(call, min(n // 10 + 20, 200), cap)  # warm-up
        if job.get("sequential", True):
            out["sequential"] = _sequential(call, n, cap)
        out["in_flight"] = {}
        for threads in job.get("concurrency", []):
            _threaded(call, max(threads, min(n // 10, 200)), threads, cap)
            out["in_flight"][str(threads)] = _threaded(call, n, threads, cap)

    if job.get("retry_url"):
        retry_url, prefix, ids = job["retry_url"], uuid.uuid4().hex[:8], itertools.count()
        creds = MlflowHostCreds(retry_url)

        def retried() -> None:
            headers = {BENCH_ID_HEADER: f"{prefix}-{next(ids)}"}
            http_request(creds, PATH, "POST", json=PAYLOAD, extra_headers=headers)

        m = int(job.get("retry_requests", n))
        _sequential(retried, min(m // 10 + 10, 100), cap)
        before = _stats(retry_url)
        run = _sequential(retried, m, cap)
        out["retry_sequential"] = {**run, "attempts": _stats(retry_url) - before}

    if job.get("gateway_url"):
        from mlflow.deployments import get_deploy_client

        client = get_deploy_client(job["gateway_url"])
        query = {"messages": [{"role": "user", "content": "hello"}]}

        def predict() -> None:
            client.predict(endpoint="chat", inputs=query)

        m = int(job.get("predict_requests", n))
        _sequential(predict, min(m // 10 + 10, 100), cap)
        out["predict_sequential"] = _sequential(predict, m, cap)

    if job.get("burst_url"):
        from mlflow.deployments import get_deploy_client

        client = get_deploy_client(job["burst_url"])
        burst, threads = int(job.get("burst", 200)), int(job.get("burst_threads", 64))
        inputs = [{"messages": [{"role": "user", "content": f"q {i}"}]} for i in range(burst)]
        errors = 0
        start = time.monotonic()
        pool = concurrent.futures.ThreadPoolExecutor(threads)
        futures = [pool.submit(client.predict, endpoint="chat", inputs=x) for x in inputs]
        done, pending = concurrent.futures.wait(futures, timeout=float(job.get("burst_cap", 90)))
        errors = sum(1 for f in done if f.exception() is not None) + len(pending)
        # Threads still in MLflow's backoff sleeps are abandoned: os._exit below ends them.
        pool.shutdown(wait=False, cancel_futures=True)
        out["burst"] = {"wall_s": time.monotonic() - start, "errors": errors,
                        "unfinished": len(pending), "threads": threads}

    print(json.dumps(out), flush=True)
    os._exit(0)


if __name__ == "__main__":
    main()
