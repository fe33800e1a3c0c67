"""The gateway's rate limits, against the real server app on loopback: one counter per endpoint
across every alias, key partitions, MLflow's 429, a shared Redis store across workers, and an
unreachable store answered as configured (never a hang)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
import time

import aiohttp
import pytest
from aiohttp import web

from mlflow.gateway.config import GatewayConfig
from mlflow.gateway.server import ratelimit
from mlflow.gateway.server.app import create_app
from mlflow.gateway.server.context import REQUEST_INFO_KEY
from mlflow.gateway.server.options import ServerOptions
from mlflow.gateway.server.state import STATE_KEY
from tests.server.stub_provider import stub_factory


def _config(limit: dict | None) -> GatewayConfig:
    model = {"provider": "openai", "name": "gpt-4o-mini", "config": {"openai_api_key": "sk-x"}}
    return GatewayConfig.model_validate(
        {
            "endpoints": [
                {"name": "chat", "endpoint_type": "llm/v1/chat", "model": model, "limit": limit},
                {"name": "free", "endpoint_type": "llm/v1/chat", "model": model},
            ]
        }
    )


SEEN: list = []  # each request's RequestInfo, as the outermost layers see it afterwards


@web.middleware
async def _record_info(request: web.Request, handler):
    try:
        return await handler(request)
    finally:
        SEEN.append(request[REQUEST_INFO_KEY])


@contextlib.asynccontextmanager
async def _gateway(limit: dict | None, **options):
    options.setdefault("reload_interval", 0)
    app = create_app(ServerOptions(**options), _config(limit), provider_factory=stub_factory({}))
    app.middlewares.insert(1, _record_info)  # right inside the server's context layer
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as session:
            yield session, app
    finally:
        await runner.cleanup()


CHAT = {"messages": [{"role": "user", "content": "hi"}]}


async def _call(session: aiohttp.ClientSession, alias: str, headers: dict | None = None):
    if alias == "v1":
        path, body = "/v1/chat/completions", {**CHAT, "model": "chat"}
    else:
        path, body = f"/{alias}/chat/invocations", CHAT
    async with session.post(path, json=body, headers=headers or {}) as response:
        return response.status, dict(response.headers), await response.json()


async def test_one_counter_per_endpoint_across_every_alias_and_mlflows_429() -> None:
    SEEN.clear()
    async with _gateway({"calls": 3, "renewal_period": "minute"}) as (session, app):
        answers = [await _call(session, alias) for alias in ("endpoints", "gateway", "v1")]
        assert [status for status, _, _ in answers] == [200, 200, 200]
        assert [h["X-RateLimit-Remaining"] for _, h, _ in answers] == ["2", "1", "0"]
        for alias in ("endpoints", "gateway", "v1"):
            status, headers, body = await _call(session, alias)
            assert status == 429
            assert body == {"error": "Rate limit exceeded: 3 per 1 minute"}
            assert 58 <= int(headers["Retry-After"]) <= 60
            assert headers["X-RateLimit-Limit"] == "3"
            assert headers["X-RateLimit-Remaining"] == "0"
            assert 0 < int(headers["X-RateLimit-Reset"]) - time.time() <= 61
        async with session.post("/endpoints/free/invocations", json=CHAT) as response:
            assert response.status == 200  # another endpoint, no limit
        assert app[ratelimit.RATE_LIMITER_KEY].refusals == 3
    assert [info.rate_limited for info in SEEN] == [False] * 3 + [True] * 3 + [False]
    # Refusals too carry their endpoint and provider: metrics and the access log label them.
    assert [info.endpoint for info in SEEN] == ["chat"] * 6 + ["free"]
    assert {info.provider for info in SEEN} == {"openai"}


async def test_retry_after_is_the_real_time_to_the_next_slot() -> None:
    async with _gateway({"calls": 2, "renewal_period": "3 seconds"}) as (session, _):
        first = time.time()
        assert (await _call(session, "endpoints"))[0] == 200
        await asyncio.sleep(1.2)
        assert (await _call(session, "endpoints"))[0] == 200
        status, headers, _ = await _call(session, "endpoints")
        true_wait = first + 3.0 - time.time()  # the first start leaves 3 s after it
        assert status == 429
        assert true_wait <= int(headers["Retry-After"]) <= true_wait + 1
        await asyncio.sleep(int(headers["Retry-After"]))
        assert (await _call(session, "endpoints"))[0] == 200  # waiting that long finds a slot


async def test_a_header_key_partitions_the_quota_and_missing_headers_share_one() -> None:
    limit = {"calls": 1, "renewal_period": "minute", "key": "X-API-Key"}
    async with _gateway(limit) as (session, _):
        assert (await _call(session, "endpoints", {"X-API-Key": "alice"}))[0] == 200
        assert (await _call(session, "v1", {"X-API-Key": "alice"}))[0] == 429
        assert (await _call(session, "gateway", {"X-API-Key": "bob"}))[0] == 200
        assert (await _call(session, "endpoints"))[0] == 200
        assert (await _call(session, "endpoints"))[0] == 429


@pytest.mark.parametrize("trusted", [False, True])
async def test_forwarded_for_partitions_only_when_trusted(trusted: bool) -> None:
    limit = {"calls": 1, "renewal_period": "minute", "key": "address"}
    async with _gateway(limit, trust_forwarded_for=trusted) as (session, _):
        one = {"X-Forwarded-For": "203.0.113.9, 198.51.100.1"}
        two = {"X-Forwarded-For": "203.0.113.9, 198.51.100.2"}
        assert (await _call(session, "endpoints", one))[0] == 200
        second = (await _call(session, "endpoints", two))[0]
        assert second == (200 if trusted else 429)  # untrusted: one peer, 127.0.0.1


async def test_workers_sharing_a_redis_store_admit_exactly_calls(redis_uri: str) -> None:
    """Four apps (as four workers) on one Redis: 40 concurrent calls, 5 admitted in all."""
    limit = {"calls": 5, "renewal_period": "minute"}
    async with contextlib.AsyncExitStack() as stack:
        gateways = [
            await stack.enter_async_context(_gateway(limit, rate_limits_storage_uri=redis_uri))
            for _ in range(4)
        ]
        statuses = await asyncio.gather(
            *(_call(gateways[i % 4][0], "endpoints") for i in range(40))
        )
        assert sorted(s for s, _, _ in statuses).count(200) == 5
        assert all(s in (200, 429) for s, _, _ in statuses)


async def test_memory_store_with_several_workers_warns_that_each_counts_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "mlflow.gateway.server.ratelimit")
    async with _gateway({"calls": 5, "renewal_period": "minute"}, workers=4):
        pass
    assert any("each worker's memory" in r.getMessage() and "4 workers" in r.getMessage()
               for r in caplog.records)


@contextlib.contextmanager
def _silent_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)  # accepts, never answers
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


@pytest.mark.parametrize("fail_open", [True, False])
async def test_an_unreachable_store_fails_as_configured_and_never_hangs(
    fail_open: bool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, "mlflow.gateway.server.ratelimit")
    with _silent_port() as port:
        uri = f"redis://:hunter2@127.0.0.1:{port}/0"
        limit = {"calls": 1, "renewal_period": "minute"}
        async with _gateway(limit, rate_limits_storage_uri=uri, rate_limit_fail_open=fail_open
                            ) as (session, app):
            began = time.monotonic()
            answers = [await _call(session, "endpoints") for _ in range(3)]
            assert time.monotonic() - began < 5  # one bounded timeout, then the back-off
            expected = 200 if fail_open else 503
            assert [status for status, _, _ in answers] == [expected] * 3
            if not fail_open:
                assert answers[0][1]["Retry-After"] == "1"
                assert "rate-limit store is unreachable" in answers[0][2]["detail"]
            limiter = app[ratelimit.RATE_LIMITER_KEY]
            assert limiter.store_errors == 3
            checks = app[STATE_KEY].readiness_checks
            reasons = [await check() for check in checks]
            assert f"rate-limit store redis://127.0.0.1:{port}/0 unreachable" in reasons
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "unreachable" in logged and "hunter2" not in logged


async def test_readiness_passes_with_a_live_store(redis_uri: str) -> None:
    limit = {"calls": 1, "renewal_period": "minute"}
    async with _gateway(limit, rate_limits_storage_uri=redis_uri) as (_, app):
        assert [await check() for check in app[STATE_KEY].readiness_checks] == [None]


async def test_check_counts_an_endpoint_once_per_request() -> None:
    """The hook the invocation loop calls per destination is idempotent within a request."""
    options = ServerOptions(reload_interval=0)
    app = web.Application()
    ratelimit.install(app, options)
    endpoint = _config({"calls": 2, "renewal_period": "minute"}).endpoints[0]

    async def handler(request: web.Request) -> web.Response:
        await ratelimit.check(request, endpoint)
        await ratelimit.check(request, endpoint)
        return web.json_response({})

    app.router.add_post("/x", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    async with aiohttp.ClientSession() as session:
        statuses = []
        for _ in range(3):
            async with session.post(f"http://127.0.0.1:{port}/x") as response:
                statuses.append(response.status)
                if response.status == 429:
                    assert await response.json() == {
                        "error": "Rate limit exceeded: 2 per 1 minute"
                    }
    await runner.cleanup()
    assert statuses == [200, 200, 429]


@pytest.mark.parametrize(
    ("calls", "seconds", "text"),
    [(5, 60.0, "5 per 1 minute"), (50, 1.0, "50 per 1 second"), (3, 300.0, "3 per 5 minute"),
     (1, 86400.0, "1 per 1 day"), (7, 7200.0, "7 per 2 hour"), (2, 90.0, "2 per 90 second")],
)
def test_limits_are_worded_as_mlflows_gateway_words_them(calls, seconds, text) -> None:
    assert ratelimit.describe_limit(calls, seconds) == text
    assert math.isfinite(seconds)


async def test_v1_bodies_are_read_once_and_bad_ones_get_the_servers_answer() -> None:
    async with _gateway({"calls": 5, "renewal_period": "minute"}, max_body_bytes=2048) as (
        session, _
    ):
        async with session.post("/v1/chat/completions", data=b"{not json") as response:
            assert response.status == 422  # the route's own validation answer
        big = {**CHAT, "model": "chat", "pad": "x" * 4096}
        async with session.post("/v1/chat/completions", json=big) as response:
            assert response.status == 413
            assert "larger than this gateway's limit" in (await response.json())["detail"]
        status, headers, body = await _call(session, "v1")
        assert status == 200 and body["choices"][0]["message"]["content"] == "chat: hi"
        assert headers["X-RateLimit-Remaining"] == "4"  # neither bad body took a slot
