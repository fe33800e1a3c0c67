"""The management REST API of database-backed endpoints, on MLflow's routes and JSON shapes
(``/api/3.0/mlflow/gateway/...``). Errors use MLflow's REST shape ``{"error_code", "message"}``
with the code's HTTP status. A secret's value is accepted on create/update and never returned:
responses carry ``secret_name`` and masked hints only."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from mlflow.exceptions import INVALID_PARAMETER_VALUE, MlflowException
from mlflow.store.gateway.sqlalchemy_store import GatewayStore

PREFIX = "/api/3.0/mlflow/gateway"

Handler = Callable[[GatewayStore, dict[str, Any]], Awaitable[dict[str, Any]]]


def _rest_error(error: MlflowException) -> web.Response:
    return web.json_response(
        {"error_code": error.error_code, "message": error.message},
        status=error.get_http_status_code(),
    )


async def _params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        raw = await request.read()
        if raw.strip():
            try:
                body = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                raise MlflowException(
                    "The request body is not valid JSON", error_code=INVALID_PARAMETER_VALUE
                ) from None
            if not isinstance(body, dict):
                raise MlflowException(
                    "The request body must be a JSON object", error_code=INVALID_PARAMETER_VALUE
                )
            params.update(body)
    return params


def _required(params: dict[str, Any], key: str) -> Any:
    value = params.get(key)
    if value is None or value == "":
        raise MlflowException(
            f"Missing value for required parameter '{key}'", error_code=INVALID_PARAMETER_VALUE
        )
    return value


def _weight(params: dict[str, Any]) -> Any:
    weight = params.get("weight", 1.0)
    if isinstance(weight, str):  # a query parameter
        try:
            weight = float(weight)
        except ValueError:
            raise MlflowException(
                f"weight must be a number, got '{weight[:40]}'",
                error_code=INVALID_PARAMETER_VALUE,
            ) from None
    return weight


# -- secrets ------------------------------------------------------------------------------------


async def create_secret(store, p):
    info = await store.create_secret(
        _required(p, "secret_name"),
        p.get("secret_value"),
        p.get("provider"),
        p.get("auth_config"),
        p.get("created_by"),
    )
    return {"secret": info.to_dict()}


async def get_secret(store, p):
    return {
        "secret": (await store.get_secret_info(p.get("secret_id"), p.get("secret_name"))).to_dict()
    }


async def list_secrets(store, p):
    return {"secrets": [s.to_dict() for s in await store.list_secret_infos(p.get("provider"))]}


async def update_secret(store, p):
    info = await store.update_secret(
        _required(p, "secret_id"), p.get("secret_value"), p.get("auth_config"), p.get("updated_by")
    )
    return {"secret": info.to_dict()}


async def delete_secret(store, p):
    await store.delete_secret(_required(p, "secret_id"))
    return {}


# -- model definitions -------------------------------------------------------------------------


async def create_model_definition(store, p):
    definition = await store.create_model_definition(
        _required(p, "name"),
        p.get("secret_id"),
        _required(p, "provider"),
        _required(p, "model_name"),
        p.get("created_by"),
    )
    return {"model_definition": definition.to_dict()}


async def get_model_definition(store, p):
    definition = await store.get_model_definition(_required(p, "model_definition_id"))
    return {"model_definition": definition.to_dict()}


async def list_model_definitions(store, p):
    definitions = await store.list_model_definitions(p.get("provider"), p.get("secret_id"))
    return {"model_definitions": [d.to_dict() for d in definitions]}


async def update_model_definition(store, p):
    definition = await store.update_model_definition(
        _required(p, "model_definition_id"),
        name=p.get("name"),
        secret_id=p.get("secret_id"),
        model_name=p.get("model_name"),
        provider=p.get("provider"),
        updated_by=p.get("updated_by"),
    )
    return {"model_definition": definition.to_dict()}


async def delete_model_definition(store, p):
    await store.delete_model_definition(_required(p, "model_definition_id"))
    return {}


# -- endpoints, mappings, tags, bindings ----------------------------------------------------------


async def create_endpoint(store, p):
    endpoint = await store.create_endpoint(
        p.get("name"), p.get("model_configs"), p.get("created_by"), p.get("tags")
    )
    return {"endpoint": endpoint.to_dict()}


async def get_endpoint(store, p):
    return {"endpoint": (await store.get_endpoint(p.get("endpoint_id"), p.get("name"))).to_dict()}


async def list_endpoints(store, p):
    endpoints = await store.list_endpoints(p.get("provider"), p.get("secret_id"))
    return {"endpoints": [e.to_dict() for e in endpoints]}


async def update_endpoint(store, p):
    endpoint = await store.update_endpoint(
        _required(p, "endpoint_id"),
        name=p.get("name"),
        model_configs=p.get("model_configs"),
        updated_by=p.get("updated_by"),
    )
    return {"endpoint": endpoint.to_dict()}


async def delete_endpoint(store, p):
    await store.delete_endpoint(_required(p, "endpoint_id"))
    return {}


async def attach_model(store, p):
    config = p.get("model_config") or {}
    if not isinstance(config, dict):
        raise MlflowException(
            "model_config must be an object {model_definition_id, weight}",
            error_code=INVALID_PARAMETER_VALUE,
        )
    mapping = await store.attach_model_to_endpoint(
        _required(p, "endpoint_id"),
        _required(config, "model_definition_id"),
        _weight(config),
        p.get("created_by"),
    )
    return {"mapping": mapping.to_dict()}


async def detach_model(store, p):
    await store.detach_model_from_endpoint(
        _required(p, "endpoint_id"), _required(p, "model_definition_id")
    )
    return {}


async def update_mapping(store, p):
    mapping = await store.update_endpoint_model_mapping(_required(p, "mapping_id"), _weight(p))
    return {"mapping": mapping.to_dict()}


async def set_tag(store, p):
    await store.set_endpoint_tag(_required(p, "endpoint_id"), p.get("key"), p.get("value"))
    return {}


async def delete_tag(store, p):
    await store.delete_endpoint_tag(_required(p, "endpoint_id"), _required(p, "key"))
    return {}


async def create_binding(store, p):
    binding = await store.create_endpoint_binding(
        _required(p, "endpoint_id"),
        _required(p, "resource_type"),
        _required(p, "resource_id"),
        p.get("created_by"),
    )
    return {"binding": binding.to_dict()}


async def delete_binding(store, p):
    await store.delete_endpoint_binding(
        _required(p, "endpoint_id"), _required(p, "resource_type"), _required(p, "resource_id")
    )
    return {}


async def list_bindings(store, p):
    bindings = await store.list_endpoint_bindings(
        p.get("endpoint_id"), p.get("resource_type"), p.get("resource_id")
    )
    return {"bindings": [b.to_dict() for b in bindings]}


# (path, methods, handler, writes)
ROUTES: list[tuple[str, tuple[str, ...], Handler, bool]] = [
    ("/secrets/create", ("POST",), create_secret, True),
    ("/secrets/get", ("GET",), get_secret, False),
    ("/secrets/list", ("GET",), list_secrets, False),
    ("/secrets/update", ("POST", "PATCH"), update_secret, True),
    ("/secrets/delete", ("DELETE", "POST"), delete_secret, True),
    ("/model-definitions/create", ("POST",), create_model_definition, True),
    ("/model-definitions/get", ("GET",), get_model_definition, False),
    ("/model-definitions/list", ("GET",), list_model_definitions, False),
    ("/model-definitions/update", ("POST", "PATCH"), update_model_definition, True),
    ("/model-definitions/delete", ("DELETE", "POST"), delete_model_definition, True),
    ("/endpoints/create", ("POST",), create_endpoint, True),
    ("/endpoints/get", ("GET",), get_endpoint, False),
    ("/endpoints/list", ("GET",), list_endpoints, False),
    ("/endpoints/update", ("POST", "PATCH"), update_endpoint, True),
    ("/endpoints/delete", ("DELETE", "POST"), delete_endpoint, True),
    ("/endpoints/models/attach", ("POST",), attach_model, True),
    ("/endpoints/models/detach", ("POST",), detach_model, True),
    ("/endpoints/models/update", ("POST", "PATCH"), update_mapping, True),
    ("/endpoints/set-tag", ("POST",), set_tag, True),
    ("/endpoints/delete-tag", ("DELETE", "POST"), delete_tag, True),
    ("/endpoints/bindings/create", ("POST",), create_binding, True),
    ("/endpoints/bindings/delete", ("DELETE", "POST"), delete_binding, True),
    ("/endpoints/bindings/list", ("GET",), list_bindings, False),
]


def install_routes(app: web.Application, runtime) -> None:
    def wrap(handler: Handler, writes: bool):
        async def route(request: web.Request) -> web.Response:
            if runtime.store is None:
                return web.json_response(
                    {"error_code": "TEMPORARILY_UNAVAILABLE", "message": "database not open"},
                    status=503,
                )
            try:
                result = await handler(runtime.store, await _params(request))
            except MlflowException as e:
                return _rest_error(e)
            if writes:
                runtime.changed()
            return web.json_response(result)

        return route

    for path, methods, handler, writes in ROUTES:
        for method in methods:
            app.router.add_route(method, PREFIX + path, wrap(handler, writes))
