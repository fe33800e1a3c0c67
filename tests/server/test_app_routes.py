"""The route table, JSON shapes and error bodies, against the real server on loopback (with an
in-memory provider: these tests are about the server, not the upstream)."""

from __future__ import annotations

import json

import aiohttp
import pytest
from aiohttp import web

from mlflow.gateway.config import GatewayConfig
from mlflow.gateway.server.app import create_app
from mlflow.gateway.server.options import ServerOptions
from tests.server.stub_provider import stub_factory

CONFIG = {
    "endpoints": [
        {"name": "chat", "endpoint_type": "llm/v1/chat",
         "model": {"provider": "openai", "name": "gpt-4o-mini",
                   "config": {"openai_api_key": "sk-secret-123"}},
         "limit": {"calls": 5, "renewal_period": "minute"}},
        {"name": "completions", "endpoint_type": "llm/v1/completions",
         "model": {"provider": "openai", "name": "gpt-3.5-turbo-instruct",
                   "config": {"openai_api_key": "sk-secret-123"}}},
        {"name": "embeddings", "endpoint_type": "llm/v1/embeddings",
         "model": {"provider": "openai", "name": "text-embedding-3-small",
                   "config": {"openai_api_key": "sk-secret-123"}}},
    ]
}


@pytest.fixture
async def gateway():
    script: dict = {}
    options = ServerOptions(reload_interval=0, max_body_bytes=4096)
    app = create_app(options, GatewayConfig.model_validate(CONFIG),
                     provider_factory=stub_factory(script))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as session:
        yield session, script
    await runner.cleanup()


async def test_health_and_lists(gateway):
    session, _ = gateway
    async with session.get("/health") as r:
        assert r.status == 200 and await r.json() == {"status": "OK"}
    async with session.get("/api/2.0/endpoints/") as r:
        body = await r.json()
    assert body["next_page_token"] is None
    assert body["endpoints"][0] == {
        "name": "chat", "endpoint_type": "llm/v1/chat",
        "model": {"name": "gpt-4o-mini", "provider": "openai"},
        "endpoint_url": "/gateway/chat/invocations",
        "limit": {"calls": 5, "key": None, "renewal_period": "minute"},
    }
    assert "sk-secret" not in json.dumps(body)
    async with session.get("/api/2.0/endpoints/embeddings") as r:
        assert (await r.json())["limit"] is None
    async with session.get("/api/2.0/endpoints/nope") as r:
        assert r.status == 404
        assert (await r.json())["detail"].startswith("The endpoint 'nope' is not present")
    async with session.get("/api/2.0/gateway/routes/") as r:
        routes = (await r.json())["routes"]
    assert routes[1]["route_type"] == "llm/v1/completions"
    assert routes[1]["route_url"] == "/gateway/completions/invocations"


async def test_invocations_and_errors(gateway):
    session, _ = gateway
    body = {"messages": [{"role": "user", "content": "hello"}]}
    for path in ("/endpoints/chat/invocations", "/gateway/chat/invocations"):
        async with session.post(path, json=body) as r:
            assert r.status == 200
            assert (await r.json())["choices"][0]["message"]["content"] == "chat: hello"
    async with session.post("/endpoints/nope/invocations", json=body) as r:
        assert r.status == 404 and await r.json() == {"detail": "Not Found"}
    async with session.post("/endpoints/chat/invocations", data=b"{not json") as r:
        assert r.status == 422
        assert (await r.json())["detail"][0]["type"] == "json_invalid"
    async with session.post("/endpoints/chat/invocations", json={"prompt": "x"}) as r:
        assert r.status == 422
        assert (await r.json())["detail"][0]["loc"][:2] == ["body", "messages"]
    async with session.post("/endpoints/chat/invocations", data=b"x" * 5000) as r:
        assert r.status == 413 and "4096" in (await r.json())["detail"]
    async with session.get("/no/such/path") as r:
        assert r.status == 404 and r.content_type == "application/json"


async def test_stream_sse(gateway):
    session, _ = gateway
    body = {"messages": [{"role": "user", "content": "hello"}], "stream": True}
    async with session.post("/endpoints/chat/invocations", json=body) as r:
        assert r.status == 200 and r.content_type == "text/event-stream"
        text = (await r.read()).decode()
    events = [e for e in text.split("\n\n") if e]
    assert events[-1] == "data: [DONE]"
    assert json.loads(events[0][len("data: "):])["choices"][0]["delta"]["content"] == "chat"
