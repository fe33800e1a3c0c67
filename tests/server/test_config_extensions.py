"""Our two additions to the gateway YAML: ``retry_budget_seconds`` per endpoint and
``fallbacks`` per traffic route, checked at load / start-up with clear messages."""

from __future__ import annotations

import math

import pytest

from mlflow.exceptions import MlflowException
from mlflow.gateway.config import GatewayConfig
from mlflow.gateway.server.app import create_app
from mlflow.gateway.server.options import ServerOptions
from mlflow.gateway.server.upstream import budget_policy
from tests.server.helpers import openai_endpoint
from tests.server.stub_provider import stub_factory


@pytest.mark.parametrize("value", [-1, math.inf, math.nan])
def test_retry_budget_must_be_finite_and_non_negative(value):
    with pytest.raises((MlflowException, ValueError), match="retry_budget_seconds"):
        GatewayConfig.model_validate(
            {"endpoints": [openai_endpoint("chat", retry_budget_seconds=value)]})


def test_budget_policy_fits_backoffs_in_the_budget():
    assert budget_policy(0).max_retries == 0
    policy = budget_policy(10)
    waits = [policy.backoff(n) for n in range(1, policy.max_retries + 1)]
    assert sum(waits) <= 10 and policy.max_retries >= 3
    with pytest.raises(ValueError, match="retry budget"):
        budget_policy(-1)


def test_fallback_must_name_an_endpoint_of_the_route_type():
    config = GatewayConfig.model_validate({
        "endpoints": [openai_endpoint("a"), openai_endpoint("e", "llm/v1/embeddings",
                                                            model="text-embedding-3-small")],
        "routes": [{"name": "r", "task_type": "llm/v1/chat",
                    "destinations": [{"name": "a", "traffic_percentage": 100}],
                    "fallbacks": ["e"]}],
    })
    with pytest.raises(MlflowException, match="fallback 'e' of route 'r'"):
        create_app(ServerOptions(reload_interval=0), config, provider_factory=stub_factory({}))
