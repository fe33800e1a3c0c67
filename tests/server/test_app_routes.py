"""The route table, JSON shapes and error bodies, against the real server on loopback (with an
in-memory provider: these tests are about the server, not the upstream)."""

from __future__ import annotations

import json

import pytest

from mlflow.gateway.server import routes
from tests.server.helpers import openai_endpoint, running_gateway
from tests.server.stub_provider import stub_factory

CONFIG = {
    "endpoints": [
        openai_endpoint("chat", limit={"calls": 5, "renewal_period": "minute"}),
        openai_endpoint("completions", "llm/v1/completions", model="gpt-3.5-turbo-instruct"),
        openai_endpoint("embeddings", "llm/v1/embeddings", model="text-embedding-3-small"),
    ]
}
CHAT = {"messages": [{"role": "user", "content": "hello"}]}


@pytest.fixture
async def gateway():
    script: dict = {}
    built: dict = {}
    script["built"] = built
    async with running_gateway(CONFIG, provider_factory=stub_factory(script, built),
                               max_body_bytes=4096) as running:
        yield running.session, script


async def test_health_and_endpoint_reads(gateway):
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
    async with session.get("/api/3.0/gateway/endpoint/embeddings") as r:
        assert (await r.json())["name"] == "embeddings"
    async with session.get("/api/2.0/endpoints/nope") as r:
        assert r.status == 404
        assert await r.json() == {"detail": "The endpoint 'nope' is not present or active on "
                                  "the server. Please verify the endpoint name."}


async def test_legacy_route_reads(gateway):
    session, _ = gateway
    async with session.get("/api/2.0/gateway/routes/") as r:
        body = await r.json()
    assert body["next_page_token"] is None
    assert body["routes"][1] == {
        "name": "completions", "route_type": "llm/v1/completions",
        "model": {"name": "gpt-3.5-turbo-instruct", "provider": "openai"},
        "route_url": "/gateway/completions/invocations", "limit": None,
    }
    async with session.get("/api/2.0/gateway/routes/chat") as r:
        assert (await r.json())["route_type"] == "llm/v1/chat"
    async with session.get("/api/2.0/gateway/routes/nope") as r:
        assert r.status == 404
        assert (await r.json())["detail"].startswith("The route 'nope' is not present")


async def test_pagination(gateway, monkeypatch):
    session, _ = gateway
    monkeypatch.setattr(routes, "PAGE_SIZE", 2)
    async with session.get("/api/2.0/endpoints/") as r:
        first = await r.json()
    assert [e["name"] for e in first["endpoints"]] == ["chat", "completions"]
    assert first["next_page_token"]
    async with session.get("/api/2.0/endpoints/",
                           params={"page_token": first["next_page_token"]}) as r:
        second = await r.json()
    assert [e["name"] for e in second["endpoints"]] == ["embeddings"]
    assert second["next_page_token"] is None
    async with session.get("/api/2.0/endpoints/", params={"page_token": "garbage"}) as r:
        assert r.status == 400 and "Invalid SearchRoutes token" in (await r.json())["detail"]


async def test_limits_routes_as_mlflow(gateway):
    session, _ = gateway
    for path in ("/api/2.0/endpoints/limits/chat", "/api/2.0/gateway/limits/chat"):
        async with session.get(path) as r:
            assert r.status == 501
            assert await r.json() == {"detail": "The get_limits API is not available yet."}
    for path in ("/api/2.0/endpoints/limits/", "/api/2.0/gateway/limits/"):
        async with session.post(path, json={"route": "chat", "limits": []}) as r:
            assert r.status == 501
            assert await r.json() == {"detail": "The set_limits API is not available yet."}
        async with session.post(path, json={"limits": []}) as r:
            assert r.status == 422
            assert (await r.json())["detail"][0]["loc"] == ["body", "route"]


async def test_invocations_both_prefixes(gateway):
    session, _ = gateway
    for path in ("/endpoints/chat/invocations", "/gateway/chat/invocations"):
        async with session.post(path, json=CHAT) as r:
            assert r.status == 200
            assert (await r.json())["choices"][0]["message"]["content"] == "chat: hello"
    # Non-ASCII text travels as UTF-8, as FastAPI writes it (no \\u escapes), and reads back.
    text = {"messages": [{"role": "user", "content": "héllo ✓"}]}
    async with session.post("/endpoints/chat/invocations", json=text) as r:
        raw = await r.read()
        assert "chat: héllo ✓".encode() in raw
        assert (await r.json())["choices"][0]["message"]["content"] == "chat: héllo ✓"
    async with session.post("/gateway/completions/invocations", json={"prompt": "a b"}) as r:
        assert (await r.json())["choices"][0]["text"] == "a b"
    async with session.post("/endpoints/embeddings/invocations", json={"input": ["x", "y"]}) as r:
        assert len((await r.json())["data"]) == 2
    # As MLflow's embeddings handler: "stream" does not make an embeddings call stream.
    async with session.post("/v1/embeddings",
                            json={"input": "x", "model": "embeddings", "stream": True}) as r:
        assert r.status == 200 and r.content_type == "application/json"


