"""How http_request fails: timeouts, invalid URLs, refused connections."""

from __future__ import annotations

import asyncio
import socket

import pytest
from conftest import Reply

from async_core import ConnectError
from mlflow.exceptions import InvalidUrlException, MlflowException
from mlflow.utils.rest_utils import MlflowHostCreds

FAST = {"backoff_factor": 0, "backoff_jitter": 0}


def closed_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_timeout_names_the_environment_variable(call, server):
    server.default = Reply(200, delay=10)
    with pytest.raises(MlflowException) as info:
        await call(MlflowHostCreds(server.url), "/slow", "GET", timeout=0.3, max_retries=0)
    message = str(info.value)
    assert message.startswith(f"API request to {server.url}/slow failed with timeout exception")
    assert "MLFLOW_HTTP_REQUEST_TIMEOUT" in message
    assert isinstance(info.value.__cause__, asyncio.TimeoutError)
    assert len(server.attempts) == 1


async def test_read_timeouts_are_retried(call, server):
    server.default = Reply(200, delay=10)
    with pytest.raises(MlflowException, match="MLFLOW_HTTP_REQUEST_TIMEOUT"):
        await call(MlflowHostCreds(server.url), "/slow", "GET", timeout=0.2, max_retries=1,
                   **FAST)
    assert len(server.attempts) == 2


async def test_timeout_from_the_environment(call, server, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "1")
    server.script(Reply(200, delay=0.2))
    # Within the (integer) environment timeout: fine.
    assert (await call(MlflowHostCreds(server.url), "/t", "GET")).status_code == 200


@pytest.mark.parametrize(
    "host",
    [
        "http://exa mple.com",
        "http://[::1",
        "http://host:99999",
        "http://host:port",
        "http://:80",
        "not a url",
    ],
)
async def test_invalid_url(call, host):
    with pytest.raises(InvalidUrlException) as info:
        await call(MlflowHostCreds(host), "/api/x", "GET", max_retries=0)
    assert str(info.value) == f"Invalid url: {host}/api/x"
    assert isinstance(info.value, MlflowException)


async def test_connection_refused_is_chained_to_the_transport_error(call):
    url = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(MlflowException) as info:
        await call(MlflowHostCreds(url), "/x", "POST", json={}, max_retries=2, **FAST)
    assert str(info.value).startswith(f"API request to {url}/x failed with exception ")
    assert isinstance(info.value.__cause__, ConnectError)
    assert info.value.__cause__.reason == "connection refused"
    assert not isinstance(info.value, InvalidUrlException)


async def test_secrets_in_the_url_stay_out_of_error_messages(call):
    url = f"http://user:hunter2@127.0.0.1:{closed_port()}"
    with pytest.raises(MlflowException) as info:
        await call(MlflowHostCreds(url), "/x", "GET", max_retries=0)
    assert "hunter2" not in str(info.value)


async def test_oauth_client_secret_without_sdk_is_refused(call, server, monkeypatch):
    monkeypatch.setenv("MLFLOW_ENABLE_DB_SDK", "false")
    creds = MlflowHostCreds(server.url, client_id="id", client_secret="very-secret")
    with pytest.raises(MlflowException) as info:
        await call(creds, "/x", "GET")
    assert "MLFLOW_ENABLE_DB_SDK" in str(info.value)
    assert "very-secret" not in str(info.value)
    assert server.attempts == []


async def test_server_dropping_the_connection_is_retried(call, server):
    def drop_first(request, attempt):
        if len(server.attempts) == 1:
            request.transport.close()  # hang up without answering
            return Reply(200)  # never delivered
        return Reply(200, json={"second": True})

    server.respond_with(drop_first)
    response = await call(MlflowHostCreds(server.url), "/drop", "GET", max_retries=2, **FAST)
    assert response.json() == {"second": True}
    assert len(server.attempts) >= 2


async def test_timeout_bounds_each_read_not_the_whole_response(call, server):
    """requests' timeout is per socket read: a slow but steady body must not time out."""

    async def dribble(request, attempt):
        from aiohttp import web

        response = web.StreamResponse()
        await response.prepare(request)
        for _ in range(6):
            await asyncio.sleep(0.15)
            await response.write(b"chunk;")
        await response.write_eof()
        return response

    server.respond_with(dribble)
    response = await call(MlflowHostCreds(server.url), "/dribble", "GET", timeout=0.6,
                          max_retries=0)
    assert response.content == b"chunk;" * 6
