"""A minimal JSON upstream for benchmarks, run in its own process so that the client under test
has a core to itself. Prints its port on the first line of stdout.

    python -m benchmarks.echo_server [--fail-every N]

With ``--fail-every 2`` every other request answers 503 (the retry-cost benchmark).
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys

from aiohttp import web

_BODY = b'{"id":"cmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}'  # noqa: E501


def make_app(fail_every: int) -> web.Application:
    counter = 0

    async def handle(request: web.Request) -> web.Response:
        nonlocal counter
        await request.read()
        counter += 1
        if fail_every and counter % fail_every == 1:
            return web.Response(status=503, body=b'{"error": "busy"}', content_type="application/json")
        return web.Response(body=_BODY, content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


async def _serve(fail_every: int) -> None:
    runner = web.AppRunner(make_app(fail_every), access_log=None)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    site = web.SockSite(runner, sock, backlog=1024)
    await site.start()
    print(sock.getsockname()[1], flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fail-every", type=int, default=0)
    args = parser.parse_args()
    try:
        asyncio.run(_serve(args.fail_every))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
