"""The gateway store: secrets (encrypted at rest), model definitions, endpoints, weighted
mappings, tags and bindings, on SQLAlchemy 2's asyncio API.

Every write is one transaction that also bumps the ``config_version`` counter, so a failure leaves
nothing half-written and serving workers see a change by polling one row. Errors are
``MlflowException`` with RESOURCE_DOES_NOT_EXIST, RESOURCE_ALREADY_EXISTS or
INVALID_PARAMETER_VALUE."""

from __future__ import annotations

from mlflow.store.gateway._bindings import BindingsMixin
from mlflow.store.gateway._core import (
    META_CONFIG_VERSION,
    META_ITERATIONS,
    META_KEK_CHECK,
    META_KEK_VERSION,
    META_SALT,
    ResolvedEndpoint,
    ResolvedModel,
    StoreCore,
    wrong_passphrase_error,
)
from mlflow.store.gateway._endpoints import EndpointsMixin
from mlflow.store.gateway._model_definitions import ModelDefinitionsMixin
from mlflow.store.gateway._resolve import ServingMixin
from mlflow.store.gateway._secrets import SecretsMixin

__all__ = [
    "GatewayStore",
    "META_CONFIG_VERSION",
    "META_ITERATIONS",
    "META_KEK_CHECK",
    "META_KEK_VERSION",
    "META_SALT",
    "ResolvedEndpoint",
    "ResolvedModel",
    "wrong_passphrase_error",
]


class GatewayStore(
    SecretsMixin, ModelDefinitionsMixin, EndpointsMixin, BindingsMixin, ServingMixin, StoreCore
):
    """Open with ``await GatewayStore.open(uri)``; close with ``await store.aclose()``.

    ``passphrase`` defaults to ``MLFLOW_CRYPTO_KEK_PASSPHRASE`` and is only needed to store or
    read secret values. ``kdf_iterations`` applies when the database is created."""
