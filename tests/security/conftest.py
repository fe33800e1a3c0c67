"""A real aiohttp server on 127.0.0.1 (port 0) carrying the security engineer's install()
functions in the server's order, in front of stub gateway routes that fill RequestInfo as the real
routes do (endpoint, provider, upstream attempts, streams)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp import web

from mlflow.gateway.server import access_log, auth, health, metrics, security
from mlflow.gateway.server.context import REQUEST_INFO_KEY
from mlflow.gateway.server.options import ServerOptions
from mlflow.gateway.server.state import STATE_KEY, GatewayState

PROVIDER_KEY = "sk-provider-SECRET-4f1a9c0d7e"  # what a provider config would hold
CALLER_KEY = "gw-caller-SECRET-77aa21bb"


@dataclass
class Served:
    url: str
    app: web.Application
    state: GatewayState
    session: aiohttp.ClientSession
    release: asyncio.Event  # lets /slow finish


@dataclass
class Reply:
    status: int
    headers: object  # the response's CIMultiDictProxy
    text: str


async def fetch(served: Served, method: str, path: str, **kwargs) -> Reply:
    async with served.session.request(method, served.url + path, **kwargs) as r:
        return Reply(r.status, r.headers, await r.text())


def _stub_routes(app: web.Application, release: asyncio.Event) -> None:
    async def invocations(request: web.Request) -> web.Response:
        info = request[REQUEST_INFO_KEY]
        await request.read()
        info.endpoint = request.match_info["name"]
        info.provider = "openai"
        info.upstream_attempts = 2
        info.upstream_retries = 1
        if request.match_info["name"] == "limited":
            info.rate_limited = True
            return web.json_response({"error": "Rate limit exceeded: 5 per 1 minute"}, status=429)
        if request.match_info["name"] == "echo-caller":
            return web.json_response({"caller": request.get(auth.CALLER_KEY)})
        return web.json_response({"choices": [{"message": {"content": "hi"}}]})

    async def chat_stream(request: web.Request) -> web.StreamResponse:
        info = request[REQUEST_INFO_KEY]
        body = await request.json()
        info.endpoint = body.get("model", "chat")
        info.provider = "anthropic"
        info.upstream_attempts = 1
        info.streamed = True
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        info.first_byte_seconds = 0.002
        for n in range(3):
            await response.write(f"data: {json.dumps({'n': n})}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def list_endpoints(request: web.Request) -> web.Response:
        return web.json_response({"endpoints": [], "next_page_token": None})

    async def api_options(request: web.Request) -> web.Response:
        return web.Response(status=200)

    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("internal failure")

    async def slow(request: web.Request) -> web.Response:
        info = request[REQUEST_INFO_KEY]
        info.endpoint = "slow-ep"
        info.provider = "openai"
        await asyncio.wait_for(release.wait(), 10)
        return web.json_response({"ok": True})

    app.router.add_post("/endpoints/{name}/invocations", invocations)
    app.router.add_post("/gateway/{name}/invocations", invocations)
    app.router.add_post("/v1/chat/completions", chat_stream)
    app.router.add_get("/api/2.0/endpoints/", list_endpoints)
    app.router.add_route("OPTIONS", "/api/2.0/endpoints/", api_options)
    app.router.add_post("/api/2.0/endpoints/", list_endpoints)
    app.router.add_get("/boom", boom)
    app.router.add_post("/endpoints/slow/run", slow)
    app.router.add_get("/", list_endpoints)
    app.router.add_post("/ui/form", list_endpoints)


def build_app(options: ServerOptions, release: asyncio.Event) -> web.Application:
    app = web.Application()
    state = GatewayState(options=options, config_loaded=True)
    app[STATE_KEY] = state
    # The server's order, outermost first (ratelimit is the limits engineer's).
    access_log.install(app, options)
    metrics.install(app, options)
    security.install(app, options)
    auth.install(app, options)
    health.install(app, options)
    _stub_routes(app, release)
    return app


@contextlib.asynccontextmanager
async def serve_app(app: web.Application, release: asyncio.Event) -> AsyncIterator[Served]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as session:
            yield Served(f"http://127.0.0.1:{port}", app, app[STATE_KEY], session, release)
    finally:
        release.set()
        await runner.cleanup()


@contextlib.asynccontextmanager
async def serve(options: ServerOptions | None = None) -> AsyncIterator[Served]:
    release = asyncio.Event()
    app = build_app(options or ServerOptions(), release)
    async with serve_app(app, release) as served:
        yield served


@pytest.fixture(autouse=True)
def _clean_security_env(monkeypatch):
    for name in (
        "MLFLOW_SERVER_ALLOWED_HOSTS",
        "MLFLOW_SERVER_CORS_ALLOWED_ORIGINS",
        "MLFLOW_SERVER_X_FRAME_OPTIONS",
        "MLFLOW_SERVER_DISABLE_SECURITY_MIDDLEWARE",
        "PROMETHEUS_MULTIPROC_DIR",
        "prometheus_multiproc_dir",
    ):
        monkeypatch.delenv(name, raising=False)
