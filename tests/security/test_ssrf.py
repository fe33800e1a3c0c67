"""SSRF guard: refused at config load, at connect time (DNS rebinding, IP literals), redirects."""

from __future__ import annotations

import socket

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver

from mlflow.exceptions import MlflowException
from mlflow.gateway.config import GatewayConfig
from mlflow.gateway.server import ssrf

from .conftest import PROVIDER_KEY


def _config(api_base: str, provider: str = "openai", field: str = "openai_api_base"):
    return GatewayConfig.model_validate(
        {
            "endpoints": [
                {
                    "name": "chat-ep",
                    "endpoint_type": "llm/v1/chat",
                    "model": {
                        "name": "gpt-4o-mini",
                        "provider": provider,
                        "config": {"openai_api_key": PROVIDER_KEY, field: api_base},
                    },
                }
            ]
        }
    )


@pytest.mark.parametrize(
    ("api_base", "shown", "kind"),
    [
        ("http://127.0.0.1:9000/v1", "127.0.0.1", "loopback"),
        ("http://[::1]:9000/v1", "::1", "loopback"),
        ("http://localhost:11434/v1", "localhost", "loopback"),
        ("http://169.254.169.254/latest/meta-data", "169.254.169.254", "link-local"),
        ("http://10.1.2.3/v1", "10.1.2.3", "private"),
        ("http://192.168.0.5/v1", "192.168.0.5", "private"),
        ("http://172.20.0.5/v1", "172.20.0.5", "private"),
        ("http://100.100.100.200/v1", "100.100.100.200", "private"),
        ("http://[fd00::1]/v1", "fd00::1", "private"),
        ("http://[::ffff:127.0.0.1]/v1", "::ffff:127.0.0.1", "loopback"),
        ("http://0.0.0.0:80/v1", "0.0.0.0", "unspecified"),
        (f"http://user:{PROVIDER_KEY}@10.0.0.1/v1", "10.0.0.1", "private"),
    ],
)
def test_config_load_refuses_internal_provider_hosts(api_base, shown, kind):
    with pytest.raises(MlflowException) as info:
        ssrf.check_config(_config(api_base))
    message = str(info.value)
    assert "Endpoint 'chat-ep'" in message
    assert f"provider host {shown}" in message and f"a {kind} address" in message
    assert PROVIDER_KEY not in message


def test_config_load_resolves_names(monkeypatch):
    def fake_getaddrinfo(host, port, family=0, type=0, *args):
        table = {"rebind.example": "10.9.8.7", "public.example": "93.184.216.34"}
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (table[host], 0))]

    monkeypatch.setattr(ssrf.socket, "getaddrinfo", fake_getaddrinfo)
    with pytest.raises(MlflowException, match=r"rebind\.example \(10\.9\.8\.7\) is a private"):
        ssrf.check_config(_config("https://rebind.example/v1"))
    ssrf.check_config(_config("https://public.example/v1"))  # no error


def test_config_load_accepts_public_hosts_and_other_url_fields():
    ssrf.check_config(_config("https://8.8.8.8/v1"))
    serving = {
        "endpoints": [
            {
                "name": "served",
                "endpoint_type": "llm/v1/completions",
                "model": {
                    "name": "m",
                    "provider": "mlflow-model-serving",
                    "config": {"model_server_url": "http://127.0.0.1:5001"},
                },
            }
        ]
    }
    with pytest.raises(MlflowException, match="Endpoint 'served'"):
        ssrf.check_config(GatewayConfig.model_validate(serving))
    with pytest.raises(MlflowException, match="Endpoint 'served'"):
        ssrf.check_config(serving)  # a plain mapping works too


class _FixedResolver(AbstractResolver):
    """Answers every name with one address: a DNS server that rebinds."""

    def __init__(self, address: str) -> None:
        self.address = address

    async def resolve(self, host, port=0, family=socket.AF_INET):
        return [
            {"hostname": host, "host": self.address, "port": port, "family": socket.AF_INET,
             "proto": 0, "flags": socket.AI_NUMERICHOST}
        ]

    async def close(self):
        pass


