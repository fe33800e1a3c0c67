"""The security layers inside the server's own app factory (create_app), on loopback, and the
secret scan: provider and caller keys never in a response, a log line or /metrics."""

from __future__ import annotations

import json
import logging
import re

import aiohttp
import pytest
from aiohttp import web

from mlflow.gateway.config import GatewayConfig
from mlflow.gateway.server.app import create_app
from mlflow.gateway.server.options import ServerOptions
from mlflow.gateway.server.state import STATE_KEY
from tests.server.stub_provider import StubProvider

from .conftest import CALLER_KEY, PROVIDER_KEY
from .test_metrics import samples, value

CONFIG = {
    "endpoints": [
        {"name": name, "endpoint_type": "llm/v1/chat",
         "model": {"provider": "openai", "name": "gpt-4o-mini",
                   "config": {"openai_api_key": PROVIDER_KEY}}}
        for name in ("chat", "failing", "leaky")
    ]
}
CHAT = {"messages": [{"role": "user", "content": "hello"}]}


class LeakyProvider(StubProvider):
    """A careless provider: its exception quotes the upstream request's Authorization header."""

    async def chat(self, payload):
        raise RuntimeError(f"upstream refused; request had Authorization: Bearer {PROVIDER_KEY}")


def _factory(endpoint, client, policy):
    script = {"fail": {"failing": 502}}
    cls = LeakyProvider if endpoint.name == "leaky" else StubProvider
    return cls(endpoint.name, script)


@pytest.fixture
async def gateway(monkeypatch):
    monkeypatch.setenv("GW_TEST_KEYS", f"team-a:{CALLER_KEY}")
    options = ServerOptions(reload_interval=0, api_keys_env="GW_TEST_KEYS")
    app = create_app(options, GatewayConfig.model_validate(CONFIG), provider_factory=_factory)
    # As serve.py runs it: aiohttp's own access log off (it would log query strings).
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as session:
        yield session, app
    await runner.cleanup()


AUTH = {"Authorization": f"Bearer {CALLER_KEY}"}


async def test_layers_are_installed_in_the_app_factory(gateway, caplog):
    caplog.set_level(logging.INFO, logger="mlflow.gateway.access")
    session, app = gateway
    async with session.post("/endpoints/chat/invocations", json=CHAT) as r:
        assert r.status == 401
        assert r.headers["X-Content-Type-Options"] == "nosniff"
    async with session.post("/endpoints/chat/invocations", json=CHAT, headers=AUTH) as r:
        assert r.status == 200
        assert r.headers["X-Frame-Options"] == "SAMEORIGIN"
        request_id = r.headers["X-Request-Id"]
    async with session.post(
        "/v1/chat/completions", json={**CHAT, "model": "chat"},
        headers={**AUTH, "Origin": "https://evil.example"},
    ) as r:
        assert r.status == 403
    async with session.get("/api/2.0/endpoints/", headers={**AUTH, "Host": "evil.com"}) as r:
        assert r.status == 403
    async with session.get("/health/ready") as r:
        assert r.status == 200
    app[STATE_KEY].draining = True
    async with session.get("/health/ready") as r:
        assert r.status == 503
    async with session.get("/metrics") as r:
        m = samples(await r.text())
    ep = {"endpoint": "chat", "provider": "openai"}
    assert value(m, "mlflow_gateway_requests_total", **ep, status="200") == 1
    assert value(m, "mlflow_gateway_requests_total", endpoint="", provider="", status="401") == 1
    assert value(m, "mlflow_gateway_requests_total", endpoint="", provider="", status="403") == 2
    assert value(m, "mlflow_gateway_in_flight_requests", **ep) in (None, 0)  # none left
    assert value(m, "mlflow_gateway_in_flight_requests", endpoint="", provider="") == 1  # scrape
    lines = [rec.getMessage() for rec in caplog.records if rec.name == "mlflow.gateway.access"]
    assert any(
        f"request_id={request_id} method=POST path=/endpoints/chat/invocations endpoint=chat "
        "status=200" in line for line in lines
    )


async def test_secret_scan(gateway, caplog):
    caplog.set_level(logging.DEBUG)
    session, _ = gateway
    seen: list[str] = []

    async def call(method: str, path: str, echo_ok: bool = False, **kwargs) -> int:
        async with session.request(method, path, **kwargs) as r:
            text = await r.text()
            if not echo_ok:
                seen.append(text)
            seen.append(json.dumps(dict(r.headers)))
            return r.status

    statuses = [
        await call("POST", "/endpoints/chat/invocations", json=CHAT, headers=AUTH),
        await call("POST", "/v1/chat/completions",
                   json={**CHAT, "model": "chat", "stream": True}, headers=AUTH),
        await call("POST", "/endpoints/failing/invocations", json=CHAT, headers=AUTH),
        await call("POST", "/endpoints/leaky/invocations", json=CHAT, headers=AUTH),
        await call("POST", "/endpoints/chat/invocations", json=CHAT,
                   headers={"Authorization": f"Bearer {CALLER_KEY}-wrong"}),
        await call("GET", f"/api/2.0/endpoints/?api_key={CALLER_KEY}", headers=AUTH),
        await call("GET", "/api/2.0/endpoints/chat", headers=AUTH),
        await call("POST", "/endpoints/nope/invocations", json=CHAT, headers=AUTH),
        # A key where a name belongs must not become a metric label or a log field (the 404
        # may name the unknown model back to the caller who sent it, as MLflow's does).
        await call("POST", "/v1/chat/completions", echo_ok=True,
                   json={**CHAT, "model": CALLER_KEY}, headers=AUTH),
        await call("GET", "/metrics"),
    ]
    assert statuses == [200, 200, 502, 500, 401, 200, 200, 404, 404, 200]
    logged = "\n".join(
        rec.getMessage() + (rec.exc_text or "") for rec in caplog.records
    )
    everything = "\n".join(seen) + "\n" + logged
    for secret in (PROVIDER_KEY, CALLER_KEY):
        where = everything.find(secret)
        assert where < 0, everything[max(0, where - 300): where + 60]
        # Not even a recognisable piece of it.
        assert secret[-12:] not in everything
    assert re.search(r"status=500", logged)  # the scan did see the failing requests' lines


async def test_openai_sdk_with_caller_keys(gateway):
    import openai

    session, _ = gateway
    base = str(session._base_url).rstrip("/") + "/v1"
    good = openai.AsyncOpenAI(base_url=base, api_key=CALLER_KEY, max_retries=0)
    bad = openai.AsyncOpenAI(base_url=base, api_key="not-a-key", max_retries=0)
    try:
        reply = await good.chat.completions.create(model="chat", messages=CHAT["messages"])
        assert reply.choices[0].message.content == "chat: hello"
        with pytest.raises(openai.AuthenticationError) as info:
            await bad.chat.completions.create(model="chat", messages=CHAT["messages"])
        assert info.value.status_code == 401
        assert "Invalid API key" in str(info.value)
    finally:
        await good.close()
        await bad.close()
