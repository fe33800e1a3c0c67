"""The blocking ``http_request`` and its async twin beside bare aiohttp and requests, in one run.

    python -m benchmarks.bench_http [--requests N]

Prints sequential microseconds per request and requests/s with 16 and 64 in flight, with the
ratios against bare aiohttp measured in the same run against the same upstream process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator

import aiohttp
import requests

from mlflow.utils.rest_utils import MlflowHostCreds, ahttp_request, http_request

PAYLOAD = {"messages": [{"role": "user", "content": "hello"}], "temperature": 0.0}
ROUNDS = 3  # each figure is the best of ROUNDS, interleaved, to damp noise on a shared machine


@contextlib.contextmanager
def upstream(*extra: str) -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.echo_server", *extra], stdout=subprocess.PIPE, text=True
    )
    try:
        port = int(proc.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def seq_bare(url: str, n: int) -> float:
    async def go() -> float:
        async with aiohttp.ClientSession() as session:
            for _ in range(min(n, 50)):
                async with session.post(url + "/x", json=PAYLOAD) as r:
                    await r.read()
            start = time.perf_counter()
            for _ in range(n):
                async with session.post(url + "/x", json=PAYLOAD) as r:
                    await r.read()
            return (time.perf_counter() - start) / n * 1e6

    return asyncio.run(go())


def seq_twin(url: str, n: int) -> float:
    creds = MlflowHostCreds(url)

    async def go() -> float:
        for _ in range(min(n, 50)):
            await ahttp_request(creds, "/x", "POST", json=PAYLOAD)
        start = time.perf_counter()
        for _ in range(n):
            await ahttp_request(creds, "/x", "POST", json=PAYLOAD)
        return (time.perf_counter() - start) / n * 1e6

    return asyncio.run(go())


def seq_blocking(url: str, n: int) -> float:
    creds = MlflowHostCreds(url)
    for _ in range(min(n, 50)):
        http_request(creds, "/x", "POST", json=PAYLOAD)
    start = time.perf_counter()
    for _ in range(n):
        http_request(creds, "/x", "POST", json=PAYLOAD)
    return (time.perf_counter() - start) / n * 1e6


def seq_requests(url: str, n: int) -> float:
    with requests.Session() as session:
        for _ in range(min(n, 50)):
            session.post(url + "/x", json=PAYLOAD).content
        start = time.perf_counter()
        for _ in range(n):
            session.post(url + "/x", json=PAYLOAD).content
        return (time.perf_counter() - start) / n * 1e6


async def _in_flight(call: Callable[[], Awaitable[object]], n: int, concurrency: int) -> float:
    remaining = n

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return n / (time.perf_counter() - start)


def rps_bare(url: str, n: int, concurrency: int) -> float:
    async def go() -> float:
        async with aiohttp.ClientSession() as session:

            async def call() -> None:
                async with session.post(url + "/x", json=PAYLOAD) as r:
                    await r.read()

            await _in_flight(call, min(n, 200), concurrency)
            return await _in_flight(call, n, concurrency)

    return asyncio.run(go())


def rps_twin(url: str, n: int, concurrency: int) -> float:
    creds = MlflowHostCreds(url)

    async def go() -> float:
        async def call() -> None:
            await ahttp_request(creds, "/x", "POST", json=PAYLOAD)

        await _in_flight(call, min(n, 200), concurrency)
        return await _in_flight(call, n, concurrency)

    return asyncio.run(go())


def best(fn: Callable[..., float], *args: object, higher: bool) -> float:
    samples = [fn(*args) for _ in range(ROUNDS)]
    return max(samples) if higher else min(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    n = args.requests
    with upstream() as url:
        seq = {name: [] for name in ("bare aiohttp", "async twin", "blocking http_request",
                                     "requests.Session")}
        for _ in range(ROUNDS):  # interleaved so drift hits every client alike
            seq["bare aiohttp"].append(seq_bare(url, n))
            seq["async twin"].append(seq_twin(url, n))
            seq["blocking http_request"].append(seq_blocking(url, n))
            seq["requests.Session"].append(seq_requests(url, n))
        base = min(seq["bare aiohttp"])
        print(f"sequential, {n} POSTs each (best of {ROUNDS}; median in brackets)")
        for name, values in seq.items():
            print(f"  {name:24s} {min(values):8.0f} us/req  ({statistics.median(values):.0f})"
                  f"  {min(values) / base:5.2f}x bare")
        for concurrency in (16, 64):
            bare = twin = 0.0
            for _ in range(ROUNDS):
                bare = max(bare, rps_bare(url, n * 2, concurrency))
                twin = max(twin, rps_twin(url, n * 2, concurrency))
            print(f"{concurrency:3d} in flight: bare {bare:8.0f} req/s   twin {twin:8.0f} req/s"
                  f"   twin/bare {twin / bare:5.1%}")


if __name__ == "__main__":
    main()
