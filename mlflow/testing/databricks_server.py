"""A fake Databricks workspace: serving-endpoint management, ``/serving-endpoints/<name>/
invocations`` queries (streamed as ``data:`` lines ending in ``data: [DONE]``) and the legacy
gateway routes/limits API."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from mlflow.testing.loopback import Handler, LoopbackServer, json_body, json_response, sse_json
from mlflow.testing.replies import (
    chat_chunks,
    chat_reply,
    chat_response,
    completion_reply,
    completions_chunks,
    completions_response,
    embeddings_response,
)

__all__ = ["DatabricksServer"]

def _databricks_error(error_code: str, message: str, status: int) -> web.Response:
    return json_response({"error_code": error_code, "message": message}, status)


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
        # The OpenAI-compatible serving API: the endpoint is the body's "model".
        for task in ("chat/completions", "completions", "embeddings"):
            app.router.add_post(f"/serving-endpoints/{task}", self._invoke_openai)
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
                return json_response({"oidc_endpoint": f"{self.base_url}/oidc"})
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
        return json_response({"endpoints": list(self.serving.values())})

    async def _create(self, request: web.Request) -> web.Response:
        payload = await json_body(request)
        if not isinstance(payload, dict) or not payload.get("name"):
            return _databricks_error("INVALID_PARAMETER_VALUE", "Missing required field: name", 400)
        name = payload["name"]
        if name in self.serving:
            return _databricks_error(
                "RESOURCE_ALREADY_EXISTS", f"Endpoint with name '{name}' already exists.", 400
            )
        extra = {k: v for k, v in payload.items() if k not in ("name", "config")}
        self.serving[name] = _new_endpoint(name, payload.get("config"), **extra)
        return json_response(self.serving[name])

    async def _get(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self.serving:
            return self._missing(name)
        return json_response(self.serving[name])

    async def _delete(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if self.serving.pop(name, None) is None:
            return self._missing(name)
        return json_response({})

    async def _update_config(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self.serving:
            return self._missing(name)
        self.serving[name]["config"] = await json_body(request) or {}
        self.serving[name]["last_updated_timestamp"] = int(time.time() * 1000)
        return json_response(self.serving[name])

    async def _patch_tags(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self.serving:
            return self._missing(name)
        payload = await json_body(request) or {}
        tags = {t["key"]: t for t in self.serving[name]["tags"]}
        for key in payload.get("delete_tags", []):
            tags.pop(key, None)
        for tag in payload.get("add_tags", []):
            tags[tag["key"]] = tag
        self.serving[name]["tags"] = list(tags.values())
        return json_response({"tags": self.serving[name]["tags"]})

    async def _put_rate_limits(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self.serving:
            return self._missing(name)
        payload = await json_body(request) or {}
        self.rate_limits[name] = payload.get("rate_limits", [])
        return json_response({"rate_limits": self.rate_limits[name]})

    async def _put_ai_gateway(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self.serving:
            return self._missing(name)
        self.ai_gateway[name] = await json_body(request) or {}
        return json_response(self.ai_gateway[name])

    async def _invoke(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in self.serving:
            return self._missing(name)
        payload = await json_body(request)
        if not isinstance(payload, dict):
            return _databricks_error("BAD_REQUEST", "The request body must be a JSON object.", 400)
        return await self._answer(request, name, payload)

    async def _invoke_openai(self, request: web.Request) -> web.StreamResponse:
        payload = await json_body(request)
        if not isinstance(payload, dict):
            return _databricks_error("BAD_REQUEST", "The request body must be a JSON object.", 400)
        name = payload.pop("model", None)
        if not name:
            return _databricks_error("BAD_REQUEST", "Missing required field: model", 400)
        if name not in self.serving:
            return self._missing(name)
        task = request.path.removeprefix("/serving-endpoints/")
        expected = {"chat/completions": "messages", "completions": "prompt",
                    "embeddings": "input"}[task]
        if expected not in payload:
            return _databricks_error(
                "BAD_REQUEST", f"Invalid input: the request needs '{expected}'.", 400)
        return await self._answer(request, name, payload)

    async def _answer(self, request, model: str, payload: dict) -> web.StreamResponse:
        stream = payload.get("stream") is True
        if isinstance(payload.get("messages"), list):
            if stream:
                chunks = chat_chunks(model, chat_reply(payload["messages"]))
                return await sse_json(request, chunks, done=True, delay=self.stream_delay)
            return json_response(chat_response(model, payload["messages"]))
        if "prompt" in payload:
            if stream:
                chunks = completions_chunks(model, completion_reply(payload["prompt"]))
                return await sse_json(request, chunks, done=True, delay=self.stream_delay)
            return json_response(completions_response(model, payload["prompt"]))
        if "input" in payload:
            return json_response(embeddings_response(model, payload["input"]))
        for key in ("dataframe_records", "dataframe_split", "instances", "inputs"):
            if key in payload:
                return json_response({"predictions": [0] * _rows(payload[key])})
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
        return json_response({"routes": [self._describe_route(r) for r in self.routes.values()]})

    async def _create_route(self, request: web.Request) -> web.Response:
        payload = await json_body(request) or {}
        name = payload.get("name")
        if not name or name in self.routes:
            return _databricks_error(
                "RESOURCE_ALREADY_EXISTS" if name else "INVALID_PARAMETER_VALUE",
                f"Cannot create route {name!r}.",
                400,
            )
        route = _Route(name, payload.get("route_type") or "llm/v1/chat", payload.get("model") or {})
        self.routes[name] = route
        return json_response(self._describe_route(route))

    async def _get_route(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if (route := self.routes.get(name)) is None:
            return _databricks_error("RESOURCE_DOES_NOT_EXIST", f"Route {name!r} not found.", 404)
        return json_response(self._describe_route(route))

    async def _delete_route(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if self.routes.pop(name, None) is None:
            return _databricks_error("RESOURCE_DOES_NOT_EXIST", f"Route {name!r} not found.", 404)
        return json_response({})

    async def _set_limits(self, request: web.Request) -> web.Response:
        payload = await json_body(request) or {}
        route = self.routes.get(payload.get("route", ""))
        if route is None:
            return _databricks_error("RESOURCE_DOES_NOT_EXIST", "Route not found.", 404)
        route.limits = list(payload.get("limits", []))
        return json_response({"limits": route.limits})

    async def _get_limits(self, request: web.Request) -> web.Response:
        route = self.routes.get(request.match_info["name"])
        if route is None:
            return _databricks_error("RESOURCE_DOES_NOT_EXIST", "Route not found.", 404)
        return json_response({"limits": route.limits})

    async def _query_route(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in self.routes:
            return _databricks_error("RESOURCE_DOES_NOT_EXIST", f"Route {name!r} not found.", 404)
        payload = await json_body(request)
        if not isinstance(payload, dict):
            return _databricks_error("BAD_REQUEST", "The request body must be a JSON object.", 400)
        return await self._answer(request, name, payload)


def _rows(value: Any) -> int:
    if isinstance(value, dict):
        data = value.get("data")
        return len(data) if isinstance(data, list) else 1
    return len(value) if isinstance(value, list) else 1
