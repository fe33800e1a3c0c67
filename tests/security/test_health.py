"""/health keeps MLflow's shape; /health/ready follows config loading, checks and draining."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from mlflow.gateway.server import health
from mlflow.gateway.server.options import ServerOptions

from .conftest import fetch, serve


async def test_health_keeps_mlflows_shape():
    async with serve() as s:
        r = await fetch(s, "GET", "/health")
    assert r.status == 200
    assert json.loads(r.text) == {"status": "OK"}


async def test_ready_follows_config_loading_and_draining():
    async with serve() as s:
        s.state.config_loaded = False
        loading = await fetch(s, "GET", "/health/ready")
        s.state.config_loaded = True
        ready = await fetch(s, "GET", "/health/ready")
        s.state.draining = True
        draining = await fetch(s, "GET", "/health/ready")
        alive = await fetch(s, "GET", "/health")
    assert loading.status == 503
    assert json.loads(loading.text)["reasons"] == ["the gateway configuration is not loaded yet"]
    assert ready.status == 200 and json.loads(ready.text) == {"status": "ready"}
    assert draining.status == 503 and "draining" in draining.text
    assert alive.status == 200  # liveness is not readiness
    assert ready.headers["Cache-Control"] == "no-store"


async def test_ready_waits_for_every_check():
    store_up = {"value": False}

    async def rate_limit_store() -> str | None:
        return None if store_up["value"] else "the rate-limit store (redis) does not answer"

    async def raising() -> str | None:
        raise ConnectionError("redis://:hunter2@10.0.0.5:6379 refused")

    async with serve() as s:
        s.state.readiness_checks.append(rate_limit_store)
        down = await fetch(s, "GET", "/health/ready")
        store_up["value"] = True
        up = await fetch(s, "GET", "/health/ready")
        s.state.readiness_checks.append(raising)
        failing = await fetch(s, "GET", "/health/ready")
    assert down.status == 503
    assert json.loads(down.text)["reasons"] == ["the rate-limit store (redis) does not answer"]
    assert up.status == 200
    assert failing.status == 503
    assert "ConnectionError" in failing.text
    assert "hunter2" not in failing.text  # an exception's text may carry a password


async def test_a_hanging_check_is_bounded():
    never = asyncio.Event()

    async def hangs() -> str | None:
        await never.wait()

    async with serve(ServerOptions(readiness_timeout=0.05)) as s:
        s.state.readiness_checks.append(hangs)
        r = await fetch(s, "GET", "/health/ready")
    assert r.status == 503
    assert "did not answer within 0.05 s" in r.text


async def test_an_existing_health_route_is_kept():
    app = web.Application()

    async def own(request):
        return web.json_response({"status": "OK", "own": True})

    app.router.add_get("/health", own)
    health.install(app, ServerOptions())  # must not raise on the duplicate
    paths = sorted(r.canonical for r in app.router.resources())
    assert paths == ["/health", "/health/ready"]


async def test_ready_without_state_is_503():
    app = web.Application()
    health.install(app, ServerOptions())
    from aiohttp.test_utils import TestClient, TestServer

    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        r = await client.get("/health/ready")
        assert r.status == 503


async def test_ready_follows_a_real_redis_rate_limit_store():
    from async_core.limits import StoreUnavailable, open_store
    from tests.limits.redis_server import RedisServer

    server = RedisServer()
    store = open_store(server.uri(db=7))

    async def rate_limit_store() -> str | None:  # what the rate limiter registers
        try:
            await store.ping()
        except StoreUnavailable:
            return "the rate-limit store does not answer"
        return None

    try:
        async with serve(ServerOptions(readiness_timeout=1.5)) as s:
            s.state.readiness_checks.append(rate_limit_store)
            up = await fetch(s, "GET", "/health/ready")
            server.close()  # the store goes down
            down = await fetch(s, "GET", "/health/ready")
    finally:
        server.close()
        await store.aclose()
    assert up.status == 200
    assert down.status == 503
    # A refused connection fails fast; the readiness bound covers a store that hangs instead.
    assert json.loads(down.text)["reasons"] == ["the rate-limit store does not answer"]
