"""AsyncClient: its lifetime, its hooks, its errors, over a real loopback server."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import aiohttp
import pytest
from conftest import Reply

from async_core import (
    AsyncClient,
    ConnectError,
    CoreError,
    Hooks,
    Request,
    RetryEvent,
    RetryPolicy,
)

FAST = RetryPolicy(max_retries=3, backoff_factor=0, backoff_jitter=0)
ROOT = Path(__file__).resolve().parents[2]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_on_retry_hook_sees_every_retry(server):
    server.script(Reply(503), Reply(502), Reply(200, json={"ok": 1}))
    events: list[RetryEvent] = []
    async with AsyncClient(policy=FAST, hooks=Hooks(on_retry=events.append)) as client:
        response = await client.send(Request("POST", f"{server.url}/x?token=s3cr3t", body=b"{}"))
    assert response.status == 200 and len(server.attempts) == 3
    assert [(e.attempt, e.max_attempts, e.status, e.reason) for e in events] == [
        (1, 4, 503, "status 503"), (2, 4, 502, "status 502"),
    ]
    assert all(e.method == "POST" and "s3cr3t" not in e.url and e.wait == 0 for e in events)


async def test_a_failing_hook_does_not_change_the_outcome(server):
    server.script(Reply(503), Reply(200))

    def broken(event: RetryEvent) -> None:
        raise RuntimeError("observer bug")

    async with AsyncClient(policy=FAST, hooks=Hooks(on_retry=broken)) as client:
        assert (await client.send(Request("GET", f"{server.url}/x"))).status == 200


async def test_connection_refused_is_the_engines_error_with_the_hook_told():
    events: list[RetryEvent] = []
    url = f"http://user:hunter2@127.0.0.1:{closed_port()}/x"
    async with AsyncClient(policy=FAST, hooks=Hooks(on_retry=events.append)) as client:
        with pytest.raises(ConnectError) as info:
            await client.send(Request("POST", url, body=b"x"))
    error = info.value
    assert not isinstance(error, aiohttp.ClientError)
    assert error.__cause__ is None and error.__context__ is None
    assert error.attempts == 4 and error.cause == "ClientConnectorError"
    assert error.reason == "connection refused" and "hunter2" not in str(error)
    assert [e.cause for e in events] == ["ClientConnectorError"] * 3
    assert all("hunter2" not in e.url for e in events)


async def test_the_client_owns_its_session_and_closes_it(server):
    client = AsyncClient()
    assert (await client.send(Request("GET", f"{server.url}/a"))).status == 200
    session = client.transport.pool.get()
    assert (await client.send(Request("GET", f"{server.url}/b"))).status == 200
    assert client.transport.pool.get() is session  # one session per loop, reused
    await client.aclose()
    assert session.closed
    with pytest.raises(RuntimeError, match="closed"):
        await client.send(Request("GET", f"{server.url}/c"))


async def test_two_clients_do_not_share_sessions(server):
    async with AsyncClient() as first, AsyncClient() as second:
        await first.send(Request("GET", f"{server.url}/a"))
        await second.send(Request("GET", f"{server.url}/a"))
        assert first.transport.pool.get() is not second.transport.pool.get()


async def test_stream_gives_the_connection_back(server):
    server.script(Reply(200, body=b"x" * 300_000))
    async with AsyncClient() as client:
        async with client.stream(Request("GET", f"{server.url}/s")) as response:
            first = await response.read_chunk(1024)
        assert first and response._raw is None


async def test_streamed_request_body_is_sent_and_not_retried(server):
    server.script(Reply(503), Reply(200))

    async def body():
        for part in (b"one,", b"two,", b"three"):
            await asyncio.sleep(0)
            yield part

    async with AsyncClient(policy=FAST) as client:
        response = await client.send(Request("PUT", f"{server.url}/up", body=body()))
    assert response.status == 503  # an iterator cannot be replayed: its first answer is final
    assert [a.body for a in server.attempts] == [b"one,two,three"]


async def test_decompression_is_a_client_setting(server):
    import gzip

    packed = gzip.compress(b"hello")
    server.script(*[Reply(200, headers={"Content-Encoding": "gzip"}, body=packed)] * 2)
    async with AsyncClient() as plain, AsyncClient(decompress=False) as proxy:
        assert (await plain.send(Request("GET", f"{server.url}/z"))).content == b"hello"
        assert (await proxy.send(Request("GET", f"{server.url}/z"))).content == packed


def test_no_unclosed_warnings_under_w_error(server):
    script = textwrap.dedent(f"""
        import asyncio
        from async_core import AsyncClient, Request

        async def main():
            async with AsyncClient() as client:
                for _ in range(3):
                    await client.send(Request("GET", "{server.url}/w"))
            other = AsyncClient()  # never closed: its loop's shutdown closes its session
            await other.send(Request("GET", "{server.url}/w"))

        asyncio.run(main())
        asyncio.run(main())
        print("done")
    """)
    result = subprocess.run(
        [sys.executable, "-W", "error", "-X", "dev", "-c", script], cwd=ROOT,
        capture_output=True, text=True, timeout=60,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "done"
    assert "Unclosed" not in result.stderr


def test_core_errors_are_not_library_types():
    import async_core.errors as errors

    for name in dir(errors):
        value = getattr(errors, name)
        if isinstance(value, type) and issubclass(value, CoreError):
            assert not issubclass(value, aiohttp.ClientError), name
