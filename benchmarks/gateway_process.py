"""The embedded gateway (``mlflow.testing.GatewayServer``) in its own process, as a real
gateway would be: the client under test then shares no interpreter lock with the server, and the
server's arrival timestamps carry no jitter from the client's work.

    python -m benchmarks.gateway_process [--calls 50] [--period second]

Prints its port on the first line and serves until its stdin closes. Besides the gateway's
routes, ``GET /__bench/stats`` returns ``{"rejected": N, "arrivals": [...]}``: the 429s sent and
the ``time.monotonic()`` arrival times of the ``chat`` invocations (the clock is system-wide on
Linux, so the harness can compare them with its own).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import urllib.request
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from benchmarks.common import child_server
from mlflow.testing import GatewayEndpoint, GatewayServer

INVOCATIONS = "/endpoints/chat/invocations"


class StatsGateway(GatewayServer):
    """The gateway plus a route that reports what it saw."""

    def _add_routes(self, app: web.Application) -> None:
        super()._add_routes(app)
        app.router.add_get("/__bench/stats", self._bench_stats)

    async def _bench_stats(self, request: web.Request) -> web.Response:
        arrivals = [r.timestamp for r in self.requests_to(INVOCATIONS, "POST")]
        body = json.dumps({"rejected": self.rejected, "arrivals": arrivals})
        return web.Response(text=body, content_type="application/json")


def limited_endpoints(calls: int, period: str) -> list[GatewayEndpoint]:
    limit = {"calls": calls, "renewal_period": period}
    return [GatewayEndpoint("chat", "llm/v1/chat", limit=limit)]


class GatewayProcess:
    """A handle on the gateway subprocess: its URL and what it saw."""

    __slots__ = ("url",)

    def __init__(self, url: str) -> None:
        self.url = url

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "/__bench/stats", timeout=10) as response:
            return json.loads(response.read())


@contextlib.contextmanager
def gateway_process(calls: int = 50, period: str = "second") -> Iterator[GatewayProcess]:
    command = [sys.executable, "-m", "benchmarks.gateway_process", "--calls", str(calls),
               "--period", period]
    with child_server(command, "the gateway process", timeout=20) as (port, _):
        yield GatewayProcess(f"http://127.0.0.1:{port}")


async def _serve(calls: int, period: str) -> None:
    server = StatsGateway(limited_endpoints(calls, period))
    await server.start()
    print(server.port, flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--period", default="second")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.calls, args.period))


if __name__ == "__main__":
    main()
