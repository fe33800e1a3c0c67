"""A stand-in for ``mlflow gateway start`` (the MLflow AI gateway / deployments server): the same
routes, JSON shapes, FastAPI-style error bodies (``{"detail": ...}``) and per-endpoint ``limit``
enforced in fixed windows per client, answering 429
``{"error": "Rate limit exceeded: 2 per 1 minute"}`` without ``Retry-After``."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from async_core.limits.periods import parse_period, period_words
from mlflow.testing.loopback import (
    INVALID_JSON,
    LoopbackServer,
    json_body,
    json_response,
    sse_json,
)
from mlflow.testing.replies import (
    chat_chunks,
    chat_reply,
    chat_response,
    completion_reply,
    completions_chunks,
    completions_response,
    embeddings_response,
)

__all__ = [
    "GatewayEndpoint",
    "GatewayServer",
    "decode_page_token",
    "default_gateway_endpoints",
    "encode_page_token",
]


def _validation_error(loc: str, payload: Any, msg: str = "Field required") -> web.Response:
    # FastAPI's shape for request validation errors.
    detail = [{"type": "missing", "loc": ["body", loc], "msg": msg, "input": payload}]
    return json_response({"detail": detail}, 422)


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
        return json_response({"status": "OK"})

    def _page(self, request: web.Request, key: str, describe) -> web.Response:
        token = request.query.get("page_token")
        try:
            start = decode_page_token(token) if token is not None else 0
        except Exception:
            return json_response(
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
        return json_response(result)

    async def _list_endpoints(self, request: web.Request) -> web.Response:
        return self._page(request, "endpoints", GatewayEndpoint.describe)

    async def _search_routes(self, request: web.Request) -> web.Response:
        return self._page(request, "routes", GatewayEndpoint.describe_route)

    async def _get_endpoint(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if (endpoint := self.endpoints.get(name)) is None:
            return json_response(
                {
                    "detail": f"The endpoint '{name}' is not present or active on the server. "
                    "Please verify the endpoint name."
                },
                404,
            )
        return json_response(endpoint.describe())

    async def _get_route(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if (endpoint := self.endpoints.get(name)) is None:
            return json_response(
                {
                    "detail": f"The route '{name}' is not present or active on the server. "
                    "Please verify the route name."
                },
                404,
            )
        return json_response(endpoint.describe_route())

    async def _get_limits(self, request: web.Request) -> web.Response:
        return json_response({"detail": "The get_limits API is not available yet."}, 501)

    async def _set_limits(self, request: web.Request) -> web.Response:
        return json_response({"detail": "The set_limits API is not available yet."}, 501)

    async def _invoke_deployments(self, request: web.Request) -> web.StreamResponse:
        return await self._invoke(request, "deployments")

    async def _invoke_gateway(self, request: web.Request) -> web.StreamResponse:
        return await self._invoke(request, "gateway")

    def _over_limit(self, request: web.Request, kind: str, endpoint: GatewayEndpoint) -> str | None:
        if endpoint.limit is None:
            return None
        calls = int(endpoint.limit["calls"])
        seconds = parse_period(endpoint.limit["renewal_period"])
        count, unit = period_words(seconds)
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
            return json_response({"error": f"Rate limit exceeded: {exceeded}"}, 429)
        payload = await json_body(request)
        if payload is INVALID_JSON or not isinstance(payload, dict):
            return json_response(
                {
                    "detail": [
                        {
                            "type": "json_invalid" if payload is INVALID_JSON else "missing",
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
                return await sse_json(
                    request, chunks, done=self.done_marker, delay=self.stream_delay
                )
            return json_response(chat_response(model, messages))
        if endpoint.endpoint_type == "llm/v1/completions":
            prompt = payload.get("prompt")
            if not isinstance(prompt, str):
                return _validation_error("prompt", payload)
            if stream:
                chunks = completions_chunks(model, completion_reply(prompt))
                return await sse_json(
                    request, chunks, done=self.done_marker, delay=self.stream_delay
                )
            return json_response(completions_response(model, prompt))
        if endpoint.endpoint_type == "llm/v1/embeddings":
            inputs = payload.get("input")
            if not isinstance(inputs, str | list):
                return _validation_error("input", payload)
            return json_response(embeddings_response(model, inputs))
        return json_response(
            {"detail": f"Unexpected route type {endpoint.endpoint_type!r} for route {name!r}."},
            404,
        )
