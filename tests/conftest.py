"""Generic fixtures shared by the test suites: a scripted loopback HTTP(S) server that records every
attempt, and a trustme CA with the files TLS tests need.

The server runs on its own event loop in a background thread, so both blocking code (which waits
on the async_core runner) and async tests (on pytest's loop) can talk to it.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import json
import ssl
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from multidict import CIMultiDict, MultiDict

from async_core.runner import close_loop

_START_TIMEOUT = 10.0
_SHUTDOWN_TIMEOUT = 5.0


@dataclass
class Attempt:
    """One request as the server saw it."""

    method: str
    path: str
    query: MultiDict
    raw_path: str  # path and query string exactly as sent
    headers: CIMultiDict
    body: bytes
    time: float  # time.monotonic() at arrival (the loop runs in this process)
    port: int  # the client's source port: one port per TCP connection
    cancelled: bool = False  # the handler saw the client go away (cancel or disconnect)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    """A scripted response. ``delay`` is slept before answering (cancellation is recorded)."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | str | None = None
    json: Any = None
    delay: float = 0.0

    def build(self) -> web.Response:
        headers = dict(self.headers)
        if self.json is not None:
            body: bytes = json.dumps(self.json).encode()
            headers.setdefault("Content-Type", "application/json")
        elif isinstance(self.body, str):
            body = self.body.encode()
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        else:
            body = self.body or b""
        return web.Response(status=self.status, headers=headers, body=body)


#: A handler gets the aiohttp request and its Attempt record; it returns a Reply or an aiohttp
#: response (it may stream). Plain functions and coroutine functions are both accepted.
Handler = Callable[[web.BaseRequest, Attempt], "Reply | web.StreamResponse | Awaitable[Any]"]


class RecordingServer:
    """A loopback server on 127.0.0.1:<ephemeral> that records each attempt and answers from a
    script (a queue of replies, then the default) or from a handler function."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.attempts: list[Attempt] = []
        self.connections = 0  # TCP connections accepted (before any TLS handshake)
        self.default: Reply = Reply(json={"ok": True})
        self.handler: Handler | None = None
        self.cancelled = threading.Event()  # set when a handler sees its client go away
        self.arrived = threading.Event()  # set on every arrival
        self._queue: collections.deque[Reply] = collections.deque()
        self._lock = threading.Lock()
        self._ssl = ssl_context
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="recording-server", daemon=True)
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT):
            raise RuntimeError("the recording server did not start")
        if self._failure is not None:
            raise self._failure
        scheme = "https" if ssl_context is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"

    # --- scripting -----------------------------------------------------------------------------
    def script(self, *replies: Reply) -> None:
        """Answer the next requests with ``replies`` in order, then with ``default``."""
        with self._lock:
            self._queue.extend(replies)

    def respond_with(self, handler: Handler | None) -> None:
        """Answer with ``handler`` once the script is used up (None: back to ``default``)."""
        self.handler = handler

    def paths(self) -> list[str]:
        return [a.path for a in self.attempts]

    # --- serving -------------------------------------------------------------------------------
    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._start())
        except BaseException as e:  # surfaced to the constructor
            self._failure = e
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()

    async def _start(self) -> None:
        self._server = web.Server(self._handle, handler_cancellation=True)

        def factory():  # one call per accepted TCP connection
            self.connections += 1
            return self._server()

        self._listener = await self.loop.create_server(
            factory, "127.0.0.1", 0, ssl=self._ssl, reuse_address=True
        )
        self.port = self._listener.sockets[0].getsockname()[1]

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        attempt = Attempt(
            method=request.method,
            path=request.path,
            query=MultiDict(request.query),
            raw_path=request.raw_path,
            headers=CIMultiDict(request.headers),
            body=await request.content.read(),  # unlike request.read(), no 1 MiB cap
            time=time.monotonic(),
            port=peer[1] if peer else -1,
        )
        with self._lock:
            self.attempts.append(attempt)
            reply = self._queue.popleft() if self._queue else None
        self.arrived.set()
        try:
            if reply is None and self.handler is not None:
                result = self.handler(request, attempt)
                if inspect.isawaitable(result):
                    result = await result
                reply = result if isinstance(result, Reply) else None
                if reply is None:
                    return result
            reply = reply or self.default
            if reply.delay:
                await _sleep_while_connected(request, reply.delay)
            return reply.build()
        except asyncio.CancelledError:
            attempt.cancelled = True
            self.cancelled.set()
            raise

    def close(self) -> None:
        if not self.loop.is_running():
            return

        async def stop() -> None:
            self._listener.close()
            # Idle keep-alive connections would hold a graceful shutdown for its whole timeout.
            for connection in list(self._server.connections):
                connection.force_close()
            await self._server.shutdown(0.1)
            await self._listener.wait_closed()

        try:
            asyncio.run_coroutine_threadsafe(stop(), self.loop).result(_SHUTDOWN_TIMEOUT)
        except Exception:
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(_SHUTDOWN_TIMEOUT)
        if not self._thread.is_alive():
            close_loop(self.loop)


async def _sleep_while_connected(request: web.BaseRequest, seconds: float) -> None:
    """Sleep, but notice (as a cancellation) a client that goes away meanwhile."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            return
        transport = request.transport
        if transport is None or transport.is_closing():
            raise asyncio.CancelledError
        await asyncio.sleep(min(left, 0.02))


@pytest.fixture
def make_server() -> Iterator[Callable[..., RecordingServer]]:
    """Start extra servers (``make_server(ssl_context=None)``); all are closed after the test."""
    servers: list[RecordingServer] = []

    def make(ssl_context: ssl.SSLContext | None = None) -> RecordingServer:
        server = RecordingServer(ssl_context)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


@pytest.fixture
def recording_server(make_server) -> RecordingServer:
    """A plain-HTTP recording server."""
    return make_server()


# --- TLS -------------------------------------------------------------------------------------
@dataclass
class TLSFiles:
    ca: Any  # trustme.CA
    ca_bundle: str  # PEM of the CA: a server_cert_path / verify= bundle
    client_cert: str  # PEM with the client's key and certificate chain (for mTLS)
    other_client_cert: str  # a client certificate issued by an unrelated CA

    def server_context(self, *, require_client_cert: bool = False) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        if require_client_cert:
            context.verify_mode = ssl.CERT_REQUIRED
            self.ca.configure_trust(context)
        return context


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory) -> TLSFiles:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    directory: Path = tmp_path_factory.mktemp("tls")
    bundle = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    client = directory / "client.pem"
    ca.issue_cert("client@example.com").private_key_and_cert_chain_pem.write_to_path(str(client))
    other = directory / "other-client.pem"
    trustme.CA().issue_cert("intruder@example.com").private_key_and_cert_chain_pem.write_to_path(
        str(other)
    )
    return TLSFiles(ca, str(bundle), str(client), str(other))


@pytest.fixture
def tls_server(make_server, tls_files) -> RecordingServer:
    """An HTTPS recording server whose certificate (127.0.0.1, localhost) is signed by the
    session's trustme CA."""
    return make_server(tls_files.server_context())


@pytest.fixture
def mtls_server(make_server, tls_files) -> RecordingServer:
    """Like ``tls_server`` but it demands a client certificate signed by the same CA."""
    return make_server(tls_files.server_context(require_client_cert=True))
