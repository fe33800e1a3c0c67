"""Connection reuse, concurrency, and the blocking call inside a running event loop."""

from __future__ import annotations

import asyncio
import threading

from aiohttp import web
from conftest import Reply

from mlflow.utils.rest_utils import MlflowHostCreds, ahttp_request, http_request

FAST = {"backoff_factor": 0, "backoff_jitter": 0}


def _echo(request: web.BaseRequest, attempt):
    return Reply(200, json={"got": attempt.json() if attempt.body else None,
                            "path": attempt.path})


def test_1000_sequential_blocking_calls_reuse_a_handful_of_connections(recording_server):
    creds = MlflowHostCreds(recording_server.url)
    for i in range(1000):
        response = http_request(creds, f"/n/{i}", "GET", **FAST)
        assert response.status_code == 200
    assert len(recording_server.attempts) == 1000
    assert len({a.port for a in recording_server.attempts}) <= 2
    assert recording_server.connections <= 2


async def test_1000_sequential_async_calls_reuse_a_handful_of_connections(recording_server):
    creds = MlflowHostCreds(recording_server.url)
    for i in range(1000):
        response = await ahttp_request(creds, f"/n/{i}", "POST", json={"i": i}, **FAST)
        assert response.status_code == 200
    assert len({a.port for a in recording_server.attempts}) <= 2
    assert recording_server.connections <= 2


async def test_many_in_flight_each_gets_its_own_answer(recording_server):
    recording_server.respond_with(_echo)
    creds = MlflowHostCreds(recording_server.url)
    responses = await asyncio.wait_for(
        asyncio.gather(*(ahttp_request(creds, f"/c/{i}", "POST", json={"i": i}, **FAST)
                         for i in range(64))),
        60,
    )
    assert [r.json() for r in responses] == [
        {"got": {"i": i}, "path": f"/c/{i}"} for i in range(64)
    ]


def test_blocking_calls_from_many_threads(recording_server):
    recording_server.respond_with(_echo)
    creds = MlflowHostCreds(recording_server.url)
    mismatches: list[tuple] = []
    errors: list[BaseException] = []

    def worker(t: int) -> None:
        try:
            for i in range(25):
                got = http_request(creds, f"/t/{t}", "POST", json={"t": t, "i": i}, **FAST)
                if got.json() != {"got": {"t": t, "i": i}, "path": f"/t/{t}"}:
                    mismatches.append((t, i, got.json()))
        except BaseException as e:  # reported by the assertions below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors and not mismatches
    assert len(recording_server.attempts) == 200


async def test_blocking_call_inside_a_running_loop_alongside_async_calls(recording_server):
    """The Jupyter / async-handler case: blocking calls from this loop's thread and from worker
    threads, interleaved with awaited calls on this very loop."""
    recording_server.respond_with(_echo)
    creds = MlflowHostCreds(recording_server.url)
    direct = http_request(creds, "/direct", "GET")  # this thread is running a loop
    assert direct.json()["path"] == "/direct"
    threaded, awaited = await asyncio.gather(
        asyncio.to_thread(http_request, creds, "/threaded", "GET"),
        ahttp_request(creds, "/awaited", "GET"),
    )
    assert threaded.json()["path"] == "/threaded"
    assert awaited.json()["path"] == "/awaited"
