"""The engine over the real AiohttpTransport: a one-connection pool, aioresponses unit cases, and
the per-loop session pool."""

from __future__ import annotations

import asyncio
import threading
import types

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey
from aioresponses import aioresponses
from conftest import Reply

from async_core import (
    AiohttpTransport,
    Request,
    RetryPolicy,
    SessionPool,
    TLSError,
    get_session_pool,
    send,
    set_session_factory,
)
from async_core.transport import session_factory

from .fakes import FakeClock

BIG = b"x" * 4_000_000
FAST = RetryPolicy(max_retries=5, backoff_factor=0, backoff_jitter=0)


class CompatResponse(aiohttp.ClientResponse):
    """aioresponses 0.7.9 builds responses without aiohttp 3.14's new required ``stream_writer``
    (pnuckowski/aioresponses#289): supply a stand-in that reports nothing written."""

    def __init__(self, method, url, **kwargs):
        kwargs.setdefault("stream_writer", types.SimpleNamespace(output_size=0))
        super().__init__(method, url, **kwargs)


def mocked_responses() -> aioresponses:
    mocked = aioresponses()
    add = mocked.add

    def add_compat(url, method="GET", **kwargs):
        kwargs.setdefault("response_class", CompatResponse)
        return add(url, method, **kwargs)

    mocked.add = add_compat  # the get/post/put helpers all go through add
    return mocked


def one_connection_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1))


# --- retried responses give their connection back before the next attempt ------------------
@pytest.mark.parametrize("stream", [True, False])
async def test_one_connection_pool_survives_retries(server, stream):
    # Bodies too big to arrive whole: aiohttp only frees a connection by itself once the body
    # is complete, so only an explicit release lets the second attempt have the connection.
    server.script(
        Reply(503, body=BIG), Reply(503, headers={"Retry-After": "0.05"}, body=BIG),
        Reply(200, body=b"done"),
    )
    pool = SessionPool(one_connection_session)
    try:
        transport = AiohttpTransport(pool)
        request = Request("GET", f"{server.url}/limited", stream=stream, timeout=10)
        response = await asyncio.wait_for(send(request, FAST, transport=transport), 15)
        assert response.status == 200
        body = b"".join([chunk async for chunk in response.aiter_chunks()])
        assert body == b"done"
        assert len(server.attempts) == 3
        # The pool still has its one connection to give: a further request completes too.
        again = await asyncio.wait_for(
            send(Request("GET", f"{server.url}/again", timeout=10), FAST, transport=transport), 15
        )
        assert again.status == 200
    finally:
        await pool.aclose()


async def test_one_connection_pool_via_set_session_factory(server):
    """The public knob: sessions built after set_session_factory use the new factory."""
    from mlflow.utils.rest_utils import MlflowHostCreds, ahttp_request

    server.script(Reply(503, body=BIG), Reply(503, body=BIG), Reply(200, json={"ok": 1}))
    set_session_factory(one_connection_session)
    try:
        response = await asyncio.wait_for(
            ahttp_request(MlflowHostCreds(server.url), "/s", "GET", stream=True,
                          backoff_factor=0, backoff_jitter=0, max_retries=3),
            15,
        )
        assert response.status_code == 200
        assert b"".join([c async for c in response.aiter_bytes()]) == b'{"ok": 1}'
        session = get_session_pool().get()
        assert session.connector.limit == 1  # this loop's session came from our factory
    finally:
        set_session_factory(session_factory())
        await get_session_pool().aclose()
    assert len(server.attempts) == 3


# --- aioresponses: the engine over the real transport, no sockets ----------------------------
async def test_aioresponses_retry_after_then_success():
    clock = FakeClock()
    with mocked_responses() as mocked:
        mocked.get("http://svc.test/r", status=503, headers={"Retry-After": "3"}, body="wait")
        mocked.get("http://svc.test/r", status=200, payload={"answer": 42})
        response = await send(
            Request("GET", "http://svc.test/r"), RetryPolicy(backoff_jitter=0),
            transport=AiohttpTransport(), clock=clock,
        )
        calls = mocked.requests[("GET", aiohttp.client.URL("http://svc.test/r"))]
    assert response.status == 200
    assert response.content == b'{"answer": 42}'
    assert response.headers["Content-Type"] == "application/json"
    assert clock.sleeps == [3.0]
    assert len(calls) == 2


async def test_aioresponses_connection_error_then_success_sends_the_same_body():
    clock = FakeClock()
    with mocked_responses() as mocked:
        url = "http://svc.test/p"
        mocked.post(url, exception=aiohttp.ServerDisconnectedError())
        mocked.post(url, exception=aiohttp.ClientConnectionError("reset"))
        mocked.post(url, status=201, body=b"created")
        response = await send(
            Request("POST", url, {"Content-Type": "application/json"}, b'{"a": 1}'),
            RetryPolicy(backoff_factor=1, backoff_jitter=0),
            transport=AiohttpTransport(), clock=clock,
        )
        calls = mocked.requests[("POST", aiohttp.client.URL(url))]
    assert response.status == 201 and response.content == b"created"
    assert clock.sleeps == [2.0]  # immediate first retry, then 1 * 2**1
    assert len(calls) == 3
    assert all(call.kwargs["data"] == b'{"a": 1}' for call in calls)


async def test_aioresponses_ssl_error_becomes_tls_error_and_is_not_retried():
    key = ConnectionKey("svc.test", 443, True, True, None, None, None, None)
    with mocked_responses() as mocked:
        url = "https://svc.test/t"
        mocked.get(url, exception=aiohttp.ClientConnectorSSLError(key, OSError(1, "bad cert")),
                   repeat=True)
        with pytest.raises(TLSError) as info:
            await send(Request("GET", url), FAST, transport=AiohttpTransport(),
                       clock=FakeClock())
        calls = mocked.requests[("GET", aiohttp.client.URL(url))]
    assert len(calls) == 1
    assert info.value.cause == "ClientConnectorSSLError" and info.value.__cause__ is None


async def test_aioresponses_exhaustion_returns_the_last_status():
    with mocked_responses() as mocked:
        url = "http://svc.test/e"
        mocked.put(url, status=502, body="bad gateway", repeat=True)
        response = await send(Request("PUT", url), RetryPolicy(max_retries=2, backoff_factor=0),
                              transport=AiohttpTransport(), clock=FakeClock())
        calls = mocked.requests[("PUT", aiohttp.client.URL(url))]
    assert response.status == 502 and response.content == b"bad gateway"
    assert len(calls) == 3


# --- the per-loop session pool ---------------------------------------------------------------
async def test_one_session_per_loop_reused_within_the_loop():
    pool = SessionPool()
    first = pool.get()
    assert pool.get() is first
    other: list[aiohttp.ClientSession] = []

    async def elsewhere():
        other.append(pool.get())
        assert pool.get() is other[0]

    thread = threading.Thread(target=lambda: asyncio.run(elsewhere()))
    thread.start()
    thread.join(10)
    assert other and other[0] is not first
    # asyncio.run shut its loop down, and with it that loop's session.
    assert other[0].closed
    assert not first.closed
    await pool.aclose()
    assert first.closed
    assert pool.get() is not first  # a closed session is replaced
    await pool.aclose()


def test_session_is_closed_when_its_loop_shuts_down():
    pool = SessionPool()

    async def grab():
        return pool.get()

    session = asyncio.run(grab())
    assert session.closed
    assert session.connector is None or session.connector.closed
