"""MLflow's gateway route table on aiohttp, with MLflow's status codes and JSON shapes.

Names are resolved per request against the live runtime (hot reload adds and removes endpoints
without touching the router)."""

from __future__ import annotations

import base64
import json
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from mlflow.gateway.base_models import SetLimitsModel
from mlflow.gateway.exceptions import AIGatewayException
from mlflow.gateway.server.errors import error_response, json_response
from mlflow.gateway.server.invoke import invoke
from mlflow.gateway.server.keys import RUNTIME_KEY
from mlflow.gateway.server.options import ServerOptions
from mlflow.gateway.server.payloads import InvalidRequestBody, fastapi_errors, read_json_object
from mlflow.gateway.server.runtime import Runtime
from mlflow.gateway.server.state import STATE_KEY
from mlflow.gateway.server.validation import CHAT, COMPLETIONS, EMBEDDINGS, is_stream, validate

#: MLflow's page size of GET /api/2.0/endpoints/ and the legacy route search.
PAGE_SIZE = 3000

_KIND_WORD = {CHAT: "a chat", COMPLETIONS: "a completions", EMBEDDINGS: "an embeddings"}


def _runtime(request: web.Request) -> Runtime:
    return request.app[RUNTIME_KEY].current


# ---------------------------------------------------------------------------------------------
# Reads


async def health(request: web.Request) -> web.Response:
    return json_response({"status": "OK"})


def encode_page_token(index: int) -> str:
    return base64.b64encode(json.dumps({"index": index}).encode()).decode()


def decode_page_token(token: str) -> int:
    try:
        index = int(json.loads(base64.b64decode(token)).get("index"))
    except Exception:  # noqa: BLE001 - any malformed token gets the same message
        raise AIGatewayException(
            status_code=400,
            detail=f"Invalid SearchRoutes token: {token}. The index is not defined as a value "
            "that can be represented as a positive integer.",
        ) from None
    if index < 0:
        raise AIGatewayException(
            status_code=400,
            detail=f"Invalid SearchRoutes token: {token}. The index cannot be negative.",
        )
    return index


def _page(request: web.Request, key: str, describe) -> web.Response:
    token = request.query.get("page_token")
    start = decode_page_token(token) if token is not None else 0
    endpoints = _runtime(request).endpoints
    end = start + PAGE_SIZE
    body: dict[str, Any] = {key: [describe(e) for e in endpoints[start:end]]}
    body["next_page_token"] = encode_page_token(end) if endpoints[end:] else None
    return json_response(body)


def _endpoint_json(endpoint) -> dict[str, Any]:
    return endpoint.to_endpoint().model_dump(mode="json")


def _route_json(endpoint) -> dict[str, Any]:
    return endpoint.to_route().model_dump(mode="json")


async def list_endpoints(request: web.Request) -> web.Response:
    return _page(request, "endpoints", _endpoint_json)


async def search_routes(request: web.Request) -> web.Response:
    return _page(request, "routes", _route_json)


def _missing(kind: str, name: str) -> AIGatewayException:
    return AIGatewayException(
        status_code=404,
        detail=f"The {kind} '{name}' is not present or active on the server. Please verify the "
        f"{kind} name.",
    )


async def get_endpoint(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    endpoint = _runtime(request).endpoint(name)
    if endpoint is None:
        raise _missing("endpoint", name)
    return json_response(_endpoint_json(endpoint))


async def get_route(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    endpoint = _runtime(request).endpoint(name)
    if endpoint is None:
        raise _missing("route", name)
    return json_response(_route_json(endpoint))


async def get_traffic_route(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    for route in _runtime(request).config.routes or []:
        if route.name == name:
            return json_response(route.model_dump(mode="json"))
    raise _missing("route", name)


async def get_limits(request: web.Request) -> web.Response:
    return error_response(501, "The get_limits API is not available yet.")


async def set_limits(request: web.Request) -> web.Response:
    options = request.app[STATE_KEY].options
    payload = await read_json_object(request, options.max_body_bytes)
    try:
        SetLimitsModel.model_validate(payload)
    except ValidationError as e:
        raise InvalidRequestBody(fastapi_errors(e.errors(include_url=False))) from None
    return error_response(501, "The set_limits API is not available yet.")


# ---------------------------------------------------------------------------------------------
# Invocations


def _streams(endpoint_type: str, payload: dict[str, Any]) -> bool:
    # MLflow's embeddings handler has no stream: a "stream" field there gets the plain answer.
    return endpoint_type != EMBEDDINGS and is_stream(payload)


async def _invoke_named(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    runtime = _runtime(request)
    target = runtime.resolve(name)
    if target is None:
        raise web.HTTPNotFound()  # no such route on MLflow's gateway: FastAPI's plain 404
    options = request.app[STATE_KEY].options
    body = await read_json_object(request, options.max_body_bytes)
    payload = validate(target.endpoint_type, body)
    return await invoke(request, target, payload, _streams(target.endpoint_type, payload))


def _openai_handler(endpoint_type: str):
    async def handler(request: web.Request) -> web.StreamResponse:
        options = request.app[STATE_KEY].options
        payload = validate(endpoint_type, await read_json_object(request, options.max_body_bytes))
        name = payload.get("model")
        if not isinstance(name, str) or not name:
            raise InvalidRequestBody(
                [
                    {
                        "type": "missing",
                        "loc": ["body", "model"],
                        "msg": "Field required: 'model' names the endpoint or route to call",
                        "input": payload.get("model"),
                    }
                ]
            )
        target = _runtime(request).resolve(name)
        if target is None:
            # MLflow answers 500 text/plain here; an unknown model is a caller error.
            raise AIGatewayException(
                status_code=404,
                detail=f"The endpoint '{name}' is not present or active on the server. Please "
                "verify the endpoint name.",
            )
        if target.endpoint_type != endpoint_type:
            raise AIGatewayException(
                status_code=400,
                detail=f"Endpoint {name!r} is not {_KIND_WORD[endpoint_type]} endpoint.",
            )
        # The provider must not see the gateway's name for the endpoint as its model.
        payload = {k: v for k, v in payload.items() if k != "model"}
        return await invoke(request, target, payload, _streams(endpoint_type, payload))

    return handler


def install(app: web.Application, options: ServerOptions) -> None:
    router = app.router
    if not any(
        getattr(r, "canonical", None) == "/health" for r in router.resources()
    ):
        router.add_get("/health", health)
    router.add_get("/api/2.0/endpoints/", list_endpoints)
    router.add_get("/api/2.0/endpoints/limits/{name}", get_limits)
    router.add_post("/api/2.0/endpoints/limits/", set_limits)
    router.add_get("/api/2.0/endpoints/{name}", get_endpoint)
    router.add_get("/api/2.0/gateway/routes/", search_routes)
    router.add_get("/api/2.0/gateway/routes/{name}", get_route)
    router.add_get("/api/2.0/gateway/limits/{name}", get_limits)
    router.add_post("/api/2.0/gateway/limits/", set_limits)
    router.add_get("/api/3.0/gateway/endpoint/{name}", get_endpoint)
    router.add_get("/api/3.0/gateway/route/{name}", get_traffic_route)
    router.add_post("/endpoints/{name}/invocations", _invoke_named)
    router.add_post("/gateway/{name}/invocations", _invoke_named)
    router.add_post("/v1/chat/completions", _openai_handler(CHAT))
    router.add_post("/v1/completions", _openai_handler(COMPLETIONS))
    router.add_post("/v1/embeddings", _openai_handler(EMBEDDINGS))
