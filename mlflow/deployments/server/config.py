"""The public description of a gateway endpoint, as MLflow's deployments server returns it.

The model is defined in :mod:`mlflow.gateway.config` (so the two modules do not import each
other) and re-exported here, its MLflow home."""

from __future__ import annotations

from mlflow.gateway.config import Endpoint

__all__ = ["Endpoint"]
