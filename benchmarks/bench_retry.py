"""Section (c): the cost of the retry path.

The upstream (``echo_server --fail-first 503``) answers the first attempt of every request 503 and
its retry 200, keyed on an ``X-Bench-Id`` header, so each logical request costs two attempts. The
async twin retries by itself (MLflow's defaults: the first retry is immediate); bare aiohttp does
the same retry by hand. The figure is attempts/s, counted by the server.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Callable

import aiohttp

from benchmarks.common import PAYLOAD, Run, in_flight, sequential, upstream_stats
from benchmarks.echo_server import BENCH_ID_HEADER
from mlflow.utils.rest_utils import MlflowHostCreds, ahttp_request, http_request

PATH = "/v1/chat/completions"
MAX_ATTEMPTS = 8  # bare aiohttp's hand-written loop, as many attempts as MLflow's 7 retries allow


class Attempts:
    """A measured run plus the attempts the server saw during it."""

    __slots__ = ("run", "attempts")

    def __init__(self, run: Run, attempts: int) -> None:
        self.run, self.attempts = run, attempts

    @property
    def per_second(self) -> float:
        return self.attempts / self.run.seconds if self.run.seconds > 0 else 0.0

    @property
    def per_request(self) -> float:
        return self.attempts / self.run.count if self.run.count else 0.0


def _ids() -> Callable[[], str]:
    prefix = uuid.uuid4().hex[:8]
    counter = itertools.count()
    return lambda: f"{prefix}-{next(counter)}"


async def _counted(url: str, call, n: int, concurrency: int, cap: float) -> Attempts:
    await in_flight(call, max(concurrency, min(n // 10, 100)), concurrency, cap)  # warm-up
    before = (await asyncio.to_thread(upstream_stats, url))["attempts"]
    run = await in_flight(call, n, concurrency, cap)
    after = (await asyncio.to_thread(upstream_stats, url))["attempts"]
    return Attempts(run, after - before)


def retry_bare(url: str, n: int, concurrency: int, cap: float) -> Attempts:
    next_id = _ids()

    async def go() -> Attempts:
        async with aiohttp.ClientSession() as session:

            async def call() -> None:
                headers = {BENCH_ID_HEADER: next_id()}
                for _ in range(MAX_ATTEMPTS):
                    async with session.post(url + PATH, json=PAYLOAD, headers=headers) as r:
                        await r.read()
                        if r.status != 503:
                            r.raise_for_status()
                            return
                raise RuntimeError("the upstream kept answering 503")

            return await _counted(url, call, n, concurrency, cap)

    return asyncio.run(go())


def retry_twin(url: str, n: int, concurrency: int, cap: float) -> Attempts:
    creds, next_id = MlflowHostCreds(url), _ids()

    async def go() -> Attempts:
        async def call() -> None:
            await ahttp_request(
                creds, PATH, "POST", json=PAYLOAD, extra_headers={BENCH_ID_HEADER: next_id()}
            )

        return await _counted(url, call, n, concurrency, cap)

    return asyncio.run(go())


def retry_blocking(url: str, n: int, cap: float) -> Attempts:
    creds, next_id = MlflowHostCreds(url), _ids()

    def call() -> None:
        http_request(creds, PATH, "POST", json=PAYLOAD, extra_headers={BENCH_ID_HEADER: next_id()})

    sequential(call, max(1, min(n // 10, 100)), cap)
    before = upstream_stats(url)["attempts"]
    run = sequential(call, n, cap)
    return Attempts(run, upstream_stats(url)["attempts"] - before)