async def test_bad_input(gateway):
    session, script = gateway
    async with session.post("/endpoints/nope/invocations", json=CHAT) as r:
        assert r.status == 404 and await r.json() == {"detail": "Not Found"}
    async with session.post("/endpoints/chat/invocations", data=b"{not json") as r:
        assert r.status == 422
        assert (await r.json())["detail"][0]["type"] == "json_invalid"
    async with session.post("/endpoints/chat/invocations", data=b"") as r:
        assert r.status == 422 and (await r.json())["detail"][0]["type"] == "missing"
    async with session.post("/endpoints/chat/invocations", json=[1, 2]) as r:
        assert r.status == 422
    async with session.post("/endpoints/chat/invocations", json={"prompt": "x"}) as r:
        assert r.status == 422
        assert (await r.json())["detail"][0]["loc"][:2] == ["body", "messages"]
    async with session.post("/endpoints/chat/invocations", data=b"x" * 5000) as r:
        assert r.status == 413 and "4096" in (await r.json())["detail"]
    async with session.get("/no/such/path") as r:
        assert r.status == 404 and r.content_type == "application/json"
    async with session.get("/endpoints/chat/invocations") as r:
        assert r.status == 405 and await r.json() == {"detail": "Method Not Allowed"}
    # Nothing reached a provider.
    assert [p.calls for p in script["built"].values()] == [0, 0, 0]


async def test_non_finite_numbers_are_refused(gateway):
    session, script = gateway
    # NaN and Infinity are not JSON: refused with the value named, never forwarded as a token.
    for token in (b"NaN", b"-Infinity", b"1e999"):
        body = b'{"messages": [{"role": "user", "content": "x"}], "logit_scale": ' + token + b"}"
        async with session.post("/endpoints/chat/invocations", data=body) as r:
            assert r.status == 422
            detail = (await r.json())["detail"][0]
            assert detail["type"] == "json_invalid"
            assert detail["ctx"]["error"].startswith(f"{token.decode()} is not a JSON number")
    assert [p.calls for p in script["built"].values()] == [0, 0, 0]


async def test_openai_routes(gateway):
    session, _ = gateway
    async with session.post("/v1/chat/completions", json={**CHAT, "model": "chat"}) as r:
        assert r.status == 200 and (await r.json())["model"] == "chat"
    async with session.post("/v1/completions", json={"prompt": "p q", "model": "completions"}) as r:
        assert r.status == 200
    async with session.post("/v1/embeddings", json={"input": "x", "model": "embeddings"}) as r:
        assert r.status == 200
    async with session.post("/v1/chat/completions", json={**CHAT, "model": "nope"}) as r:
        assert r.status == 404 and r.content_type == "application/json"
        assert "'nope'" in (await r.json())["detail"]
    async with session.post("/v1/chat/completions", json={**CHAT, "model": "embeddings"}) as r:
        assert r.status == 400
        assert await r.json() == {"detail": "Endpoint 'embeddings' is not a chat endpoint."}
    async with session.post("/v1/chat/completions", json=CHAT) as r:
        assert r.status == 422 and (await r.json())["detail"][0]["loc"] == ["body", "model"]


async def test_upstream_error_status_passes_through(gateway):
    session, script = gateway
    script["fail"] = {"chat": 503}
    async with session.post("/endpoints/chat/invocations", json=CHAT) as r:
        assert r.status == 503 and await r.json() == {"detail": "stub chat failed"}
    async with session.post("/endpoints/chat/invocations", json={**CHAT, "stream": True}) as r:
        # A stream that fails before its first chunk gets its real status, not an empty 200.
        assert r.status == 503 and r.content_type == "application/json"


async def test_stream_sse_and_mid_stream_error(gateway):
    session, script = gateway
    body = {**CHAT, "stream": True}
    async with session.post("/endpoints/chat/invocations", json=body) as r:
        assert r.status == 200 and r.content_type == "text/event-stream"
        text = (await r.read()).decode()
    events = [e for e in text.split("\n\n") if e]
    assert events[-1] == "data: [DONE]"
    assert [json.loads(e[6:])["choices"][0]["delta"]["content"] for e in events[:-1]] == [
        "chat", "says", "hi"]
    script["mid_fail"] = True
    async with session.post("/v1/chat/completions", json={**body, "model": "chat"}) as r:
        assert r.status == 200
        text = (await r.read()).decode()
    events = [e for e in text.split("\n\n") if e]
    assert len(events) == 2 and "[DONE]" not in text
    assert events[1].startswith("event: error\ndata: ")
    assert json.loads(events[1].split("data: ", 1)[1])["error"]["code"] == 502
