"""The loopback server every fake is built on: aiohttp.web on 127.0.0.1, an ephemeral port,
every attempt recorded (method, path, query, headers, body, arrival time), and scripted faults.

Start one inside a running event loop (``async with Fake() as fake:``) or from blocking code on a
thread with its own loop (``with Fake().running() as base_url:``).

Faults (:meth:`LoopbackServer.inject`) apply to the next ``times`` matching requests: answer a
status with a body and headers (``Retry-After`` included), wait ``delay`` seconds first, drop the
connection without answering (``disconnect``), or, for a streamed answer, drop the connection
after ``break_stream_after`` events (0: after the headers, before the first event) or end it with
the fake's own error event after ``stream_error_after`` events.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from async_core import sse
from async_core.runner import close_loop

__all__ = [
    "Fault",
    "Handler",
    "JSON",
    "LoopbackServer",
    "RecordedRequest",
    "close_loop",
    "json_body",
    "json_response",
    "sse_frame",
    "sse_json",
    "stream_frames",
    "INVALID_JSON",
]

JSON = Any
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
FAULT_KEY: web.RequestKey[Any] = web.RequestKey("loopback_fault", object)
SERVER_KEY: web.AppKey[Any] = web.AppKey("loopback_server", object)

@dataclass(slots=True, frozen=True)
class RecordedRequest:
    """One request as the server received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    timestamp: float  # time.monotonic() on arrival
    raw_path: str = ""  # the path as sent, percent-encoding kept (signatures cover it)

    def json(self) -> JSON:
        return json.loads(self.body) if self.body else None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(slots=True)
class Fault:
    """What to do instead of (or before) handling the matching requests.

    ``path`` is a glob (``"/endpoints/*/invocations"``) or ``None`` for every path; ``times`` is
    how many requests it applies to (``None``: until removed). With ``status`` set the server
    answers it with ``body``/``headers``; with only ``delay`` it waits, then handles the request;
    with ``disconnect`` it drops the connection without answering. ``break_stream_after`` and
    ``stream_error_after`` shape a streamed answer (see the module docstring).
    """

    status: int | None = None
    body: JSON | str | bytes | None = None
    headers: Mapping[str, str] | None = None
    delay: float = 0.0
    disconnect: bool = False
    times: int | None = 1
    path: str | None = None
    method: str | None = None
    break_stream_after: int | None = None
    stream_error_after: int | None = None

    @property
    def shapes_stream(self) -> bool:
        return self.break_stream_after is not None or self.stream_error_after is not None

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method:
            return False
        return self.path is None or fnmatch.fnmatchcase(path, self.path)


def json_response(payload: JSON, status: int = 200, headers=None) -> web.Response:
    return web.Response(
        body=json.dumps(payload).encode(),
        status=status,
        headers=headers,
        content_type="application/json",
    )


def _fault_response(fault: Fault) -> web.Response:
    body = fault.body
    if isinstance(body, bytes):
        return web.Response(body=body, status=fault.status, headers=fault.headers)
    if isinstance(body, str):
        return web.Response(text=body, status=fault.status, headers=fault.headers)
    if body is None:
        body = {"detail": f"Injected failure with status {fault.status}"}
    return json_response(body, fault.status or 500, fault.headers)


