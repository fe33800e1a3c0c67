"""Embedded loopback servers: an MLflow AI gateway, an OpenAI-compatible API and a Databricks
serving workspace, for the tests, the benchmarks and the README's examples.

Each server binds ``127.0.0.1`` on an ephemeral port, records every request (method, path,
query, headers, body, monotonic timestamp) and can inject failures, statuses and delays. Start
one inside a running event loop::

    async with GatewayServer() as gateway:
        client = get_deploy_client(gateway.base_url)

or from blocking code, on a background thread with its own loop::

    with GatewayServer().running() as base_url:
        client = get_deploy_client(base_url)

The gateway mimics ``mlflow gateway start``: the same routes, JSON shapes, FastAPI-style error
bodies (``{"detail": ...}``) and per-endpoint ``limit`` enforced in fixed windows per client,
answering 429 ``{"error": "Rate limit exceeded: 2 per 1 minute"}`` without ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fnmatch
import hashlib
import json
import re
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

__all__ = [
    "DatabricksServer",
    "Fault",
    "GatewayEndpoint",
    "GatewayServer",
    "LoopbackServer",
    "OpenAIServer",
    "RecordedRequest",
    "default_gateway_endpoints",
]

JSON = Any
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# ---------------------------------------------------------------------------------------------
# Recording and fault injection


@dataclass(slots=True, frozen=True)
class RecordedRequest:
    """One request as the server received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    timestamp: float  # time.monotonic() on arrival

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
    with ``disconnect`` it drops the connection without answering.
    """

    status: int | None = None
    body: JSON | str | bytes | None = None
    headers: Mapping[str, str] | None = None
    delay: float = 0.0
    disconnect: bool = False
    times: int | None = 1
    path: str | None = None
    method: str | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method:
            return False
        return self.path is None or fnmatch.fnmatchcase(path, self.path)


def _json_response(payload: JSON, status: int = 200, headers=None) -> web.Response:
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
    return _json_response(body, fault.status or 500, fault.headers)


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

    # --- routes --------------------------------------------------------------------------------
    def _add_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def _not_found(self, request: web.Request) -> web.Response:
        return _json_response({"detail": "Not Found"}, 404)

    def _method_not_allowed(self, request: web.Request) -> web.Response:
        return _json_response({"detail": "Method Not Allowed"}, 405)

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
    ) -> Fault:
        """Queue a :class:`Fault` for the next ``times`` matching requests; returns it."""
        fault = Fault(status, body, headers, delay, disconnect, times, path, method)
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
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

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
# Deterministic LLM-shaped payloads (OpenAI / MLflow gateway shapes)


def _words_of(text: str) -> list[str]:
    words = text.split(" ")
    return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]


def _count_tokens(value: Any) -> int:
    if isinstance(value, str):
        return max(1, len(value.split()))
    if isinstance(value, list):
        return sum(_count_tokens(v) for v in value) or 1
    if isinstance(value, dict):
        return _count_tokens(value.get("content", ""))
    return 1


def _last_user_text(messages: Sequence[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role", "user") == "user":
            content = message.get("content", "")
            return content if isinstance(content, str) else json.dumps(content)
    return ""


def chat_reply(messages: Sequence[Any]) -> str:
    return f"Echo: {_last_user_text(messages)}"


def completion_reply(prompt: Any) -> str:
    return f"Echo: {prompt if isinstance(prompt, str) else json.dumps(prompt)}"


def embedding_of(text: str, dims: int = 8) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [round((b - 128) / 128, 6) for b in digest[:dims]]


def chat_response(model: str, messages: Sequence[Any], reply: str | None = None) -> dict:
    reply = chat_reply(messages) if reply is None else reply
    prompt_tokens, completion_tokens = _count_tokens(list(messages)), _count_tokens(reply)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def completions_response(model: str, prompt: Any, reply: str | None = None) -> dict:
    reply = completion_reply(prompt) if reply is None else reply
    prompt_tokens, completion_tokens = _count_tokens(prompt), _count_tokens(reply)
    return {
        "id": f"cmpl-{uuid.uuid4().hex[:24]}",
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "text": reply, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def embeddings_response(model: str, inputs: Any) -> dict:
    texts = [inputs] if isinstance(inputs, str) else list(inputs)
    tokens = _count_tokens(texts)
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": embedding_of(str(t))}
            for i, t in enumerate(texts)
        ],
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def chat_chunks(model: str, reply: str) -> list[dict]:
    chunk_id, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
    words = _words_of(reply)
    chunks = []
    for i, word in enumerate(words):
        delta = {"role": "assistant", "content": word} if i == 0 else {"content": word}
        last = i == len(words) - 1
        chunks.append(
            {
                "id": chunk_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [
                    {"index": 0, "finish_reason": "stop" if last else None, "delta": delta}
                ],
            }
        )
    return chunks


def completions_chunks(model: str, reply: str) -> list[dict]:
    chunk_id, created = f"cmpl-{uuid.uuid4().hex[:24]}", int(time.time())
    words = _words_of(reply)
    return [
        {
            "id": chunk_id,
            "object": "text_completion_chunk",
            "created": created,
            "model": model,
            "choices": [
                {"index": 0, "finish_reason": "stop" if i == len(words) - 1 else None, "text": w}
            ],
        }
        for i, w in enumerate(words)
    ]


async def _sse(
    request: web.Request, chunks: Sequence[JSON], *, done: bool, delay: float = 0.0
) -> web.StreamResponse:
    """Write ``chunks`` as server-sent events (``data: <json>``), optionally ending in [DONE]."""
    response = web.StreamResponse(
        status=200, headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    for chunk in chunks:
        if delay:
            await asyncio.sleep(delay)
        await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
    if done:
        await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


async def _json_body(request: web.Request) -> Any:
    raw = await request.read()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return _INVALID_JSON


_INVALID_JSON = object()


def _validation_error(loc: str, payload: Any, msg: str = "Field required") -> web.Response:
    # FastAPI's shape for request validation errors.
    detail = [{"type": "missing", "loc": ["body", loc], "msg": msg, "input": payload}]
    return _json_response({"detail": detail}, 422)


# ---------------------------------------------------------------------------------------------
# MLflow AI gateway

_PERIOD = re.compile(r"^\s*(?:(\d+)\s*)?(second|minute|hour|day)s?\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def _parse_period(period: str) -> tuple[int, str, float]:
    match = _PERIOD.match(period)
    if match is None:
        raise ValueError(f"Invalid renewal period {period!r}")
    count = int(match.group(1) or 1)
    unit = match.group(2).lower()
    return count, unit, float(count * _UNIT_SECONDS[unit])


@dataclass(slots=True)
class GatewayEndpoint:
    """An endpoint of the fake gateway, as a gateway YAML configuration would define it."""

    name: str
    endpoint_type: str
    model_name: str = "gpt-4o-mini"
    provider: str = "openai"
    limit: dict[str, Any] | None = None  # {"calls": 2, "renewal_period": "minute"}

    def describe(self, url_base: str = "/gateway/") -> dict[str, Any]:
        limit = None
        if self.limit is not None:
            limit = {
                "calls": self.limit["calls"],
                "key": self.limit.get("key"),
                "renewal_period": self.limit["renewal_period"],
            }
        return {
            "name": self.name,
            "endpoint_type": self.endpoint_type,
            "model": {"name": self.model_name, "provider": self.provider},
            "endpoint_url": f"{url_base}{self.name}/invocations",
            "limit": limit,
        }

    def describe_route(self) -> dict[str, Any]:
        endpoint = self.describe()
        return {
            "name": endpoint["name"],
            "route_type": endpoint["endpoint_type"],
            "model": endpoint["model"],
            "route_url": endpoint["endpoint_url"],
            "limit": endpoint["limit"],
        }


def default_gateway_endpoints() -> list[GatewayEndpoint]:
    return [
        GatewayEndpoint("chat", "llm/v1/chat", "gpt-4o-mini"),
        GatewayEndpoint("completions", "llm/v1/completions", "gpt-3.5-turbo-instruct"),
        GatewayEndpoint("embeddings", "llm/v1/embeddings", "text-embedding-3-small"),
    ]


class _FixedWindows:
    """Fixed-window counters, as the gateway's limiter keeps them: a window opens at the first
    hit of a key and lasts one period; past ``calls`` hits in it, requests are refused."""

    __slots__ = ("_windows",)

    def __init__(self) -> None:
        self._windows: dict[tuple, tuple[float, int]] = {}

    def hit(self, key: tuple, calls: int, period: float, now: float) -> bool:
        start, count = self._windows.get(key, (now, 0))
        if now - start >= period:
            start, count = now, 0
        if count >= calls:
            self._windows[key] = (start, count)
            return False
        self._windows[key] = (start, count + 1)
        return True

    def reset(self) -> None:
        self._windows.clear()


def encode_page_token(index: int) -> str:
    return base64.b64encode(json.dumps({"index": index}).encode()).decode()


def decode_page_token(token: str) -> int:
    index = int(json.loads(base64.b64decode(token)).get("index"))
    if index < 0:
        raise ValueError("negative index")
    return index


class GatewayServer(LoopbackServer):
    """A stand-in for ``mlflow gateway start`` (the MLflow AI gateway / deployments server).

    Args:
        endpoints: The endpoints served (default: ``chat``, ``completions``, ``embeddings``).
        page_size: Endpoints per page of ``GET /api/2.0/endpoints/`` (MLflow's is 3000).
        stream_delay: Seconds between streamed chunks.
        done_marker: End streams with ``data: [DONE]`` (MLflow's gateway does not).
        clock: The monotonic clock of the rate-limit windows (tests may pass a fake one).
    """

    def __init__(
        self,
        endpoints: Sequence[GatewayEndpoint] | None = None,
        *,
        page_size: int = 3000,
        stream_delay: float = 0.0,
        done_marker: bool = False,
        clock: Callable[[], float] = time.monotonic,
        record: bool = True,
    ) -> None:
        super().__init__(record=record)
        self.endpoints = {e.name: e for e in (endpoints or default_gateway_endpoints())}
        self.page_size = page_size
        self.stream_delay = stream_delay
        self.done_marker = done_marker
        self.clock = clock
        self.windows = _FixedWindows()
        self.rejected = 0  # requests answered 429 by the rate limiter

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_get("/health", self._health)
        app.router.add_get("/api/2.0/endpoints/", self._list_endpoints)
        app.router.add_get("/api/2.0/endpoints/limits/{name}", self._get_limits)
        app.router.add_post("/api/2.0/endpoints/limits/", self._set_limits)
        app.router.add_get("/api/2.0/endpoints/{name}", self._get_endpoint)
        app.router.add_get("/api/2.0/gateway/routes/", self._search_routes)
        app.router.add_get("/api/2.0/gateway/routes/{name}", self._get_route)
        app.router.add_get("/api/2.0/gateway/limits/{name}", self._get_limits)
        app.router.add_post("/api/2.0/gateway/limits/", self._set_limits)
        app.router.add_post("/endpoints/{name}/invocations", self._invoke_deployments)
        app.router.add_post("/gateway/{name}/invocations", self._invoke_gateway)

    async def _health(self, request: web.Request) -> web.Response:
        return _json_response({"status": "OK"})

    def _page(self, request: web.Request, key: str, describe) -> web.Response:
        token = request.query.get("page_token")
        try:
            start = decode_page_token(token) if token is not None else 0
        except Exception:
            return _json_response(
                {
                    "detail": f"Invalid SearchRoutes token: {token}. The index is not defined as "
                    "a value that can be represented as a positive integer."
                },
                400,
            )
        endpoints = list(self.endpoints.values())
        end = start + self.page_size
        result: dict[str, Any] = {key: [describe(e) for e in endpoints[start:end]]}
        if endpoints[end:]:
            result["next_page_token"] = encode_page_token(end)
        return _json_response(result)

    async def _list_endpoints(self, request: web.Request) -> web.Response:
        return self._page(request, "endpoints", GatewayEndpoint.describe)

    async def _search_routes(self, request: web.Request) -> web.Response:
        return self._page(request, "routes", GatewayEndpoint.describe_route)

    async def _get_endpoint(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if (endpoint := self.endpoints.get(name)) is None:
            return _json_response(
                {
                    "detail": f"The endpoint '{name}' is not present or active on the server. "
                    "Please verify the endpoint name."
                },
                404,
            )
        return _json_response(endpoint.describe())

    async def _get_route(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if (endpoint := self.endpoints.get(name)) is None:
            return _json_response(
                {
                    "detail": f"The route '{name}' is not present or active on the server. "
                    "Please verify the route name."
                },
                404,
            )
        return _json_response(endpoint.describe_route())

    async def _get_limits(self, request: web.Request) -> web.Response:
        return _json_response({"detail": "The get_limits API is not available yet."}, 501)

    async def _set_limits(self, request: web.Request) -> web.Response:
        return _json_response({"detail": "The set_limits API is not available yet."}, 501)

    async def _invoke_deployments(self, request: web.Request) -> web.StreamResponse:
        return await self._invoke(request, "deployments")

    async def _invoke_gateway(self, request: web.Request) -> web.StreamResponse:
        return await self._invoke(request, "gateway")

    def _over_limit(self, request: web.Request, kind: str, endpoint: GatewayEndpoint) -> str | None:
        if endpoint.limit is None:
            return None
        calls = int(endpoint.limit["calls"])
        count, unit, seconds = _parse_period(endpoint.limit["renewal_period"])
        # Like the gateway's limiter: one window per client address, per route handler.
        key = (request.remote, kind, endpoint.name)
        if self.windows.hit(key, calls, seconds, self.clock()):
            return None
        return f"{calls} per {count} {unit}"

    async def _invoke(self, request: web.Request, kind: str) -> web.StreamResponse:
        name = request.match_info["name"]
        endpoint = self.endpoints.get(name)
        if endpoint is None:
            # No such route on a real gateway: FastAPI's plain 404.
            return self._not_found(request)
        if (exceeded := self._over_limit(request, kind, endpoint)) is not None:
            self.rejected += 1
            return _json_response({"error": f"Rate limit exceeded: {exceeded}"}, 429)
        payload = await _json_body(request)
        if payload is _INVALID_JSON or not isinstance(payload, dict):
            return _json_response(
                {
                    "detail": [
                        {
                            "type": "json_invalid" if payload is _INVALID_JSON else "missing",
                            "loc": ["body"],
                            "msg": "A JSON object body is required",
                            "input": None,
                        }
                    ]
                },
                422,
            )
        model = endpoint.model_name
        stream = payload.get("stream") is True
        if endpoint.endpoint_type == "llm/v1/chat":
            messages = payload.get("messages")
            if not isinstance(messages, list):
                return _validation_error("messages", payload)
            if stream:
                chunks = chat_chunks(model, chat_reply(messages))
                return await _sse(request, chunks, done=self.done_marker, delay=self.stream_delay)
            return _json_response(chat_response(model, messages))
        if endpoint.endpoint_type == "llm/v1/completions":
            prompt = payload.get("prompt")
            if not isinstance(prompt, str):
                return _validation_error("prompt", payload)
            if stream:
                chunks = completions_chunks(model, completion_reply(prompt))
                return await _sse(request, chunks, done=self.done_marker, delay=self.stream_delay)
            return _json_response(completions_response(model, prompt))
        if endpoint.endpoint_type == "llm/v1/embeddings":
            inputs = payload.get("input")
            if not isinstance(inputs, str | list):
                return _validation_error("input", payload)
            return _json_response(embeddings_response(model, inputs))
        return _json_response(
            {"detail": f"Unexpected route type {endpoint.endpoint_type!r} for route {name!r}."},
            404,
        )


# ---------------------------------------------------------------------------------------------
# OpenAI-compatible upstream


def _openai_error(message: str, status: int, code: str | None, param: str | None = None):
    return _json_response(
        {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": param,
                "code": code,
            }
        },
        status,
    )


class OpenAIServer(LoopbackServer):
    """An OpenAI-compatible API under ``/v1`` (and Azure's ``/openai/deployments/<name>/...``).

    Args:
        api_key: The accepted key (``Authorization: Bearer <key>``, or ``api-key`` for Azure);
            ``None`` accepts any request.
        models: The model ids of ``GET /v1/models``.
        stream_delay: Seconds between streamed chunks.
    """

    def __init__(
        self,
        *,
        api_key: str | None = "sk-test-key",
        models: Sequence[str] = ("gpt-4o-mini", "gpt-3.5-turbo-instruct", "text-embedding-3-small"),
        stream_delay: float = 0.0,
        record: bool = True,
    ) -> None:
        super().__init__(record=record)
        self.api_key = api_key
        self.models = list(models)
        self.stream_delay = stream_delay

    @property
    def api_base(self) -> str:
        """The value for ``OPENAI_API_BASE``."""
        return f"{self.base_url}/v1"

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/models", self._list_models)
        app.router.add_get("/v1/models/{model}", self._get_model)
        for task in ("chat/completions", "completions", "embeddings"):
            app.router.add_post(f"/v1/{task}", self._make_handler(task, azure=False))
            app.router.add_post(
                f"/openai/deployments/{{deployment}}/{task}", self._make_handler(task, azure=True)
            )

    def _not_found(self, request: web.Request) -> web.Response:
        return _openai_error(f"Invalid URL ({request.method} {request.path})", 404, None)

    def _unauthorized(self, request: web.Request, azure: bool) -> web.Response | None:
        if self.api_key is None:
            return None
        if azure and request.headers.get("api-key") == self.api_key:
            return None
        if request.headers.get("Authorization") == f"Bearer {self.api_key}":
            return None
        # Never echo the key that was sent.
        return _openai_error("Incorrect API key provided.", 401, "invalid_api_key")

    def _model(self, model_id: str) -> dict[str, Any]:
        return {"id": model_id, "object": "model", "created": 1700000000, "owned_by": "system"}

    async def _list_models(self, request: web.Request) -> web.Response:
        if (denied := self._unauthorized(request, azure=False)) is not None:
            return denied
        return _json_response({"object": "list", "data": [self._model(m) for m in self.models]})

    async def _get_model(self, request: web.Request) -> web.Response:
        if (denied := self._unauthorized(request, azure=False)) is not None:
            return denied
        model = request.match_info["model"]
        if model not in self.models:
            return _openai_error(
                f"The model '{model}' does not exist", 404, "model_not_found", "model"
            )
        return _json_response(self._model(model))

    def _make_handler(self, task: str, *, azure: bool) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            if (denied := self._unauthorized(request, azure)) is not None:
                return denied
            if azure and "api-version" not in request.query:
                return _openai_error("Missing required query parameter: api-version", 404, None)
            payload = await _json_body(request)
            if not isinstance(payload, dict):
                return _openai_error("We could not parse the JSON body of your request.", 400, None)
            model = request.match_info["deployment"] if azure else payload.get("model")
            if not model:
                return _openai_error("you must provide a model parameter", 400, None, "model")
            return await self._answer(request, task, model, payload)

        return handler

    async def _answer(self, request, task: str, model: str, payload: dict) -> web.StreamResponse:
        stream = payload.get("stream") is True
        if task == "chat/completions":
            messages = payload.get("messages")
            if not isinstance(messages, list):
                return _openai_error("'messages' is a required property", 400, None, "messages")
            if stream:
                chunks = chat_chunks(model, chat_reply(messages))
                return await _sse(request, chunks, done=True, delay=self.stream_delay)
            return _json_response(chat_response(model, messages))
        if task == "completions":
            prompt = payload.get("prompt")
            if prompt is None:
                return _openai_error("'prompt' is a required property", 400, None, "prompt")
            if stream:
                chunks = completions_chunks(model, completion_reply(prompt))
                return await _sse(request, chunks, done=True, delay=self.stream_delay)
            return _json_response(completions_response(model, prompt))
        inputs = payload.get("input")
        if not isinstance(inputs, str | list):
            return _openai_error("'input' is a required property", 400, None, "input")
        return _json_response(embeddings_response(model, inputs))


# ---------------------------------------------------------------------------------------------
# Databricks serving workspace


def _databricks_error(error_code: str, message: str, status: int) -> web.Response:
    return _json_response({"error_code": error_code, "message": message}, status)


def _new_endpoint(name: str, config: dict | None = None, **extra: Any) -> dict[str, Any]:
    now = int(time.time() * 1000)
    return {
        "name": name,
        "creator": "alice@example.com",
        "creation_timestamp": now,
        "last_updated_timestamp": now,
        "state": {"ready": "READY", "config_update": "NOT_UPDATING"},
        "config": config or {},
        "tags": [],
        "id": uuid.uuid4().hex,
        "permission_level": "CAN_MANAGE",
        "route_optimized": False,
        **extra,
    }


@dataclass(slots=True)
class _Route:
    name: str
    route_type: str
    model: dict[str, Any]
    limits: list[dict[str, Any]] = field(default_factory=list)


class DatabricksServer(LoopbackServer):
    """A fake Databricks workspace: ``/api/2.0/serving-endpoints/...`` management,
    ``/serving-endpoints/<name>/invocations`` queries (streamed as ``data:`` lines ending in
    ``data: [DONE]``) and the legacy gateway routes/limits API.

    Args:
        token: The accepted bearer token; ``None`` accepts any request.
        endpoints: The names of the serving endpoints present at start.
        stream_delay: Seconds between streamed chunks.
    """

    def __init__(
        self,
        *,
        token: str | None = "dapi-test-token",
        endpoints: Sequence[str] = ("chat", "completions", "embeddings"),
        stream_delay: float = 0.0,
        record: bool = True,
    ) -> None:
        super().__init__(record=record)
        self.token = token
        self.stream_delay = stream_delay
        self.serving: dict[str, dict[str, Any]] = {
            name: _new_endpoint(name, task=f"llm/v1/{name}") for name in endpoints
        }
        self.rate_limits: dict[str, list[dict[str, Any]]] = {}
        self.ai_gateway: dict[str, dict[str, Any]] = {}
        self.routes: dict[str, _Route] = {}

    def _add_routes(self, app: web.Application) -> None:
        base = "/api/2.0/serving-endpoints"
        for path in (base, base + "/"):
            app.router.add_get(path, self._list)
            app.router.add_post(path, self._create)
        app.router.add_get(base + "/{name}", self._get)
        app.router.add_delete(base + "/{name}", self._delete)
        app.router.add_put(base + "/{name}/config", self._update_config)
        app.router.add_patch(base + "/{name}/tags", self._patch_tags)
        app.router.add_put(base + "/{name}/rate-limits", self._put_rate_limits)
        app.router.add_put(base + "/{name}/ai-gateway", self._put_ai_gateway)
        app.router.add_post("/serving-endpoints/{name}/invocations", self._invoke)
        # The legacy AI gateway API, as a Databricks workspace served it.
        app.router.add_get("/api/2.0/gateway/routes/", self._search_routes)
        app.router.add_post("/api/2.0/gateway/routes/", self._create_route)
        app.router.add_get("/api/2.0/gateway/routes/{name}", self._get_route)
        app.router.add_delete("/api/2.0/gateway/routes/{name}", self._delete_route)
        app.router.add_post("/api/2.0/gateway/limits/", self._set_limits)
        app.router.add_get("/api/2.0/gateway/limits/{name}", self._get_limits)
        app.router.add_post("/gateway/{name}/invocations", self._query_route)

    def _not_found(self, request: web.Request) -> web.Response:
        return _databricks_error("ENDPOINT_NOT_FOUND", f"No API found for '{request.path}'", 404)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        return await super()._middleware(request, self._with_auth(handler))

    def _with_auth(self, handler: Handler) -> Handler:
        async def authenticated(request: web.Request) -> web.StreamResponse:
            # The SDK reads host metadata before it authenticates (and logs a warning when
            # it cannot): answer it as a workspace does.
            if request.path == "/.well-known/databricks-config":
                return _json_response({"oidc_endpoint": f"{self.base_url}/oidc"})
            if (
                self.token is not None
                and request.headers.get("Authorization") != f"Bearer {self.token}"
            ):
                return _databricks_error(
                    "UNAUTHENTICATED", "Credential was not sent or was of an unsupported type", 401
                )
            return await handler(request)

        return authenticated

    def _missing(self, name: str) -> web.Response:
        return _databricks_error(
            "RESOURCE_DOES_NOT_EXIST", f"Endpoint with name '{name}' does not exist.", 404
        )

    async def _list(self, request: web.Request) -> web.Response:
        return _json_response({"endpoints": list(self.serving.values())})

    async def _create(self, request: web.Request) -> web.Response:
        payload = await _json_body(request)
        if not isinstance(payload, dict) or not payload.get("name"):
            return _databricks_error("INVALID_PARAMETER_VALUE", "Missing required field: name", 400)
        name = payload["name"]
        if name in self.serving:
            return _databricks_error(
                "RESOURCE_ALREADY_EXISTS", f"Endpoint with name '{name}' already exists.", 400
            )
        extra = {k: v for k, v in payload.items() if k not in ("name", "config")}
        self.serving[name] = _new_endpoint(name, payload.get("config"), **extra)
        return _json_response(self.serving[name])

    async def _get(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self.serving:
            return self._missing(name)
        return _json_response(self.serving[name])

    async def _delete(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if self.serving.pop(name, None) is None:
            return self._missing(name)
        return _json_response({})

    async def _update_config(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self.serving:
            return self._missing(name)
        self.serving[name]["config"] = await _json_body(request) or {}
        self.serving[name]["last_updated_timestamp"] = int(time.time() * 1000)
        return _json_response(self.serving[name])

    async def _patch_tags(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self.serving:
            return self._missing(name)
        payload = await _json_body(request) or {}
        tags = {t["key"]: t for t in self.serving[name]["tags"]}
        for key in payload.get("delete_tags", []):
            tags.pop(key, None)
        for tag in payload.get("add_tags", []):
            tags[tag["key"]] = tag
        self.serving[name]["tags"] = list(tags.values())
        return _json_response({"tags": self.serving[name]["tags"]})

    async def _put_rate_limits(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self.serving:
            return self._missing(name)
        payload = await _json_body(request) or {}
        self.rate_limits[name] = payload.get("rate_limits", [])
        return _json_response({"rate_limits": self.rate_limits[name]})

    async def _put_ai_gateway(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self.serving:
            return self._missing(name)
        self.ai_gateway[name] = await _json_body(request) or {}
        return _json_response(self.ai_gateway[name])

    async def _invoke(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in self.serving:
            return self._missing(name)
        payload = await _json_body(request)
        if not isinstance(payload, dict):
            return _databricks_error("BAD_REQUEST", "The request body must be a JSON object.", 400)
        return await self._answer(request, name, payload)

    async def _answer(self, request, model: str, payload: dict) -> web.StreamResponse:
        stream = payload.get("stream") is True
        if isinstance(payload.get("messages"), list):
            if stream:
                chunks = chat_chunks(model, chat_reply(payload["messages"]))
                return await _sse(request, chunks, done=True, delay=self.stream_delay)
            return _json_response(chat_response(model, payload["messages"]))
        if "prompt" in payload:
            if stream:
                chunks = completions_chunks(model, completion_reply(payload["prompt"]))
                return await _sse(request, chunks, done=True, delay=self.stream_delay)
            return _json_response(completions_response(model, payload["prompt"]))
        if "input" in payload:
            return _json_response(embeddings_response(model, payload["input"]))
        for key in ("dataframe_records", "dataframe_split", "instances", "inputs"):
            if key in payload:
                return _json_response({"predictions": [0] * _rows(payload[key])})
        return _databricks_error(
            "BAD_REQUEST", "Invalid input: the request matches no known input format.", 400
        )

    # --- legacy gateway routes ---------------------------------------------------------------
    def _describe_route(self, route: _Route) -> dict[str, Any]:
        return {
            "name": route.name,
            "route_type": route.route_type,
            "model": {"name": route.model.get("name"), "provider": route.model.get("provider")},
            "route_url": f"{self.base_url}/gateway/{route.name}/invocations",
            "limit": None,
        }

    async def _search_routes(self, request: web.Request) -> web.Response:
        return _json_response({"routes": [self._describe_route(r) for r in self.routes.values()]})

    async def _create_route(self, request: web.Request) -> web.Response:
        payload = await _json_body(request) or {}
        name = payload.get("name")
        if not name or name in self.routes:
            return _databricks_error(
                "RESOURCE_ALREADY_EXISTS" if name else "INVALID_PARAMETER_VALUE",
                f"Cannot create route {name!r}.",
                400,
            )
        route = _Route(name, payload.get("route_type") or "llm/v1/chat", payload.get("model") or {})
        self.routes[name] = route
        return _json_response(self._describe_route(route))

    async def _get_route(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if (route := self.routes.get(name)) is None:
            return _databricks_error("RESOURCE_DOES_NOT_EXIST", f"Route {name!r} not found.", 404)
        return _json_response(self._describe_route(route))

    async def _delete_route(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if self.routes.pop(name, None) is None:
            return _databricks_error("RESOURCE_DOES_NOT_EXIST", f"Route {name!r} not found.", 404)
        return _json_response({})

    async def _set_limits(self, request: web.Request) -> web.Response:
        payload = await _json_body(request) or {}
        route = self.routes.get(payload.get("route", ""))
        if route is None:
            return _databricks_error("RESOURCE_DOES_NOT_EXIST", "Route not found.", 404)
        route.limits = list(payload.get("limits", []))
        return _json_response({"limits": route.limits})

    async def _get_limits(self, request: web.Request) -> web.Response:
        route = self.routes.get(request.match_info["name"])
        if route is None:
            return _databricks_error("RESOURCE_DOES_NOT_EXIST", "Route not found.", 404)
        return _json_response({"limits": route.limits})

    async def _query_route(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in self.routes:
            return _databricks_error("RESOURCE_DOES_NOT_EXIST", f"Route {name!r} not found.", 404)
        payload = await _json_body(request)
        if not isinstance(payload, dict):
            return _databricks_error("BAD_REQUEST", "The request body must be a JSON object.", 400)
        return await self._answer(request, name, payload)


def _rows(value: Any) -> int:
    if isinstance(value, dict):
        data = value.get("data")
        return len(data) if isinstance(data, list) else 1
    return len(value) if isinstance(value, list) else 1
