"""Loopback servers for the auth tests: each runs an aiohttp app on 127.0.0.1 (ephemeral port) in a
background thread with its own loop, so blocking callers, the SDK's worker threads and async tests
can all reach it. Every request is recorded (method, path, query, headers, body, time)."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from aiohttp import web
from multidict import CIMultiDict

from async_core.runner import close_loop


@dataclass
class Recorded:
    method: str
    path: str
    raw_path: str
    query: list[tuple[str, str]]
    headers: CIMultiDict
    body: bytes
    at: float = field(default_factory=time.monotonic)

    def json(self):
        return json.loads(self.body)


Handler = Callable[["LoopbackServer", Recorded], Awaitable[web.StreamResponse]]


class LoopbackServer:
    """``with LoopbackServer(handler) as server: server.url ...``; ``server.requests`` lists what
    arrived (read it after the calls return)."""

    def __init__(self, handler: Handler | None = None) -> None:
        self._handler = handler
        self.requests: list[Recorded] = []
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    async def handle(self, recorded: Recorded) -> web.StreamResponse:
        assert self._handler is not None
        return await self._handler(self, recorded)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        recorded = Recorded(
            method=request.method,
            path=request.path,
            raw_path=request.raw_path,
            query=list(request.query.items()),
            headers=CIMultiDict(request.headers),
            body=await request.read(),
        )
        self.requests.append(recorded)
        return await self.handle(recorded)

    def api_requests(self, prefix: str = "/api/") -> list[Recorded]:
        return [r for r in self.requests if r.path.startswith(prefix)]

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    def __enter__(self) -> LoopbackServer:
        started = threading.Event()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._start())
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="loopback-server", daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("loopback server did not start within 10s")
        return self

    def __exit__(self, *exc_info) -> None:
        assert self._loop is not None and self._thread is not None
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        close_loop(self._loop)


def json_response(status: int, payload, headers: dict | None = None) -> web.Response:
    return web.Response(
        status=status, body=json.dumps(payload).encode(), content_type="application/json",
        headers=headers,
    )


class FakeWorkspace(LoopbackServer):
    """A Databricks workspace: host metadata, OIDC discovery, the M2M token endpoint, and the
    REST API, which checks the bearer token and then answers from ``script`` (a queue of
    (status, json, headers)) or, when it is empty, echoes the request."""

    def __init__(
        self,
        pat: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> None:
        super().__init__()
        self.valid_tokens: set[str] = {pat} if pat else set()
        self.client_id = client_id
        self.client_secret = client_secret
        self.issued: list[str] = []
        self._serial = itertools.count(1)
        self.script: deque[tuple[int, object, dict | None]] = deque()
        self.fallback: tuple[int, object, dict | None] | None = None  # when the script is empty
        self.delay = 0.0  # seconds before each API answer
        self.in_flight = 0
        self.max_in_flight = 0

    async def handle(self, r: Recorded) -> web.StreamResponse:
        if r.path == "/.well-known/databricks-config":
            return json_response(200, {"oidc_endpoint": f"{self.url}/oidc", "workspace_id": "42"})
        if r.path == "/oidc/.well-known/oauth-authorization-server":
            return json_response(200, {
                "authorization_endpoint": f"{self.url}/oidc/v1/authorize",
                "token_endpoint": f"{self.url}/oidc/v1/token",
            })
        if r.path == "/oidc/v1/token":
            return self._token(r)
        token = r.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.valid_tokens:
            return json_response(
                401, {"error_code": "UNAUTHENTICATED", "message": "invalid access token"}
            )
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        if self.script or self.fallback:
            status, payload, headers = self.script.popleft() if self.script else self.fallback
            return json_response(status, payload, headers)
        body = r.json() if r.body and "json" in r.headers.get("Content-Type", "") else None
        return json_response(
            200, {"ok": True, "method": r.method, "path": r.path, "query": r.query, "json": body}
        )

    def _token(self, r: Recorded) -> web.Response:
        basic = r.headers.get("Authorization", "")
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        form = dict(parse_qsl(r.body.decode()))
        if basic != f"Basic {expected}" or form.get("grant_type") != "client_credentials":
            return json_response(401, {"error": "invalid_client"})
        access = f"m2m-access-{next(self._serial)}"
        self.valid_tokens.add(access)
        self.issued.append(access)
        return json_response(
            200, {"access_token": access, "token_type": "Bearer", "expires_in": 3600}
        )