class LoopbackServer:
    """An aiohttp server on 127.0.0.1:<ephemeral port> that records requests and injects faults.

    Subclasses add their routes in :meth:`_add_routes`.
    """

    def __init__(self, *, record: bool = True) -> None:
        self.record = record
        self.requests: list[RecordedRequest] = []
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._thread_loop: asyncio.AbstractEventLoop | None = None
        #: Streamed answers the client abandoned before their end (the write failed).
        self.aborted_streams = 0

    # --- routes --------------------------------------------------------------------------------
    def _add_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def _not_found(self, request: web.Request) -> web.Response:
        return json_response({"detail": "Not Found"}, 404)

    def _method_not_allowed(self, request: web.Request) -> web.Response:
        return json_response({"detail": "Method Not Allowed"}, 405)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        body = await request.read()
        if self.record:
            recorded = RecordedRequest(
                method=request.method,
                path=request.path,
                query=dict(request.query),
                headers={k.lower(): v for k, v in request.headers.items()},
                body=body,
                timestamp=time.monotonic(),
                raw_path=request.raw_path.split("?", 1)[0],
            )
            with self._lock:
                self.requests.append(recorded)
        fault = self._take_fault(request.method, request.path)
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.disconnect:
                if request.transport is not None:
                    request.transport.close()
                raise asyncio.CancelledError
            if fault.status is not None:
                return _fault_response(fault)
            if fault.shapes_stream:
                request[FAULT_KEY] = fault
        try:
            return await handler(request)
        except web.HTTPNotFound:
            return self._not_found(request)
        except web.HTTPMethodNotAllowed:
            return self._method_not_allowed(request)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.matches(method, path):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            del self._faults[index]
                    return fault
        return None

    # --- control -------------------------------------------------------------------------------
    def inject(
        self,
        status: int | None = None,
        body: JSON | str | bytes | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
        disconnect: bool = False,
        times: int | None = 1,
        path: str | None = None,
        method: str | None = None,
        break_stream_after: int | None = None,
        stream_error_after: int | None = None,
    ) -> Fault:
        """Queue a :class:`Fault` for the next ``times`` matching requests; returns it."""
        fault = Fault(
            status, body, headers, delay, disconnect, times, path, method,
            break_stream_after, stream_error_after,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    def requests_to(self, path: str, method: str | None = None) -> list[RecordedRequest]:
        """The recorded requests whose path matches the glob ``path`` (and ``method``)."""
        with self._lock:
            return [
                r
                for r in self.requests
                if fnmatch.fnmatchcase(r.path, path) and (method is None or r.method == method)
            ]

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError(f"{type(self).__name__} is not running: start it first.")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + "/" + path.lstrip("/")

    # --- lifecycle in a running loop -----------------------------------------------------------
    async def start(self) -> str:
        """Start serving on the current loop; returns the base URL."""
        if self._runner is not None:
            return self.base_url
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024**2)
        app[SERVER_KEY] = self
        self._add_routes(app)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, reuse_address=True)
        await site.start()
        self._port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._runner = runner
        return self.base_url

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self):
        await self.start()
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.stop()

    # --- lifecycle from blocking code ----------------------------------------------------------
    def start_in_thread(self, timeout: float = 10.0) -> str:
        """Run the server on a background thread with its own loop; returns the base URL."""
        if self._thread is not None:
            return self.base_url
        started = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._thread_loop = loop
            try:
                loop.run_until_complete(self.start())
            except BaseException as e:  # reported to the starting thread
                failure.append(e)
                started.set()
                loop.close()
                return
            started.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self.stop())
                close_loop(loop)

        thread = threading.Thread(target=serve, name=f"{type(self).__name__}-loop", daemon=True)
        thread.start()
        if not started.wait(timeout):
            raise RuntimeError(f"{type(self).__name__} did not start within {timeout} seconds")
        if failure:
            thread.join(timeout)
            raise failure[0]
        self._thread = thread
        return self.base_url

    def stop_thread(self, timeout: float = 10.0) -> None:
        thread, loop = self._thread, self._thread_loop
        self._thread = self._thread_loop = None
        if thread is None or loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)

    @contextlib.contextmanager
    def running(self) -> Iterator[str]:
        """``with server.running() as base_url:`` from blocking code."""
        base_url = self.start_in_thread()
        try:
            yield base_url
        finally:
            self.stop_thread()


# ---------------------------------------------------------------------------------------------
# Bodies and streams


INVALID_JSON = object()


async def json_body(request: web.Request) -> Any:
    """The request's JSON body, None when empty, :data:`INVALID_JSON` when unparsable."""
    raw = await request.read()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return INVALID_JSON


def sse_frame(data: JSON | str, event: str | None = None) -> bytes:
    """One server-sent event (the shared codec's encoding): ``event:`` if named, then ``data:``."""
    return sse.encode(data if isinstance(data, str) else json.dumps(data), event=event)


async def stream_frames(
    request: web.Request,
    frames: Sequence[bytes],
    *,
    delay: float = 0.0,
    content_type: str = "text/event-stream",
    error_frame: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.StreamResponse:
    """Write ``frames`` one by one (waiting ``delay`` before each), honouring the request's
    stream fault: drop the connection after N frames, or write ``error_frame`` after N frames
    and end."""
    fault: Fault | None = request.get(FAULT_KEY)
    response = web.StreamResponse(
        status=200, headers={"Content-Type": content_type, "Cache-Control": "no-cache",
                             **(headers or {})}
    )
    await response.prepare(request)
    try:
        for index, frame in enumerate(frames):
            if fault is not None:
                if fault.break_stream_after == index:
                    _drop(request)
                    return response
                if fault.stream_error_after == index and error_frame is not None:
                    await response.write(error_frame)
                    await response.write_eof()
                    return response
            if delay:
                await asyncio.sleep(delay)
            await response.write(frame)
    except (ConnectionError, asyncio.CancelledError):
        server = request.app.get(SERVER_KEY)
        if server is not None:
            server.aborted_streams += 1
        raise
    if fault is not None and fault.break_stream_after is not None:
        _drop(request)
        return response
    await response.write_eof()
    return response


def _drop(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.close()


async def sse_json(
    request: web.Request, chunks: Sequence[JSON], *, done: bool, delay: float = 0.0,
    error_frame: bytes | None = None,
) -> web.StreamResponse:
    """Write ``chunks`` as ``data: <json>`` events, optionally ending in ``data: [DONE]``."""
    frames = [sse_frame(chunk) for chunk in chunks]
    if done:
        frames.append(sse.DONE)
    return await stream_frames(request, frames, delay=delay, error_frame=error_frame)
