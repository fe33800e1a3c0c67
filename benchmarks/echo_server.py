"""A minimal JSON upstream for benchmarks, run in its own process so that the client under test
has a core to itself. Prints its port on the first line of stdout.

    python -m benchmarks.echo_server [--fail-first 503] [--fail-every N]

Every path answers a small chat-completion-shaped JSON body, except:

- ``GET /__stats`` returns ``{"attempts": N, "failed": M}`` (counters since start) so a harness
  can check how many attempts a client really made;
- with ``--fail-first 503``, the first attempt of each request answers 503 and its retry 200.
  A request is identified by its ``X-Bench-Id`` header, so this holds at any concurrency;
- with ``--fail-every N`` (and no ``X-Bench-Id``), every N-th request answers 503.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys

from aiohttp import web

_BODY = (
    b'{"id":"cmpl-1","object":"chat.completion","choices":[{"index":0,"message":'
    b'{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}'
)
_BUSY = b'{"error": "busy"}'
BENCH_ID_HEADER = "X-Bench-Id"
# Ids seen once and not yet retried; bounded so a client that never retries cannot grow it forever.
_MAX_PENDING = 100_000


def make_app(fail_first: int = 0, fail_every: int = 0) -> web.Application:
    counters = {"attempts": 0, "failed": 0}
    pending: set[str] = set()

    def busy() -> web.Response:
        counters["failed"] += 1
        return web.Response(status=fail_first or 503, body=_BUSY, content_type="application/json")

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        counters["attempts"] += 1
        bench_id = request.headers.get(BENCH_ID_HEADER)
        if fail_first and bench_id is not None:
            if bench_id in pending:
                pending.discard(bench_id)
            elif len(pending) < _MAX_PENDING:
                pending.add(bench_id)
                return busy()
        elif fail_every and counters["attempts"] % fail_every == 1:
            return busy()
        return web.Response(body=_BODY, content_type="application/json")

    async def stats(request: web.Request) -> web.Response:
        return web.Response(body=json.dumps(counters).encode(), content_type="application/json")

    app = web.Application()
    app.router.add_get("/__stats", stats)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


async def _serve(fail_first: int, fail_every: int) -> None:
    runner = web.AppRunner(make_app(fail_first, fail_every), access_log=None)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    site = web.SockSite(runner, sock, backlog=1024)
    await site.start()
    print(sock.getsockname()[1], flush=True)
    # Exit when the parent closes our stdin (or dies), so no orphan server outlives a benchmark.
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fail-first", type=int, default=0, metavar="STATUS")
    parser.add_argument("--fail-every", type=int, default=0, metavar="N")
    args = parser.parse_args()
    try:
        asyncio.run(_serve(args.fail_first, args.fail_every))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
