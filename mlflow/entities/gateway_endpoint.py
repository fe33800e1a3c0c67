"""Gateway entities (seed 004): reusable model definitions, endpoints, the weighted mappings
between them, endpoint tags and bindings to other MLflow resources.

Fields, types and defaults are the seed's. Conversions:
- ``to_proto``/``from_proto`` use the messages of the same names in ``mlflow.protos.service_pb2``.
- ``to_dict``/``from_dict`` give the JSON form (the REST API's); a None field is left out.
- None against "": where the seed reads a field back as ``proto.x or None`` (created_by,
  last_updated_by, a tag's value, an endpoint's name), "" and None mean the same thing, so the
  entity stores None for "" and every round trip is lossless. ``secret_id`` and ``secret_name``
  keep the two apart: None is "orphaned" (no field on the wire), "" is a value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from mlflow.entities._convert import (
    check_type,
    none_if_empty,
    optional,
    optional_field,
    require,
    set_if_not_none,
    without_none,
)
from mlflow.entities._mlflow_object import _MlflowObject
from mlflow.exceptions import INVALID_PARAMETER_VALUE, MlflowException
from mlflow.protos.service_pb2 import GatewayEndpoint as ProtoGatewayEndpoint
from mlflow.protos.service_pb2 import GatewayEndpointBinding as ProtoGatewayEndpointBinding
from mlflow.protos.service_pb2 import (
    GatewayEndpointModelMapping as ProtoGatewayEndpointModelMapping,
)
from mlflow.protos.service_pb2 import GatewayEndpointTag as ProtoGatewayEndpointTag
from mlflow.protos.service_pb2 import GatewayModelDefinition as ProtoGatewayModelDefinition


class GatewayResourceType(str, Enum):
    """Valid MLflow resource types that can use gateway endpoints."""

    SCORER_JOB = "scorer_job"

    @classmethod
    def parse(cls, value: Any) -> GatewayResourceType:
        if isinstance(value, cls):
            return value
        try:
            return cls(value)
        except ValueError:
            allowed = ", ".join(repr(member.value) for member in cls)
            shown = value if isinstance(value, str) and len(value) <= 100 else type(value).__name__
            raise MlflowException(
                f"Invalid resource_type '{shown}'. Valid resource types: {allowed}",
                error_code=INVALID_PARAMETER_VALUE,
            ) from None


@dataclass
class GatewayModelDefinition(_MlflowObject):
    """A reusable LLM model configuration: provider, model name and the secret holding its
    credentials (``secret_id``/``secret_name`` None when the secret was deleted: orphaned)."""

    model_definition_id: str
    name: str
    secret_id: str | None
    secret_name: str | None
    provider: str
    model_name: str
    created_at: int
    last_updated_at: int
    created_by: str | None = None
    last_updated_by: str | None = None

    def __post_init__(self) -> None:
        self.created_by = none_if_empty(self.created_by)
        self.last_updated_by = none_if_empty(self.last_updated_by)

    def to_proto(self) -> ProtoGatewayModelDefinition:
        proto = ProtoGatewayModelDefinition()
        proto.model_definition_id = self.model_definition_id
        proto.name = self.name
        set_if_not_none(proto, "secret_id", self.secret_id)
        set_if_not_none(proto, "secret_name", self.secret_name)
        proto.provider = self.provider
        proto.model_name = self.model_name
        proto.created_at = self.created_at
        proto.last_updated_at = self.last_updated_at
        set_if_not_none(proto, "created_by", self.created_by)
        set_if_not_none(proto, "last_updated_by", self.last_updated_by)
        return proto

    @classmethod
    def from_proto(cls, proto: ProtoGatewayModelDefinition) -> GatewayModelDefinition:
        return cls(
            model_definition_id=proto.model_definition_id,
            name=proto.name,
            secret_id=optional_field(proto, "secret_id"),
            secret_name=optional_field(proto, "secret_name"),
            provider=proto.provider,
            model_name=proto.model_name,
            created_at=proto.created_at,
            last_updated_at=proto.last_updated_at,
            created_by=proto.created_by or None,
            last_updated_by=proto.last_updated_by or None,
        )

    def to_dict(self) -> dict[str, Any]:
        return without_none(dict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GatewayModelDefinition:
        name = "GatewayModelDefinition"
        return cls(
            model_definition_id=require(data, "model_definition_id", str, name),
            name=require(data, "name", str, name),
            secret_id=optional(data, "secret_id", str, name),
            secret_name=optional(data, "secret_name", str, name),
            provider=require(data, "provider", str, name),
            model_name=require(data, "model_name", str, name),
            created_at=require(data, "created_at", int, name),
            last_updated_at=require(data, "last_updated_at", int, name),
            created_by=optional(data, "created_by", str, name),
            last_updated_by=optional(data, "last_updated_by", str, name),
        )


@dataclass
class GatewayEndpointModelMapping(_MlflowObject):
    """Links an endpoint to a model definition with a routing ``weight`` (default 1 when created
    through the store)."""

    mapping_id: str
    endpoint_id: str
    model_definition_id: str
    model_definition: GatewayModelDefinition | None
    weight: float
    created_at: int
    created_by: str | None = None

    def __post_init__(self) -> None:
        self.created_by = none_if_empty(self.created_by)

    def to_proto(self) -> ProtoGatewayEndpointModelMapping:
        proto = ProtoGatewayEndpointModelMapping()
        proto.mapping_id = self.mapping_id
        proto.endpoint_id = self.endpoint_id
        proto.model_definition_id = self.model_definition_id
        if self.model_definition is not None:
            proto.model_definition.CopyFrom(self.model_definition.to_proto())
        proto.weight = self.weight
        proto.created_at = self.created_at
        set_if_not_none(proto, "created_by", self.created_by)
        return proto

    @classmethod
    def from_proto(cls, proto: ProtoGatewayEndpointModelMapping) -> GatewayEndpointModelMapping:
        model_definition = None
        if proto.HasField("model_definition"):
            model_definition = GatewayModelDefinition.from_proto(proto.model_definition)
        return cls(
            mapping_id=proto.mapping_id,
            endpoint_id=proto.endpoint_id,
            model_definition_id=proto.model_definition_id,
            model_definition=model_definition,
            weight=proto.weight,
            created_at=proto.created_at,
            created_by=proto.created_by or None,
        )

    def to_dict(self) -> dict[str, Any]:
        data = dict(self)
        if self.model_definition is not None:
            data["model_definition"] = self.model_definition.to_dict()
        return without_none(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GatewayEndpointModelMapping:
        name = "GatewayEndpointModelMapping"
        model_definition = optional(data, "model_definition", dict, name)
        return cls(
            mapping_id=require(data, "mapping_id", str, name),
            endpoint_id=require(data, "endpoint_id", str, name),
            model_definition_id=require(data, "model_definition_id", str, name),
            model_definition=(
                None
                if model_definition is None
                else GatewayModelDefinition.from_dict(model_definition)
            ),
            weight=float(require(data, "weight", (int, float), name)),
            created_at=require(data, "created_at", int, name),
            created_by=optional(data, "created_by", str, name),
        )


@dataclass
class GatewayEndpointTag(_MlflowObject):
    """A key/value tag on an endpoint (key at most 250 characters, value at most 5000 or None)."""

    key: str
    value: str | None

    def __post_init__(self) -> None:
        self.value = none_if_empty(self.value)

    def to_proto(self) -> ProtoGatewayEndpointTag:
        proto = ProtoGatewayEndpointTag()
        proto.key = self.key
        set_if_not_none(proto, "value", self.value)
        return proto

    @classmethod
    def from_proto(cls, proto: ProtoGatewayEndpointTag) -> GatewayEndpointTag:
        return cls(key=proto.key, value=proto.value or None)

    def to_dict(self) -> dict[str, Any]:
        return without_none(dict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GatewayEndpointTag:
        name = "GatewayEndpointTag"
        return cls(key=require(data, "key", str, name), value=optional(data, "value", str, name))


@dataclass
class GatewayEndpoint(_MlflowObject):
    """An endpoint: a (usually) named set of weighted model mappings, with tags."""

    endpoint_id: str
    name: str | None
    created_at: int
    last_updated_at: int
    model_mappings: list[GatewayEndpointModelMapping] = field(default_factory=list)
    tags: list[GatewayEndpointTag] = field(default_factory=list)
    created_by: str | None = None
    last_updated_by: str | None = None

    def __post_init__(self) -> None:
        # The seed writes "" for None on the wire and reads "" back as None.
        self.name = none_if_empty(self.name)
        self.created_by = none_if_empty(self.created_by)
        self.last_updated_by = none_if_empty(self.last_updated_by)

    def to_proto(self) -> ProtoGatewayEndpoint:
        proto = ProtoGatewayEndpoint()
        proto.endpoint_id = self.endpoint_id
        proto.name = self.name or ""
        proto.created_at = self.created_at
        proto.last_updated_at = self.last_updated_at
        proto.model_mappings.extend([mapping.to_proto() for mapping in self.model_mappings])
        proto.tags.extend([tag.to_proto() for tag in self.tags])
        proto.created_by = self.created_by or ""
        proto.last_updated_by = self.last_updated_by or ""
        return proto

    @classmethod
    def from_proto(cls, proto: ProtoGatewayEndpoint) -> GatewayEndpoint:
        return cls(
            endpoint_id=proto.endpoint_id,
            name=proto.name or None,
            created_at=proto.created_at,
            last_updated_at=proto.last_updated_at,
            model_mappings=[
                GatewayEndpointModelMapping.from_proto(mapping) for mapping in proto.model_mappings
            ],
            tags=[GatewayEndpointTag.from_proto(tag) for tag in proto.tags],
            created_by=proto.created_by or None,
            last_updated_by=proto.last_updated_by or None,
        )

    def to_dict(self) -> dict[str, Any]:
        data = dict(self)
        data["model_mappings"] = [mapping.to_dict() for mapping in self.model_mappings]
        data["tags"] = [tag.to_dict() for tag in self.tags]
        return without_none(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GatewayEndpoint:
        name = "GatewayEndpoint"
        mappings = optional(data, "model_mappings", list, name) or []
        tags = optional(data, "tags", list, name) or []
        return cls(
            endpoint_id=require(data, "endpoint_id", str, name),
            name=optional(data, "name", str, name),
            created_at=require(data, "created_at", int, name),
            last_updated_at=require(data, "last_updated_at", int, name),
            model_mappings=[
                GatewayEndpointModelMapping.from_dict(check_type(m, "model_mappings", dict, name))
                for m in mappings
            ],
            tags=[GatewayEndpointTag.from_dict(check_type(t, "tags", dict, name)) for t in tags],
            created_by=optional(data, "created_by", str, name),
            last_updated_by=optional(data, "last_updated_by", str, name),
        )


@dataclass
class GatewayEndpointBinding(_MlflowObject):
    """Records that an MLflow resource uses an endpoint. (endpoint_id, resource_type,
    resource_id) identifies a binding."""

    endpoint_id: str
    resource_type: GatewayResourceType
    resource_id: str
    created_at: int
    last_updated_at: int
    created_by: str | None = None
    last_updated_by: str | None = None

    def __post_init__(self) -> None:
        self.resource_type = GatewayResourceType.parse(self.resource_type)
        self.created_by = none_if_empty(self.created_by)
        self.last_updated_by = none_if_empty(self.last_updated_by)

    def to_proto(self) -> ProtoGatewayEndpointBinding:
        proto = ProtoGatewayEndpointBinding()
        proto.endpoint_id = self.endpoint_id
        proto.resource_type = self.resource_type.value
        proto.resource_id = self.resource_id
        proto.created_at = self.created_at
        proto.last_updated_at = self.last_updated_at
        set_if_not_none(proto, "created_by", self.created_by)
        set_if_not_none(proto, "last_updated_by", self.last_updated_by)
        return proto

    @classmethod
    def from_proto(cls, proto: ProtoGatewayEndpointBinding) -> GatewayEndpointBinding:
        return cls(
            endpoint_id=proto.endpoint_id,
            resource_type=GatewayResourceType.parse(proto.resource_type),
            resource_id=proto.resource_id,
            created_at=proto.created_at,
            last_updated_at=proto.last_updated_at,
            created_by=proto.created_by or None,
            last_updated_by=proto.last_updated_by or None,
        )

    def to_dict(self) -> dict[str, Any]:
        data = dict(self)
        data["resource_type"] = self.resource_type.value
        return without_none(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GatewayEndpointBinding:
        name = "GatewayEndpointBinding"
        return cls(
            endpoint_id=require(data, "endpoint_id", str, name),
            resource_type=GatewayResourceType.parse(require(data, "resource_type", str, name)),
            resource_id=require(data, "resource_id", str, name),
            created_at=require(data, "created_at", int, name),
            last_updated_at=require(data, "last_updated_at", int, name),
            created_by=optional(data, "created_by", str, name),
            last_updated_by=optional(data, "last_updated_by", str, name),
        )
