"""Builds an endpoint's provider with the providers package's registry."""

from __future__ import annotations

from async_core import AsyncClient, RetryPolicy
from mlflow.exceptions import MlflowException
from mlflow.gateway.config import EndpointConfig
from mlflow.gateway.providers import BaseProvider, build_provider


def build(endpoint: EndpointConfig, client: AsyncClient, policy: RetryPolicy) -> BaseProvider:
    try:
        return build_provider(endpoint, client, policy)
    except ValueError as e:  # the registry's start-up message (names endpoint and provider)
        raise MlflowException.invalid_parameter_value(str(e)) from None
