"""A change made through one worker reaches the serving routes of every worker within a second:
by polling the database's version counter, and through Redis notifications when a Redis
rate-limit store is configured (the database is then polled only every 2 s, so a change seen
sooner came through Redis)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import time

import pytest
from aiohttp.test_utils import TestClient, TestServer

from mlflow.gateway.server.app import create_app
from mlflow.gateway.server.db_routes import DB_KEY, SAFETY_POLL_INTERVAL
from mlflow.gateway.server.options import ServerOptions
from mlflow.testing.openai_server import OpenAIServer

KEY = "sk-propagation-test-key"
CHAT = {"messages": [{"role": "user", "content": "hi"}]}
API = "/api/3.0/mlflow/gateway"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def redis_server():
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = _free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


async def _setup(store, first, second):
    ids = []
    for name, fake in (("first", first), ("second", second)):
        secret = await store.create_secret(
            name, {"api_key": KEY}, None, {"api_base": fake.api_base}
        )
        definition = await store.create_model_definition(
            name, secret.secret_id, "openai", "gpt-4o-mini"
        )
        ids.append(definition.model_definition_id)
    endpoint = await store.create_endpoint("chat", [{"model_definition_id": ids[0]}])
    return endpoint.endpoint_id, ids


async def _seconds_until_served_by(client, fake, limit: float = 1.0) -> float:
    """Requests to worker ``client`` until ``fake`` answers one; the time it took."""
    start = time.monotonic()
    before = len(fake.requests_to("/v1/chat/completions"))
    while time.monotonic() - start < limit:
        response = await client.post("/gateway/chat/mlflow/invocations", json=CHAT)
        assert response.status == 200
        await response.read()
        if len(fake.requests_to("/v1/chat/completions")) > before:
            return time.monotonic() - start
        await asyncio.sleep(0.02)
    raise AssertionError(f"the change did not reach the other worker within {limit} s")


async def _two_workers(db_uri, store, redis_uri=None):
    options = ServerOptions(
        backend_store_uri=db_uri, retry_budget_seconds=0, rate_limits_storage_uri=redis_uri
    )
    async with (
        OpenAIServer(api_key=KEY) as first,
        OpenAIServer(api_key=KEY) as second,
    ):
        endpoint_id, ids = await _setup(store, first, second)
        async with (
            TestClient(TestServer(create_app(options))) as worker_a,
            TestClient(TestServer(create_app(options))) as worker_b,
        ):
            # Both workers serve (and cache) the endpoint as it is.
            for worker in (worker_a, worker_b):
                response = await worker.post("/gateway/chat/mlflow/invocations", json=CHAT)
                assert response.status == 200
            # The write goes through worker A's management API.
            response = await worker_a.patch(
                f"{API}/endpoints/update",
                json={
                    "endpoint_id": endpoint_id,
                    "model_configs": [{"model_definition_id": ids[1]}],
                },
            )
            assert response.status == 200
            seconds = await _seconds_until_served_by(worker_b, second)
            return seconds, worker_b.server.app[DB_KEY]


async def test_change_reaches_another_worker_by_polling(db_uri, store, passphrase_env):
    seconds, runtime = await _two_workers(db_uri, store)
    print(f"\nchange reached the other worker by polling in {seconds:.3f} s")
    assert runtime.notifier is None
    assert seconds < 1.0


async def test_change_reaches_another_worker_through_redis(db_uri, store, passphrase_env):
    with redis_server() as redis_uri:
        seconds, runtime = await _two_workers(db_uri, store, redis_uri)
    print(f"\nchange reached the other worker through Redis in {seconds:.3f} s")
    assert runtime.notifier is not None
    assert runtime.serving.poll_interval == SAFETY_POLL_INTERVAL
    # Sooner than the safety poll could have noticed: the notice came through Redis.
    assert seconds < 1.0
