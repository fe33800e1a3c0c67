"""Builds an endpoint's provider with the providers package's registry."""

from __future__ import annotations

from async_core import AsyncClient, RetryPolicy
from mlflow.exceptions import MlflowException
from mlflow.gateway.config import EndpointConfig
from mlflow.gateway.providers.base import BaseProvider


def build(endpoint: EndpointConfig, client: AsyncClient, policy: RetryPolicy) -> BaseProvider:
    try:
        from mlflow.gateway.providers.registry import build_provider, provider_support_error
    except ImportError:
        raise MlflowException.invalid_parameter_value(
            "This installation has no gateway provider registry "
            "(mlflow.gateway.providers.registry)."
        ) from None
    problem = provider_support_error(endpoint)
    if problem:
        raise MlflowException.invalid_parameter_value(problem)
    return build_provider(endpoint, client=client, policy=policy)
