"""Abandoned streamed responses give their connections back when garbage-collected, and waiting
for a pooled connection counts against the timeout (the pool holds 100 connections)."""

from __future__ import annotations

import gc
import threading
import time

from conftest import Reply

from mlflow.exceptions import MlflowException
from mlflow.utils.rest_utils import MlflowHostCreds, ahttp_request, http_request

# Far more than aiohttp buffers: the connection stays busy until the response is released.
HUGE = b"z" * 5_000_000


class _Cycle:
    """Holds a response in a reference cycle: only the garbage collector can free it."""

    def __init__(self, response) -> None:
        self.response = response
        self.me = self


def _open(creds, n: int, *, timeout: float = 10) -> list:
    streams = []
    for _ in range(n):
        response = http_request(creds, "/s", "GET", stream=True, timeout=timeout, max_retries=0)
        assert next(response.iter_content(1024))  # read a little
        streams.append(response)
    return streams


def test_300_dropped_streams_then_the_next_call_answers_at_once(server):
    server.default = Reply(200, body=HUGE)
    creds = MlflowHostCreds(server.url)
    for _ in range(3):  # 300 streams, each dropped unclosed (100 at a time fill the pool)
        held = [_Cycle(r) for r in _open(creds, 100)]
        del held
        gc.collect()
    server.default = Reply(200, json={"ok": True})
    started = time.monotonic()
    assert http_request(creds, "/after", "GET", timeout=10, max_retries=0).status_code == 200
    assert time.monotonic() - started < 5  # at once (a generous bound for a shared machine)


def test_a_waiting_call_is_woken_when_the_garbage_collector_frees_streams(server):
    server.default = Reply(200, body=HUGE)
    creds = MlflowHostCreds(server.url)
    held = [_Cycle(r) for r in _open(creds, 100)]
    server.default = Reply(200, json={"ok": True})
    result: list = []
    waiter = threading.Thread(target=lambda: result.append(
        http_request(creds, "/after", "GET", timeout=30, max_retries=0).status_code
    ), daemon=True)
    waiter.start()
    time.sleep(0.3)  # the call now waits for a pool slot
    del held
    gc.collect()  # finalizers run on this thread; the connections close on the loop's
    waiter.join(15)
    assert result == [200]


async def test_dropped_async_streams_give_their_connections_back(server):
    server.default = Reply(200, body=HUGE)
    creds = MlflowHostCreds(server.url)
    for _ in range(150):
        response = await ahttp_request(creds, "/s", "GET", stream=True, timeout=10, max_retries=0)
        async for _chunk in response.aiter_bytes(1024):
            break
        _Cycle(response)
        del response
    gc.collect()
    server.default = Reply(200, json={"ok": True})
    answer = await ahttp_request(creds, "/after", "GET", timeout=10, max_retries=0)
    assert answer.status_code == 200


def test_waiting_for_a_pooled_connection_counts_against_the_timeout(server):
    server.default = Reply(200, body=HUGE)
    creds = MlflowHostCreds(server.url)
    held = _open(creds, 100)  # the whole pool, still open and referenced
    try:
        result: list = []

        def call() -> None:
            try:
                http_request(creds, "/starved", "GET", timeout=0.5, max_retries=0)
            except MlflowException as error:
                result.append(str(error))

        caller = threading.Thread(target=call, daemon=True)
        caller.start()
        caller.join(10)
        assert result and "timeout" in result[0] and "0.5" in result[0]
    finally:
        for response in held:
            response.close()
