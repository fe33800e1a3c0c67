"""Client methods for the gateway's management API (database-backed endpoints).

``GatewayStoreClientMixin`` works on any class with a ``target_uri`` (the MLflow deployments
client includes it); ``GatewayStoreClient(target_uri)`` is the standalone form. Every method has
an awaitable twin prefixed with ``a`` (``create_endpoint`` / ``acreate_endpoint``): the twin is
the implementation, through ``mlflow.utils.rest_utils.ahttp_request``; the blocking method runs it
on the shared background loop. Errors are ``RestException`` with the server's error code
(RESOURCE_DOES_NOT_EXIST, RESOURCE_ALREADY_EXISTS, INVALID_PARAMETER_VALUE)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from async_core import run_sync
from mlflow.utils.credentials import get_default_host_creds
from mlflow.utils.rest_utils import ahttp_request_safe

if TYPE_CHECKING:
    from mlflow.entities import (
        GatewayEndpoint,
        GatewayEndpointBinding,
        GatewayEndpointModelMapping,
        GatewayModelDefinition,
        GatewaySecretInfo,
    )

API = "/api/3.0/mlflow/gateway"


def _entities():
    # Imported on first use: the deployments client includes this mixin, and most of its users
    # never touch the management API (the entities pull in the protobuf runtime).
    import mlflow.entities

    return mlflow.entities


def _secret(data: dict[str, Any]) -> GatewaySecretInfo:
    return _entities().GatewaySecretInfo(
        secret_id=data["secret_id"],
        secret_name=data["secret_name"],
        masked_values=data.get("masked_values") or {},
        created_at=data["created_at"],
        last_updated_at=data["last_updated_at"],
        provider=data.get("provider"),
        auth_config=data.get("auth_config") or {},
        created_by=data.get("created_by"),
        last_updated_by=data.get("last_updated_by"),
    )


def _blocking(coroutine_method):
    """The blocking twin of an ``a``-prefixed coroutine method."""

    @functools.wraps(coroutine_method)
    def method(self, *args, **kwargs):
        return run_sync(coroutine_method(self, *args, **kwargs))

    method.__name__ = coroutine_method.__name__[1:]
    method.__qualname__ = method.__qualname__.rsplit(".", 1)[0] + "." + method.__name__
    method.__doc__ = f"Blocking twin of ``{coroutine_method.__name__}``."
    return method


def _compact(**params: Any) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


class GatewayStoreClientMixin:
    target_uri: str

    async def _agateway(self, method: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
        creds = get_default_host_creds(self.target_uri)
        kwargs = {"params": params} if method == "GET" else {"json": params}
        response = await ahttp_request_safe(creds, API + path, method, **kwargs)
        return response.json()

    # -- secrets --------------------------------------------------------------------------------
    async def acreate_secret(
        self,
        secret_name: str,
        secret_value: dict[str, str],
        provider: str | None = None,
        auth_config: dict[str, Any] | None = None,
        created_by: str | None = None,
    ) -> GatewaySecretInfo:
        """Store a secret (encrypted at rest on the server); the answer holds masked hints only."""
        body = _compact(
            secret_name=secret_name,
            secret_value=secret_value,
            provider=provider,
            auth_config=auth_config,
            created_by=created_by,
        )
        return _secret((await self._agateway("POST", "/secrets/create", body))["secret"])

    async def aget_secret(
        self, secret_id: str | None = None, secret_name: str | None = None
    ) -> GatewaySecretInfo:
        body = _compact(secret_id=secret_id, secret_name=secret_name)
        return _secret((await self._agateway("GET", "/secrets/get", body))["secret"])

    async def alist_secrets(self, provider: str | None = None) -> list[GatewaySecretInfo]:
        answer = await self._agateway("GET", "/secrets/list", _compact(provider=provider))
        return [_secret(s) for s in answer.get("secrets", [])]

    async def aupdate_secret(
        self,
        secret_id: str,
        secret_value: dict[str, str] | None = None,
        auth_config: dict[str, Any] | None = None,
        updated_by: str | None = None,
    ) -> GatewaySecretInfo:
        body = _compact(
            secret_id=secret_id,
            secret_value=secret_value,
            auth_config=auth_config,
            updated_by=updated_by,
        )
        return _secret((await self._agateway("PATCH", "/secrets/update", body))["secret"])

    async def adelete_secret(self, secret_id: str) -> None:
        await self._agateway("DELETE", "/secrets/delete", {"secret_id": secret_id})

    # -- model definitions ------------------------------------------------------------------------
    async def acreate_model_definition(
        self,
        name: str,
        secret_id: str | None,
        provider: str,
        model_name: str,
        created_by: str | None = None,
    ) -> GatewayModelDefinition:
        body = _compact(
            name=name,
            secret_id=secret_id,
            provider=provider,
            model_name=model_name,
            created_by=created_by,
        )
        answer = await self._agateway("POST", "/model-definitions/create", body)
        return _entities().GatewayModelDefinition.from_dict(answer["model_definition"])

    async def aget_model_definition(self, model_definition_id: str) -> GatewayModelDefinition:
        answer = await self._agateway(
            "GET", "/model-definitions/get", {"model_definition_id": model_definition_id}
        )
        return _entities().GatewayModelDefinition.from_dict(answer["model_definition"])

    async def alist_model_definitions(
        self, provider: str | None = None, secret_id: str | None = None
    ) -> list[GatewayModelDefinition]:
        answer = await self._agateway(
            "GET", "/model-definitions/list", _compact(provider=provider, secret_id=secret_id)
        )
        return [
            _entities().GatewayModelDefinition.from_dict(d)
            for d in answer.get("model_definitions", [])
        ]

    async def aupdate_model_definition(
        self,
        model_definition_id: str,
        name: str | None = None,
        secret_id: str | None = None,
        model_name: str | None = None,
        provider: str | None = None,
        updated_by: str | None = None,
    ) -> GatewayModelDefinition:
        body = _compact(
            model_definition_id=model_definition_id,
            name=name,
            secret_id=secret_id,
            model_name=model_name,
            provider=provider,
            updated_by=updated_by,
        )
        answer = await self._agateway("PATCH", "/model-definitions/update", body)
        return _entities().GatewayModelDefinition.from_dict(answer["model_definition"])

    async def adelete_model_definition(self, model_definition_id: str) -> None:
        await self._agateway(
            "DELETE", "/model-definitions/delete", {"model_definition_id": model_definition_id}
        )

    # -- endpoints -------------------------------------------------------------------------------
    async def acreate_gateway_endpoint(
        self,
        name: str | None,
        model_configs: list[dict[str, Any]] | None = None,
        created_by: str | None = None,
        tags: list[dict[str, Any]] | None = None,
    ) -> GatewayEndpoint:
        """``model_configs``: ``[{"model_definition_id": ..., "weight": 1.0}, ...]``."""
        body = _compact(
            name=name, model_configs=model_configs or [], created_by=created_by, tags=tags
        )
        answer = await self._agateway("POST", "/endpoints/create", body)
        return _entities().GatewayEndpoint.from_dict(answer["endpoint"])

    async def aget_gateway_endpoint(
        self, endpoint_id: str | None = None, name: str | None = None
    ) -> GatewayEndpoint:
        answer = await self._agateway(
            "GET", "/endpoints/get", _compact(endpoint_id=endpoint_id, name=name)
        )
        return _entities().GatewayEndpoint.from_dict(answer["endpoint"])

    async def alist_gateway_endpoints(
        self, provider: str | None = None, secret_id: str | None = None
    ) -> list[GatewayEndpoint]:
        answer = await self._agateway(
            "GET", "/endpoints/list", _compact(provider=provider, secret_id=secret_id)
        )
        return [_entities().GatewayEndpoint.from_dict(e) for e in answer.get("endpoints", [])]

    async def aupdate_gateway_endpoint(
        self,
        endpoint_id: str,
        name: str | None = None,
        model_configs: list[dict[str, Any]] | None = None,
        updated_by: str | None = None,
    ) -> GatewayEndpoint:
        body = _compact(
            endpoint_id=endpoint_id, name=name, model_configs=model_configs, updated_by=updated_by
        )
        answer = await self._agateway("PATCH", "/endpoints/update", body)
        return _entities().GatewayEndpoint.from_dict(answer["endpoint"])

    async def adelete_gateway_endpoint(self, endpoint_id: str) -> None:
        await self._agateway("DELETE", "/endpoints/delete", {"endpoint_id": endpoint_id})

    # -- mappings, tags, bindings ----------------------------------------------------------------
    async def aattach_model_to_endpoint(
        self,
        endpoint_id: str,
        model_definition_id: str,
        weight: float = 1.0,
        created_by: str | None = None,
    ) -> GatewayEndpointModelMapping:
        body = _compact(
            endpoint_id=endpoint_id,
            model_config={"model_definition_id": model_definition_id, "weight": weight},
            created_by=created_by,
        )
        answer = await self._agateway("POST", "/endpoints/models/attach", body)
        return _entities().GatewayEndpointModelMapping.from_dict(answer["mapping"])

    async def aupdate_endpoint_model_mapping(
        self, mapping_id: str, weight: float
    ) -> GatewayEndpointModelMapping:
        answer = await self._agateway(
            "PATCH", "/endpoints/models/update", {"mapping_id": mapping_id, "weight": weight}
        )
        return _entities().GatewayEndpointModelMapping.from_dict(answer["mapping"])

    async def adetach_model_from_endpoint(self, endpoint_id: str, model_definition_id: str) -> None:
        await self._agateway(
            "POST",
            "/endpoints/models/detach",
            {"endpoint_id": endpoint_id, "model_definition_id": model_definition_id},
        )

    async def aset_gateway_endpoint_tag(
        self, endpoint_id: str, key: str, value: str | None
    ) -> None:
        await self._agateway(
            "POST", "/endpoints/set-tag", {"endpoint_id": endpoint_id, "key": key, "value": value}
        )

    async def adelete_gateway_endpoint_tag(self, endpoint_id: str, key: str) -> None:
        await self._agateway(
            "DELETE", "/endpoints/delete-tag", {"endpoint_id": endpoint_id, "key": key}
        )

    async def acreate_endpoint_binding(
        self,
        endpoint_id: str,
        resource_type: str,
        resource_id: str,
        created_by: str | None = None,
    ) -> GatewayEndpointBinding:
        body = _compact(
            endpoint_id=endpoint_id,
            resource_type=resource_type,
            resource_id=resource_id,
            created_by=created_by,
        )
        answer = await self._agateway("POST", "/endpoints/bindings/create", body)
        return _entities().GatewayEndpointBinding.from_dict(answer["binding"])

    async def adelete_endpoint_binding(
        self, endpoint_id: str, resource_type: str, resource_id: str
    ) -> None:
        await self._agateway(
            "DELETE",
            "/endpoints/bindings/delete",
            {
                "endpoint_id": endpoint_id,
                "resource_type": resource_type,
                "resource_id": resource_id,
            },
        )

    async def alist_endpoint_bindings(
        self,
        endpoint_id: str | None = None,
        resource_type: str | None = None,
        resource_id: str | None = None,
    ) -> list[GatewayEndpointBinding]:
        answer = await self._agateway(
            "GET",
            "/endpoints/bindings/list",
            _compact(endpoint_id=endpoint_id, resource_type=resource_type, resource_id=resource_id),
        )
        return [_entities().GatewayEndpointBinding.from_dict(b) for b in answer.get("bindings", [])]

    create_secret = _blocking(acreate_secret)
    get_secret = _blocking(aget_secret)
    list_secrets = _blocking(alist_secrets)
    update_secret = _blocking(aupdate_secret)
    delete_secret = _blocking(adelete_secret)
    create_model_definition = _blocking(acreate_model_definition)
    get_model_definition = _blocking(aget_model_definition)
    list_model_definitions = _blocking(alist_model_definitions)
    update_model_definition = _blocking(aupdate_model_definition)
    delete_model_definition = _blocking(adelete_model_definition)
    create_gateway_endpoint = _blocking(acreate_gateway_endpoint)
    get_gateway_endpoint = _blocking(aget_gateway_endpoint)
    list_gateway_endpoints = _blocking(alist_gateway_endpoints)
    update_gateway_endpoint = _blocking(aupdate_gateway_endpoint)
    delete_gateway_endpoint = _blocking(adelete_gateway_endpoint)
    attach_model_to_endpoint = _blocking(aattach_model_to_endpoint)
    update_endpoint_model_mapping = _blocking(aupdate_endpoint_model_mapping)
    detach_model_from_endpoint = _blocking(adetach_model_from_endpoint)
    set_gateway_endpoint_tag = _blocking(aset_gateway_endpoint_tag)
    delete_gateway_endpoint_tag = _blocking(adelete_gateway_endpoint_tag)
    create_endpoint_binding = _blocking(acreate_endpoint_binding)
    delete_endpoint_binding = _blocking(adelete_endpoint_binding)
    list_endpoint_bindings = _blocking(alist_endpoint_bindings)


class GatewayStoreClient(GatewayStoreClientMixin):
    """The management API of one gateway server (``http://host:port``)."""

    def __init__(self, target_uri: str) -> None:
        self.target_uri = target_uri.rstrip("/")

    def __repr__(self) -> str:
        # Scheme, host and port only: a URL may carry user:password.
        parts = urlsplit(self.target_uri)
        return f"GatewayStoreClient('{parts.scheme}://{parts.hostname}:{parts.port}')"
