"""Test helpers: an event loop in a thread, and a loopback server enforcing a fixed window."""

from __future__ import annotations

import asyncio
import bisect
import http.client
import json
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import aiohttp

from async_core.runner import close_loop


class LoopThread:
    """A running event loop in a daemon thread (stands in for the background runner)."""

    def __init__(self, name: str = "test-loop") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 30.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        close_loop(self.loop)


class FixedWindowServer:
    """A 127.0.0.1 server, in a process of its own, that admits ``calls`` per fixed window of
    ``period`` s and answers 429 past it (see ``window_server.py``).

    ``anchor="aligned"`` counts in windows ``[k * period, (k + 1) * period)`` of the monotonic
    clock; ``anchor="first-hit"`` opens a window at the first request after the last one
    expired, as an in-memory fixed-window limiter does. Arrival times (``time.monotonic()``,
    the same clock in every process) and each request's ``X-Caller`` header are recorded.
    """

    def __init__(self, calls: int, period: float, anchor: str = "aligned") -> None:
        self.calls, self.period, self.anchor = calls, period, anchor
        self._process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("window_server.py"))]
            + [str(calls), str(period), anchor],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        self.port = int(self._process.stdout.readline())
        self.url = f"http://127.0.0.1:{self.port}/call"

    def _record(self) -> dict[str, Any]:
        url = f"http://127.0.0.1:{self.port}/arrivals"
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.load(response)

    @property
    def arrivals(self) -> list[float]:
        return self._record()["arrivals"]

    @property
    def callers(self) -> list[str]:
        return self._record()["callers"]

    @property
    def rejected(self) -> int:
        return self._record()["rejected"]

    def close(self) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(10)
        assert self._process.stdout is not None
        self._process.stdout.close()


def max_in_any_window(times: list[float], period: float) -> int:
    """The most events in any half-open interval of length ``period`` (sliding, any phase)."""
    ordered = sorted(times)
    best = 0
    for i, start in enumerate(ordered):
        best = max(best, bisect.bisect_left(ordered, start + period, lo=i) - i)
    return best


_connections = threading.local()


def blocking_call(adm: Any, server: FixedWindowServer, caller: str, reserve: bool) -> int:
    """One throttled blocking POST on this thread's kept-alive connection; returns the status.

    The connection is opened before the slot is taken, so ``started()`` comes right before
    the bytes are written (a blocking client has no hook to say when they were).
    """
    conn = getattr(_connections, server.url, None)
    if conn is None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.connect()
        setattr(_connections, server.url, conn)
    slot = adm.reserve_blocking() if reserve else adm.acquire_blocking()
    try:
        if slot is not None:
            slot.started()
        conn.request("POST", "/call", body=b"", headers={"X-Caller": caller})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        if slot is not None:
            slot.release()


def slot_tracing() -> aiohttp.TraceConfig:
    """Tell a reserved slot when its request's headers are on the wire."""
    trace = aiohttp.TraceConfig()

    async def headers_sent(session: Any, ctx: Any, params: Any) -> None:
        slot = (ctx.trace_request_ctx or {}).get("slot")
        if slot is not None:
            slot.started()

    trace.on_request_headers_sent.append(headers_sent)
    return trace


async def burst(
    url: str, n: int, take: Callable[[], Awaitable[object]], caller: str = "owner"
) -> list[int]:
    """``n`` concurrent POSTs from one fresh session, each after ``take()``; their statuses.

    When ``take`` returns a :class:`~async_core.throttle.Slot`, it is told when the request's
    headers are sent (aiohttp trace signal), and released at the end.
    """
    async with aiohttp.ClientSession(trace_configs=[slot_tracing()]) as session:

        async def one() -> int:
            slot = await take()
            ctx = {"slot": slot} if slot is not None else None
            try:
                async with session.post(
                    url, headers={"X-Caller": caller}, trace_request_ctx=ctx
                ) as resp:
                    await resp.read()
                    return resp.status
            finally:
                if slot is not None:
                    slot.release()

        return await asyncio.gather(*(one() for _ in range(n)))
