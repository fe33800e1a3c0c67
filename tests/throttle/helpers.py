"""Test helpers: an event loop in a thread, and a loopback server enforcing a fixed window."""

from __future__ import annotations

import asyncio
import bisect
import math
import socket
import threading
import time
from collections.abc import Coroutine
from typing import Any

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
