"""Sections (a) and (b): the blocking ``http_request`` and its async twin beside bare aiohttp and
``requests.Session``, against the same upstream process.

    python -m benchmarks.bench_http [--quick]     # sections a and b of benchmarks.run

Every client stays alive for a whole round (its loop, its session, its connections) and the
clients take turns in batches, in a rotating order. On a shared 2-core VM the speed of the
machine drifts by tens of percent within seconds; turns of a fraction of a second let every
client see the same drift, where one long run per client would not. Turns are not shorter than
that because each one starts cold (idle threads, cold caches), and the blocking client, with two
threads to wake, pays more for it than the others: at 100 requests a turn it measured ~1.55x
bare aiohttp where 1,000 a turn gave ~1.36x in the same minutes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiohttp
import requests

from benchmarks.common import PAYLOAD, Run, in_flight, sequential
from mlflow.utils.rest_utils import MlflowHostCreds, ahttp_request, http_request

PATH = "/v1/chat/completions"
#: Requests per turn: ~0.2-0.3 s sequential, ~0.1 s in flight.
SEQUENTIAL_BATCH = 500
IN_FLIGHT_BATCH = 500


class _LoopClient:
    """An async client on a loop of its own, kept across batches (as an app would keep it)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.loop = asyncio.new_event_loop()
        self.call: Callable | None = None
        self.loop.run_until_complete(self._open())

    async def _open(self) -> None:
        """Set ``self.call`` to the coroutine function that makes one request."""
        raise NotImplementedError

    async def _close(self) -> None:
        return None

    def batch(self, n: int, concurrency: int, cap: float) -> Run:
        return self.loop.run_until_complete(in_flight(self.call, n, concurrency, cap))

    def close(self) -> None:
        try:
            self.loop.run_until_complete(self._close())
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        finally:
            self.loop.close()


class _Bare(_LoopClient):
    async def _open(self) -> None:
        self.session = aiohttp.ClientSession()
        url = self.url + PATH

        async def call() -> None:
            async with self.session.post(url, json=PAYLOAD) as r:
                await r.read()

        self.call = call

    async def _close(self) -> None:
        await self.session.close()


class _Twin(_LoopClient):
    async def _open(self) -> None:
        creds = MlflowHostCreds(self.url)

        async def call() -> None:
            await ahttp_request(creds, PATH, "POST", json=PAYLOAD)

        self.call = call


class _Blocking:
    def __init__(self, url: str) -> None:
        creds = MlflowHostCreds(url)
        self.call = lambda: http_request(creds, PATH, "POST", json=PAYLOAD)

    def batch(self, n: int, concurrency: int, cap: float) -> Run:
        return sequential(self.call, n, cap)

    def close(self) -> None:
        return None


class _Requests(_Blocking):
    def __init__(self, url: str) -> None:
        self.session = requests.Session()
        self.call = lambda: self.session.post(url + PATH, json=PAYLOAD).content

    def close(self) -> None:
        self.session.close()


SEQUENTIAL: dict[str, Callable[[str], object]] = {
    "bare aiohttp": _Bare,
    "async twin (ahttp_request)": _Twin,
    "blocking http_request": _Blocking,
    "requests.Session": _Requests,
}
IN_FLIGHT: dict[str, Callable[[str], object]] = {
    "bare aiohttp": _Bare,
    "async twin (ahttp_request)": _Twin,
}


def interleaved(
    makers: dict[str, Callable[[str], object]],
    url: str,
    n: int,
    concurrency: int,
    batch: int,
    cap: float,
    first: int = 0,
) -> dict[str, Run]:
    """``n`` requests per client in turns of ``batch`` (rotating who goes first), after a
    warm-up that opens the connections. Stops early when a client has used ``cap`` seconds."""
    clients = {name: make(url) for name, make in makers.items()}
    try:
        warmup = max(concurrency, min(n // 10, 200), 20)
        for client in clients.values():
            client.batch(warmup, concurrency, cap)
        totals = {name: Run(0, 0.0) for name in clients}
        names = list(clients)
        turn = first
        while any(t.count < n and t.seconds < cap for t in totals.values()):
            k = turn % len(names)
            for name in names[k:] + names[:k]:
                total = totals[name]
                if total.count >= n or total.seconds >= cap:
                    continue
                run = clients[name].batch(min(batch, n - total.count), concurrency, cap)
                total.count += run.count
                total.seconds += run.seconds
            turn += 1
        return totals
    finally:
        for client in clients.values():
            client.close()


def sequential_round(url: str, n: int, cap: float, first: int = 0) -> dict[str, Run]:
    """Section (a), one round: every client, one request at a time."""
    return interleaved(SEQUENTIAL, url, n, 1, SEQUENTIAL_BATCH, cap, first)


def in_flight_round(
    url: str, n: int, concurrency: int, cap: float, first: int = 0
) -> dict[str, Run]:
    """Section (b), one round at one level: ``concurrency`` requests in flight per client."""
    batch = max(IN_FLIGHT_BATCH, concurrency * 8)
    return interleaved(IN_FLIGHT, url, n, concurrency, batch, cap, first)


if __name__ == "__main__":
    from benchmarks.run import main

    main(["--sections", "a,b", *__import__("sys").argv[1:]])
