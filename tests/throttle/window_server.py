"""The fixed-window server as a process of its own, as a real gateway would be.

``python -m tests.throttle.window_server CALLS PERIOD ANCHOR`` prints its port, then serves
``/call`` (rate-limited) and ``/arrivals`` (the record so far, JSON; not rate-limited).
"""

from __future__ import annotations

import asyncio
import socket
import sys
import time

from aiohttp import web


class FixedWindow:
    """``calls`` per fixed window of ``period`` s: clock-aligned, or opened by the first hit."""

    def __init__(self, calls: int, period: float, anchor: str) -> None:
        if anchor not in ("aligned", "first-hit"):
            raise ValueError(f"anchor={anchor!r}: use 'aligned' or 'first-hit'")
        self.calls, self.period, self.anchor = calls, period, anchor
        self.arrivals: list[float] = []
        self.callers: list[str] = []
        self.rejected = 0
        self._window = -float("inf")
        self._count = 0

    def hit(self, now: float, caller: str) -> bool:
        self.arrivals.append(now)
        self.callers.append(caller)
        if self.anchor == "aligned":
            window = now // self.period
            if window != self._window:
                self._window, self._count = window, 0
        elif now >= self._window + self.period:
            self._window, self._count = now, 0
        self._count += 1
        if self._count > self.calls:
            self.rejected += 1
            return False
        return True

    def app(self) -> web.Application:
        async def call(request: web.Request) -> web.Response:
            if self.hit(time.monotonic(), request.headers.get("X-Caller", "?")):
                return web.json_response({"ok": True})
            return web.json_response({"error": "rate limited"}, status=429)

        async def arrivals(request: web.Request) -> web.Response:
            return web.json_response(
                {"arrivals": self.arrivals, "callers": self.callers, "rejected": self.rejected}
            )

        app = web.Application()
        app.router.add_route("*", "/call", call)
        app.router.add_get("/arrivals", arrivals)
        return app


async def _serve(calls: int, period: float, anchor: str) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    runner = web.AppRunner(FixedWindow(calls, period, anchor).app(), access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock, backlog=1024).start()
    print(sock.getsockname()[1], flush=True)
    # Serve until the parent closes our stdin.
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(_serve(int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]))