@pytest.fixture
async def loopback_upstream():
    seen = []

    async def handler(request):
        seen.append(request.path)
        if request.path == "/redirect":
            raise web.HTTPFound("/target")
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield runner.addresses[0][1], seen
    await runner.cleanup()


async def test_connect_time_refuses_a_name_that_rebinds_to_loopback(loopback_upstream):
    port, seen = loopback_upstream
    url = f"http://rebind.example:{port}/v1/chat/completions"
    # Control: an unguarded connector with the same resolver does reach the loopback server.
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(resolver=_FixedResolver("127.0.0.1"))
    ) as plain, plain.post(url) as r:
        assert r.status == 200
    assert seen == ["/v1/chat/completions"]
    guarded = aiohttp.TCPConnector(
        resolver=ssrf.SSRFGuardResolver(_FixedResolver("127.0.0.1")),
        socket_factory=ssrf.guarded_socket_factory,
    )
    async with ssrf.guarded_session_factory(connector=guarded) as session:
        with pytest.raises(aiohttp.ClientConnectorError) as info:
            await session.post(url)
    assert "rebind.example resolves to a loopback address" in str(info.value.os_error)
    assert seen == ["/v1/chat/completions"]  # nothing more reached the upstream


async def test_resolver_passes_public_answers():
    resolver = ssrf.SSRFGuardResolver(_FixedResolver("93.184.216.34"))
    results = await resolver.resolve("api.example", 443)
    assert [r["host"] for r in results] == ["93.184.216.34"]
    with pytest.raises(ssrf.SSRFRefused, match="link-local"):
        await ssrf.SSRFGuardResolver(_FixedResolver("169.254.169.254")).resolve("x", 80)


async def test_connect_time_refuses_ip_literals(loopback_upstream):
    port, seen = loopback_upstream
    async with ssrf.guarded_session_factory() as session:
        with pytest.raises(aiohttp.ClientConnectorError) as info:
            await session.get(f"http://127.0.0.1:{port}/v1/models")
    assert "refusing to connect to a loopback address" in str(info.value.os_error)
    assert seen == []


async def test_redirects_are_not_followed(loopback_upstream):
    port, seen = loopback_upstream
    # An unguarded connector (so loopback is reachable) in a guarded session: the redirect alone
    # is refused.
    async with ssrf.guarded_session_factory(connector=aiohttp.TCPConnector()) as session:
        with pytest.raises(ssrf.RedirectRefused, match="302"):
            await session.get(f"http://127.0.0.1:{port}/redirect")
    assert seen == ["/redirect"]  # /target never requested


async def test_guarded_transport_in_the_async_core(loopback_upstream):
    from async_core import AsyncClient, Request, RetryPolicy
    from mlflow.gateway.exceptions import AIGatewayException

    port, seen = loopback_upstream
    transport = ssrf.guarded_transport()
    # Retries allowed: a refusal is final all the same.
    client = AsyncClient(transport=transport, policy=RetryPolicy(max_retries=3))
    try:
        with pytest.raises(AIGatewayException) as info:
            await client.send(Request("GET", f"http://127.0.0.1:{port}/v1/models"))
        assert info.value.status_code == 502
        assert info.value.detail.startswith(
            "The SSRF guard refused to connect to the provider host 127.0.0.1: refusing to "
            "connect to a loopback address."
        )
        assert PROVIDER_KEY not in str(info.value)
    finally:
        await client.aclose()
        await transport.aclose()
    assert seen == []


async def test_guarded_transport_uses_only_public_engine_names(monkeypatch, loopback_upstream):
    import inspect

    from async_core import Request

    port, seen = loopback_upstream
    source = inspect.getsource(ssrf)
    assert "_SentSignallingRequest" not in source and "getattr(core_transport" not in source
    # Let loopback through (the guard's rule, not its wiring, is bypassed) to see the engine's
    # "on the wire" signal survive the guarded connector.
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
