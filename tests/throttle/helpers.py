"""Test helpers: an event loop in a thread, and a loopback server enforcing a fixed window."""

from __future__ import annotations

import asyncio
import bisect
import http.client
import math
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import aiohttp
from aiohttp import web


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
        async def _cancel_rest() -> None:
            me = asyncio.current_task()
            rest = [t for t in asyncio.all_tasks() if t is not me]
            for task in rest:
                task.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

        if self.loop.is_running():
            self.run(_cancel_rest(), timeout=10)
            self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


class FixedWindowServer:
    """127.0.0.1 server that admits ``calls`` per fixed window of ``period`` s, else 429.

    ``anchor="aligned"`` counts in windows ``[k * period, (k + 1) * period)`` of the monotonic
    clock; ``anchor="first-hit"`` opens a window at the first request after the last one
    expired (as an in-memory fixed-window limiter does). Arrival times (``time.monotonic()``)
    and the ``X-Caller`` header of every request are recorded.
    """

    def __init__(self, calls: int, period: float, anchor: str = "aligned") -> None:
        assert anchor in ("aligned", "first-hit")
        self.calls, self.period, self.anchor = calls, period, anchor
        self.arrivals: list[float] = []
        self.callers: list[str] = []
        self.rejected = 0
        self._window_id: float = -math.inf
        self._count = 0
        self._thread = LoopThread("fixed-window-server")
        self._runner: web.AppRunner | None = None
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self._thread.run(self._start(sock))
        self.url = f"http://127.0.0.1:{self.port}/call"

    async def _start(self, sock: socket.socket) -> None:
        app = web.Application()
        app.router.add_route("*", "/call", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()

    async def _handle(self, request: web.Request) -> web.Response:
        now = time.monotonic()
        self.arrivals.append(now)
        self.callers.append(request.headers.get("X-Caller", "?"))
        if self.anchor == "aligned":
            window = now // self.period
            if window != self._window_id:
                self._window_id, self._count = window, 0
        elif now >= self._window_id + self.period:
            self._window_id, self._count = now, 0
        self._count += 1
        if self._count > self.calls:
            self.rejected += 1
            return web.json_response({"error": "rate limited"}, status=429)
        return web.json_response({"ok": True})

    def close(self) -> None:
        if self._runner is not None:
            self._thread.run(self._runner.cleanup())
        self._thread.close()


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
