"""The floor under any aiohttp gateway: a bare aiohttp reverse proxy, for bench_gateway.

    python benchmarks/bare_proxy.py UPSTREAM_URL PORT

One aiohttp server (uvloop when installed) and one aiohttp ``ClientSession``, nothing else: no
validation, no translation between formats, no retries, no auth, logs, metrics or security
headers. ``POST /endpoints/chat/invocations`` forwards the body to the upstream's
``/v1/chat/completions`` and copies the answer back, chunk by chunk when it streams. Whatever
this costs, a gateway built on aiohttp on this Python cannot cost less.
"""

from __future__ import annotations

import asyncio
import sys

import aiohttp
from aiohttp import web

_JSON = {"Content-Type": "application/json"}


def make_app(upstream: str) -> web.Application:
    app = web.Application()
    target = upstream.rstrip("/") + "/v1/chat/completions"

    async def open_session(app: web.Application):
        app["session"] = aiohttp.ClientSession()
        yield
        await app["session"].close()

    async def invocations(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        async with request.app["session"].post(target, data=body, headers=_JSON) as upstream:
            content_type = upstream.headers.get("Content-Type", "application/json")
            if not content_type.startswith("text/event-stream"):
                return web.Response(
                    body=await upstream.read(), status=upstream.status,
                    headers={"Content-Type": content_type},
                )
            response = web.StreamResponse(
                status=upstream.status, headers={"Content-Type": content_type}
            )
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "OK"})

    app.cleanup_ctx.append(open_session)
    app.router.add_post("/endpoints/chat/invocations", invocations)
    app.router.add_get("/health", health)
    return app


def main() -> None:
    upstream, port = sys.argv[1], int(sys.argv[2])
    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:
        loop_factory = asyncio.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(_serve(upstream, port))


async def _serve(upstream: str, port: int) -> None:
    runner = web.AppRunner(make_app(upstream), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=2048).start()
    try:
        await asyncio.Event().wait()  # until the harness ends the process
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    main()
