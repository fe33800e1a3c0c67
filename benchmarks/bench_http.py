"""Sections (a) and (b): the blocking ``http_request`` and its async twin beside bare aiohttp and
``requests.Session``, against the same upstream process.

    python -m benchmarks.bench_http [--quick]     # sections a and b of benchmarks.run

Each function runs one bounded loop (a request count and a time cap), after a short warm-up that
opens the connections, and returns a :class:`~benchmarks.common.Run`.
"""

from __future__ import annotations

import asyncio

import aiohttp
import requests

from benchmarks.common import PAYLOAD, Run, in_flight, sequential
from mlflow.utils.rest_utils import MlflowHostCreds, ahttp_request, http_request

PATH = "/v1/chat/completions"


def _warmup(n: int, concurrency: int = 1) -> int:
    return max(concurrency, min(n // 10, 200), 20)


# --- (a) sequential -------------------------------------------------------------------------------
def seq_bare(url: str, n: int, cap: float) -> Run:
    async def go() -> Run:
        async with aiohttp.ClientSession() as session:

            async def call() -> None:
                async with session.post(url + PATH, json=PAYLOAD) as r:
                    await r.read()

            await in_flight(call, _warmup(n), 1, cap)
            return await in_flight(call, n, 1, cap)

    return asyncio.run(go())


def seq_twin(url: str, n: int, cap: float) -> Run:
    creds = MlflowHostCreds(url)

    async def go() -> Run:
        async def call() -> None:
            await ahttp_request(creds, PATH, "POST", json=PAYLOAD)

        await in_flight(call, _warmup(n), 1, cap)
        return await in_flight(call, n, 1, cap)

    return asyncio.run(go())


def seq_blocking(url: str, n: int, cap: float) -> Run:
    creds = MlflowHostCreds(url)

    def call() -> None:
        http_request(creds, PATH, "POST", json=PAYLOAD)

    sequential(call, _warmup(n), cap)
    return sequential(call, n, cap)


def seq_requests(url: str, n: int, cap: float) -> Run:
    with requests.Session() as session:

        def call() -> None:
            session.post(url + PATH, json=PAYLOAD).content  # noqa: B018 - read the body

        sequential(call, _warmup(n), cap)
        return sequential(call, n, cap)


SEQUENTIAL = {
    "bare aiohttp": seq_bare,
    "async twin (ahttp_request)": seq_twin,
    "blocking http_request": seq_blocking,
    "requests.Session": seq_requests,
}


# --- (b) requests in flight -----------------------------------------------------------------------
def rps_bare(url: str, n: int, concurrency: int, cap: float) -> Run:
    async def go() -> Run:
        async with aiohttp.ClientSession() as session:

            async def call() -> None:
                async with session.post(url + PATH, json=PAYLOAD) as r:
                    await r.read()

            await in_flight(call, _warmup(n, concurrency), concurrency, cap)
            return await in_flight(call, n, concurrency, cap)

    return asyncio.run(go())


def rps_twin(url: str, n: int, concurrency: int, cap: float) -> Run:
    creds = MlflowHostCreds(url)

    async def go() -> Run:
        async def call() -> None:
            await ahttp_request(creds, PATH, "POST", json=PAYLOAD)

        await in_flight(call, _warmup(n, concurrency), concurrency, cap)
        return await in_flight(call, n, concurrency, cap)

    return asyncio.run(go())


IN_FLIGHT = {
    "bare aiohttp": rps_bare,
    "async twin (ahttp_request)": rps_twin,
}


if __name__ == "__main__":
    from benchmarks.run import main

    main(["--sections", "a,b", *__import__("sys").argv[1:]])
