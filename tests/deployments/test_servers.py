"""The loopback servers themselves: recording, fault injection, the gateway's limit windows."""

from __future__ import annotations

import aiohttp

from mlflow.testing.gateway_server import (
    GatewayEndpoint,
    GatewayServer,
    _FixedWindows,
    decode_page_token,
)


def test_fixed_windows_open_at_first_hit_and_reset_after_the_period():
    windows = _FixedWindows()
    key = ("127.0.0.1", "deployments", "chat")
    assert [windows.hit(key, 2, 60.0, t) for t in (0.0, 1.0, 2.0, 59.9)] == [
        True,
        True,
        False,
        False,
    ]
    assert windows.hit(key, 2, 60.0, 60.0) is True  # a new window
    assert windows.hit(("other",), 2, 60.0, 60.5) is True  # per key


async def test_gateway_limit_uses_its_clock_and_sends_no_retry_after():
    now = [0.0]
    endpoint = GatewayEndpoint(
        "chat", "llm/v1/chat", limit={"calls": 1, "renewal_period": "5 seconds"}
    )
    body = {"messages": [{"role": "user", "content": "x"}]}
    async with (
        GatewayServer([endpoint], clock=lambda: now[0]) as server,
        aiohttp.ClientSession() as session,
    ):
        url = server.url("/endpoints/chat/invocations")
        assert (await session.post(url, json=body)).status == 200
        refused = await session.post(url, json=body)
        assert refused.status == 429 and "Retry-After" not in refused.headers
        assert await refused.json() == {"error": "Rate limit exceeded: 1 per 5 second"}
        now[0] = 5.0
        assert (await session.post(url, json=body)).status == 200
        # The legacy /gateway/ route has its own window, as in MLflow's gateway.
        assert (
            await session.post(server.url("/gateway/chat/invocations"), json=body)
        ).status == 200


async def test_recording_and_faults():
    async with GatewayServer() as server, aiohttp.ClientSession() as session:
        server.inject(503, {"detail": "busy"}, times=2, path="/health")
        statuses = [(await session.get(server.url("/health"))).status for _ in range(3)]
        assert statuses == [503, 503, 200]
        server.inject(418, "teapot", method="POST")
        assert (await session.get(server.url("/health"))).status == 200  # method does not match
        response = await session.post(server.url("/endpoints/chat/invocations"), json={})
        assert response.status == 418 and await response.text() == "teapot"
        stamps = [r.timestamp for r in server.requests]
        assert stamps == sorted(stamps) and len(stamps) == 5
        assert server.requests[-1].json() == {}
        assert server.requests_to("/health", "GET")[0].header("Host").startswith("127.0.0.1")


async def test_gateway_pagination_tokens():
    endpoints = [GatewayEndpoint(f"e{i}", "llm/v1/chat") for i in range(5)]
    async with GatewayServer(endpoints, page_size=2) as server, aiohttp.ClientSession() as s:
        first = await (await s.get(server.url("/api/2.0/endpoints/"))).json()
        assert [e["name"] for e in first["endpoints"]] == ["e0", "e1"]
        assert decode_page_token(first["next_page_token"]) == 2
        bad = await s.get(server.url("/api/2.0/endpoints/"), params={"page_token": "!!"})
        assert bad.status == 400


def test_server_in_a_thread_returns_its_url():
    server = GatewayServer()
    with server.running() as url:
        assert url == server.base_url and url.startswith("http://127.0.0.1:")
    assert server._thread is None
