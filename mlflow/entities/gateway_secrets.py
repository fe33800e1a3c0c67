"""Metadata of a stored secret. The decrypted value never leaves the store's server side: the API
shows ``secret_name``, ``provider``, ``auth_config`` (non-secret settings such as api_base) and
``masked_value`` (a short hint such as ``sk-...3xyz``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlflow.entities._convert import without_none
from mlflow.entities._mlflow_object import _MlflowObject


@dataclass
class GatewaySecretInfo(_MlflowObject):
    secret_id: str
    secret_name: str
    masked_values: dict[str, str]
    created_at: int
    last_updated_at: int
    provider: str | None = None
    auth_config: dict[str, Any] = field(default_factory=dict)
    created_by: str | None = None
    last_updated_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return without_none(dict(self))
