"""A transport with the caller's own connector and trace configs (``session_factory(connector=,
trace_configs=)``), still signalling "on the wire", and a destination refused by a connect-time
policy (``ConnectionDenied``): one attempt, never retried, a ``DestinationDenied``."""

from __future__ import annotations

import socket

import aiohttp
import pytest
from aiohttp import web

from async_core import AsyncClient, Request, RetryPolicy
from async_core.errors import ConnectError, ConnectionDenied, DestinationDenied
from async_core.sessions import SessionPool
from async_core.transport import AiohttpTransport, session_factory


@pytest.fixture
async def upstream():
    seen: list[str] = []

    async def handler(request):
        seen.append(request.path)
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}", seen
    await runner.cleanup()


def _transport(connector, trace_configs=()) -> AiohttpTransport:
    return AiohttpTransport(SessionPool(session_factory(connector=connector,
                                                        trace_configs=trace_configs)))


async def test_custom_connector_and_trace_configs_keep_the_sent_signal(upstream):
    base, seen = upstream
    sockets, started = [], []

    def counting_socket(addr_info):
        sockets.append(addr_info[4][0])
        family, type_, proto, _, _ = addr_info
        return socket.socket(family=family, type=type_, proto=proto)

    async def on_start(session, context, params):
        started.append(str(params.url))

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    transport = _transport(lambda: aiohttp.TCPConnector(socket_factory=counting_socket), [trace])
    signalled = []
    try:
        response = await transport.send(
            Request("GET", f"{base}/a", {}), None, lambda: signalled.append(True)
        )
        assert response.status == 200
    finally:
        await transport.aclose()
    assert sockets == ["127.0.0.1"]  # our connector opened the connection
    assert started == [f"{base}/a"]  # our trace config saw the request
    assert signalled == [True]  # the engine's request class still says "on the wire"
    assert seen == ["/a"]


async def test_a_denied_destination_is_one_attempt_and_not_retried(upstream):
    base, seen = upstream
    calls = []

    def refusing_socket(addr_info):
        calls.append(addr_info[4][0])
        raise ConnectionDenied("address filter: loopback is not allowed", address="127.0.0.1")

    transport = _transport(lambda: aiohttp.TCPConnector(socket_factory=refusing_socket))
    client = AsyncClient(transport=transport, policy=RetryPolicy(max_retries=4,
                                                                 backoff_factor=0))
    try:
        with pytest.raises(DestinationDenied) as info:
            await client.send(Request("POST", f"{base}/x?token=SECRET1234", {}, b"{}"))
    finally:
        await client.aclose()
        await transport.aclose()
    error = info.value
    assert isinstance(error, ConnectError) and not error.retryable
    assert error.attempts == 1 and calls == ["127.0.0.1"]
    assert error.address == "127.0.0.1"
    assert error.reason == "address filter: loopback is not allowed"
    assert "SECRET1234" not in str(error)
    assert seen == []


async def test_a_denying_resolver_is_a_denied_destination(upstream):
    base, seen = upstream

    class Refusing(aiohttp.abc.AbstractResolver):
        calls = 0

        async def resolve(self, host, port=0, family=socket.AF_INET):
            Refusing.calls += 1
            raise ConnectionDenied(f"{host} is not on the allow-list", address=host)

        async def close(self):
            pass

    transport = _transport(lambda: aiohttp.TCPConnector(resolver=Refusing()))
    client = AsyncClient(transport=transport, policy=RetryPolicy(max_retries=3,
                                                                 backoff_factor=0))
    try:
        with pytest.raises(DestinationDenied, match="not on the allow-list") as info:
            await client.send(Request("GET", "http://internal.example/x", {}))
    finally:
        await client.aclose()
        await transport.aclose()
    assert info.value.attempts == 1 and Refusing.calls == 1
    assert info.value.address == "internal.example"
