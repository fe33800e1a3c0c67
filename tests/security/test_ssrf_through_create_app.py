"""DNS rebinding end to end: a provider host that was public when the config loaded and resolves
to loopback when the gateway connects is refused (502), and nothing reaches the loopback server.
The refusal is final (one connection attempt, no retry inside the budget) and its JSON detail
names the endpoint and the refused host, never a key."""

from __future__ import annotations

import socket

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver

from mlflow.gateway.config import GatewayConfig
from mlflow.gateway.server import app as app_module
from mlflow.gateway.server import ssrf
from mlflow.gateway.server.options import ServerOptions

from .conftest import PROVIDER_KEY

pytestmark = pytest.mark.skipif(
    not hasattr(app_module, "_ssrf_guard"), reason="this app factory does not wire the SSRF guard"
)


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


async def test_rebinding_provider_host_is_refused_at_connect_time(monkeypatch):
    seen = []

    async def upstream(request):
        seen.append(request.path)
        return web.json_response({})

    up = web.Application()
    up.router.add_route("*", "/{tail:.*}", upstream)
    up_runner = web.AppRunner(up)
    await up_runner.setup()
    await web.TCPSite(up_runner, "127.0.0.1", 0).start()
    port = up_runner.addresses[0][1]

    # Config load: the name resolves to a public address ...
    monkeypatch.setattr(
        ssrf.socket, "getaddrinfo",
        lambda *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 0))],
    )
    # ... connect time: the same name now answers loopback.
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
        assert r.status == 502, body
    finally:
        await runner.cleanup()
        await up_runner.cleanup()
    detail = body["detail"]
    assert detail.startswith(
        "Endpoint 'chat-prod': the SSRF guard refused to connect to the provider host "
        "rebind.example (127.0.0.1): rebind.example resolves to a loopback address"
    )
    assert PROVIDER_KEY not in detail
    assert _Rebinding.calls == 1  # one connection attempt: the refusal was not retried
    assert seen == []
