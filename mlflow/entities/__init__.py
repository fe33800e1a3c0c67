"""MLflow entities: the gateway's stored resources."""

from mlflow.entities.gateway_endpoint import (
    GatewayEndpoint,
    GatewayEndpointBinding,
    GatewayEndpointModelMapping,
    GatewayEndpointTag,
    GatewayModelDefinition,
    GatewayResourceType,
)
from mlflow.entities.gateway_secrets import GatewaySecretInfo

__all__ = [
    "GatewayEndpoint",
    "GatewayEndpointBinding",
    "GatewayEndpointModelMapping",
    "GatewayEndpointTag",
    "GatewayModelDefinition",
    "GatewayResourceType",
    "GatewaySecretInfo",
]
