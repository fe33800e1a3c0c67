"""The gateway in front of real upstreams on loopback, through the real OpenAI provider: response
shapes, retries and Retry-After within the budget, connect failures and timeouts, pooled
connections, key scrubbing, streams that fail before or during their first chunk, and a caller
that leaves mid-stream."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from mlflow.testing.openai_server import OpenAIServer
from tests.conftest import Reply
from tests.server.helpers import openai_endpoint, running_gateway

KEY = "sk-test-key"
CHAT = {"messages": [{"role": "user", "content": "hello there"}]}
CHAT_REPLY = {
    "id": "chatcmpl-9", "object": "chat.completion", "created": 1700000000,
    "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "fine"},
                 "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}


def _config(api_base: str, **extra):
    return {"endpoints": [
        openai_endpoint("chat", api_base=api_base, key=KEY, **extra),
        openai_endpoint("completions", "llm/v1/completions", api_base=api_base, key=KEY,
                        model="gpt-3.5-turbo-instruct"),
        openai_endpoint("embeddings", "llm/v1/embeddings", api_base=api_base, key=KEY,
                        model="text-embedding-3-small"),
    ]}


@pytest.fixture
async def openai_fake():
    server = OpenAIServer(api_key=KEY)
    async with server:
        yield server


async def test_shapes_through_the_openai_provider(openai_fake):
    async with running_gateway(_config(openai_fake.api_base)) as gw:
        async with gw.session.post("/endpoints/chat/invocations", json=CHAT) as r:
            assert r.status == 200
            body = await r.json()
        message = body["choices"][0]["message"]
        assert {"tool_calls", "refusal"} <= message.keys() and message["role"] == "assistant"
        assert body["object"] == "chat.completion" and "usage" in body
        async with gw.session.post("/gateway/completions/invocations",
                                   json={"prompt": "one two"}) as r:
            assert r.status == 200 and (await r.json())["choices"][0]["text"]
        async with gw.session.post("/endpoints/embeddings/invocations",
                                   json={"input": ["a", "b"]}) as r:
            assert len((await r.json())["data"]) == 2
        async with gw.session.post("/endpoints/chat/invocations",
                                   json={**CHAT, "stream": True}) as r:
            assert r.status == 200
            text = await r.text()
        assert text.endswith("data: [DONE]\n\n")
        chunks = [json.loads(line[6:]) for line in text.split("\n")
                  if line.startswith("data: {")]
        assert chunks and all(c["object"] == "chat.completion.chunk" for c in chunks)
    sent = openai_fake.requests_to("/v1/chat/completions")
    assert sent[0].header("Authorization") == f"Bearer {KEY}"
    assert sent[0].json()["model"] == "gpt-4o-mini"


async def test_connections_are_pooled(recording_server):
    recording_server.default = Reply(json=CHAT_REPLY)
    async with running_gateway(_config(recording_server.url + "/v1")) as gw:
        for _ in range(20):
            async with gw.session.post("/endpoints/chat/invocations", json=CHAT) as r:
                assert r.status == 200
        await asyncio.gather(*(_post(gw, CHAT) for _ in range(8)))
    assert len(recording_server.attempts) == 28
    assert recording_server.connections <= 8


async def _post(gw, body, path="/endpoints/chat/invocations"):
    async with gw.session.post(path, json=body) as r:
        return r.status, dict(r.headers), await r.read()


async def test_retries_a_503_then_succeeds(recording_server):
    recording_server.script(Reply(status=503, json={"error": {"message": "busy"}}))
    recording_server.default = Reply(json=CHAT_REPLY)
    seen: list = []
    async with running_gateway(_config(recording_server.url + "/v1"), seen=seen) as gw:
        status, _, body = await _post(gw, CHAT)
    assert status == 200 and json.loads(body)["choices"][0]["message"]["content"] == "fine"
    assert len(recording_server.attempts) == 2
    # The request's RequestInfo (read by metrics, the access log, the limiter).
    (info,) = seen
    assert (info.endpoint, info.provider) == ("chat", "openai")
    assert (info.upstream_attempts, info.upstream_retries) == (2, 1)
    assert info.streamed is False and info.first_byte_seconds is None


async def test_stream_request_info_has_first_byte_time(openai_fake):
    seen: list = []
    async with running_gateway(_config(openai_fake.api_base), seen=seen) as gw:
        status, _, _ = await _post(gw, {**CHAT, "stream": True}, "/gateway/chat/invocations")
    assert status == 200
    (info,) = seen
    assert info.streamed and info.first_byte_seconds is not None and info.first_byte_seconds > 0
    assert info.upstream_attempts == 1 and info.endpoint == "chat"


async def test_retry_after_beyond_budget_goes_back_at_once(recording_server):
    recording_server.default = Reply(
        status=429, headers={"Retry-After": "30"},
        json={"error": {"message": "slow down", "type": "rate_limit"}})
    async with running_gateway(_config(recording_server.url + "/v1"),
                               retry_budget_seconds=2) as gw:
        started = time.monotonic()
        status, headers, body = await _post(gw, CHAT)
        elapsed = time.monotonic() - started
    assert status == 429 and headers["Retry-After"] == "30"
    assert len(recording_server.attempts) == 1
    assert elapsed < 10  # not waited out
    assert "detail" in json.loads(body)


async def test_retries_run_out_and_429_is_passed_on(recording_server):
    recording_server.default = Reply(
        status=429, headers={"Retry-After": "0.01"}, json={"error": {"message": "slow down"}})
    async with running_gateway(
        _config(recording_server.url + "/v1", retry_budget_seconds=0.4)
    ) as gw:
        status, headers, _ = await _post(gw, CHAT)
    assert status == 429 and "Retry-After" in headers
    assert len(recording_server.attempts) > 1


async def test_connect_failure_is_502_without_key(unused_tcp_port):
    async with running_gateway(_config(f"http://127.0.0.1:{unused_tcp_port}/v1"),
                               retry_budget_seconds=0) as gw:
        status, headers, body = await _post(gw, CHAT)
    assert status == 502
    assert KEY not in body.decode() and KEY not in json.dumps(headers)
    assert json.loads(body)["detail"]


async def test_timeout_is_504(recording_server):
    recording_server.default = Reply(json=CHAT_REPLY, delay=2)
    async with running_gateway(_config(recording_server.url + "/v1"),
                               retry_budget_seconds=0, upstream_timeout=0.2) as gw:
        status, _, body = await _post(gw, CHAT)
    assert status == 504 and json.loads(body)["detail"]


async def test_upstream_error_echoing_the_key_is_scrubbed(recording_server):
    recording_server.default = Reply(
        status=400, json={"error": {"message": f"bad request with Authorization: Bearer {KEY}"}})
    async with running_gateway(_config(recording_server.url + "/v1")) as gw:
        status, headers, body = await _post(gw, CHAT)
    assert status == 400
    assert KEY not in body.decode() and KEY not in json.dumps(headers)


async def test_stream_failing_before_first_chunk_gets_real_status(openai_fake):
    openai_fake.inject(503, {"error": {"message": "overloaded"}}, times=None,
                       path="/v1/chat/completions")
    async with running_gateway(_config(openai_fake.api_base), retry_budget_seconds=0) as gw:
        status, headers, body = await _post(gw, {**CHAT, "stream": True})
    assert status == 503 and headers["Content-Type"].startswith("application/json")
    assert json.loads(body)["detail"]


async def test_stream_failing_mid_way_ends_with_error_event(openai_fake):
    openai_fake.inject(stream_error_after=1, path="/v1/chat/completions")
    async with running_gateway(_config(openai_fake.api_base)) as gw:
        status, _, body = await _post(gw, {**CHAT, "stream": True})
    text = body.decode()
    assert status == 200 and "event: error" in text and "[DONE]" not in text


async def test_client_disconnect_cancels_upstream(recording_server):
    async def slow_stream(request, attempt):
        from aiohttp import web

        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
                 "choices": [{"index": 0, "delta": {"role": "assistant", "content": "x"},
                              "finish_reason": None}]}
        try:
            for _ in range(200):
                await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
                await asyncio.sleep(0.02)
        except (ConnectionResetError, asyncio.CancelledError):
            recording_server.cancelled.set()
            raise
        return response

    recording_server.respond_with(slow_stream)
    async with running_gateway(_config(recording_server.url + "/v1")) as gw:
        response = await gw.session.post("/endpoints/chat/invocations",
                                         json={**CHAT, "stream": True})
        assert response.status == 200
        await response.content.readline()
        response.close()  # the caller leaves
        for _ in range(150):
            if recording_server.cancelled.is_set():
                break
            await asyncio.sleep(0.02)
    assert recording_server.cancelled.is_set()


async def test_traffic_route_falls_back_past_a_dead_upstream(openai_fake, unused_tcp_port):
    dead = f"http://127.0.0.1:{unused_tcp_port}/v1"
    config = {
        "endpoints": [openai_endpoint("down", api_base=dead, key=KEY),
                      openai_endpoint("up", api_base=openai_fake.api_base, key=KEY)],
        "routes": [{"name": "chat", "task_type": "llm/v1/chat",
                    "destinations": [{"name": "down", "traffic_percentage": 100}],
                    "fallbacks": ["up"]}],
    }
    seen: list = []
    async with running_gateway(config, retry_budget_seconds=0, seen=seen) as gw:
        for body in (CHAT, {**CHAT, "stream": True}):
            status, _, text = await _post(gw, {**body, "model": "chat"}, "/v1/chat/completions")
            assert status == 200 and b"choices" in text
    assert [(i.endpoint, i.upstream_attempts) for i in seen] == [("up", 2), ("up", 2)]
    assert len(openai_fake.requests_to("/v1/chat/completions")) == 2
