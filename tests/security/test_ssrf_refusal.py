"""An SSRF refusal is final: one connection attempt (no retries inside the budget), and the
caller gets a 502 whose JSON detail names the endpoint and the refused host, never a key. The
guarded transport is built through the engine's public session factory."""

from __future__ import annotations

import inspect
import socket

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver

from async_core import Request
from mlflow.gateway.config import GatewayConfig
from mlflow.gateway.server import app as app_module
from mlflow.gateway.server import ssrf
from mlflow.gateway.server.options import ServerOptions

from .conftest import PROVIDER_KEY


class _Rebinding(AbstractResolver):
    calls = 0

    def __init__(self, *args, **kwargs) -> None:
        pass

    async def resolve(self, host, port=0, family=socket.AF_INET):
        _Rebinding.calls += 1
        return [{"hostname": host, "host": "127.0.0.1", "port": port, "family": socket.AF_INET,
                 "proto": 0, "flags": socket.AI_NUMERICHOST}]

    async def close(self):
        pass


@pytest.fixture
async def upstream():
    seen = []

    async def handler(request):
        seen.append(request.path)
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield runner.addresses[0][1], seen
    await runner.cleanup()


async def test_refusal_is_not_retried_and_names_endpoint_and_host(monkeypatch, upstream):
    port, seen = upstream
    monkeypatch.setattr(
        ssrf.socket, "getaddrinfo",
        lambda *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 0))],
    )
    monkeypatch.setattr(aiohttp.resolver, "DefaultResolver", _Rebinding)
    _Rebinding.calls = 0
    config = GatewayConfig.model_validate({"endpoints": [{
        "name": "chat-prod", "endpoint_type": "llm/v1/chat",
        "model": {"provider": "openai", "name": "gpt-4o-mini",
                  "config": {"openai_api_key": PROVIDER_KEY,
                             "openai_api_base": f"http://rebind.example:{port}/v1"}}}]})
    # A retry budget: a retryable connect error would be tried again within it.
    gateway = app_module.create_app(
        ServerOptions(ssrf_guard=True, reload_interval=0, retry_budget_seconds=3), config
    )
    runner = web.AppRunner(gateway, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/endpoints/chat-prod/invocations"
    try:
        async with aiohttp.ClientSession() as session, session.post(
            url, json={"messages": [{"role": "user", "content": "hi"}]}
        ) as r:
            body = await r.json()
            status = r.status
    finally:
        await runner.cleanup()
    assert status == 502, body
    detail = body["detail"]
    assert detail.startswith(
        "Endpoint 'chat-prod': the SSRF guard refused to connect to the provider host "
        "rebind.example (127.0.0.1): rebind.example resolves to a loopback address"
    )
    assert "127.0.0.1" in detail and "loopback" in detail and "SSRF" in detail
    assert PROVIDER_KEY not in detail
    assert _Rebinding.calls == 1  # one connection attempt: the refusal was not retried
    assert seen == []


async def test_guarded_transport_uses_only_public_engine_names(monkeypatch, upstream):
    port, seen = upstream
    source = inspect.getsource(ssrf)
    assert "_SentSignallingRequest" not in source and "getattr(core_transport" not in source
    # Let loopback through (the guard's rule, not its wiring, is what we bypass) to see the
    # engine's "on the wire" signal survive the guarded connector.
    monkeypatch.setattr(ssrf, "forbidden_reason", lambda address: None)
    transport = ssrf.guarded_transport()
    sent = []
    try:
        response = await transport.send(
            Request("GET", f"http://127.0.0.1:{port}/v1/models", {}), None,
            lambda: sent.append(True),
        )
        assert response.status == 200
    finally:
        await transport.aclose()
    assert sent == [True] and seen == ["/v1/models"]
