"""Helpers for provider tests: an endpoint config, a client with a fast retry policy."""

from __future__ import annotations

from typing import Any

import pytest

from async_core import AsyncClient, RetryPolicy
from mlflow.gateway.config import EndpointConfig
from mlflow.gateway.providers import build_provider

CHAT_BODY = {"messages": [{"role": "user", "content": "hello there"}]}


def endpoint(
    provider: str, config: dict[str, Any], *, endpoint_type: str = "llm/v1/chat",
    model: str = "m-1", name: str = "ep",
) -> EndpointConfig:
    return EndpointConfig.model_validate(
        {
            "name": name,
            "endpoint_type": endpoint_type,
            "model": {"provider": provider, "name": model, "config": config},
        }
    )


def fast_policy(**overrides: Any) -> RetryPolicy:
    values = {
        "max_retries": 3,
        "backoff_factor": 0.0,
        "backoff_jitter": 0.0,
        "total_timeout": 5.0,
    }
    values.update(overrides)
    return RetryPolicy(**values)


@pytest.fixture
async def client():
    async with AsyncClient(policy=fast_policy()) as c:
        yield c


def make(config: EndpointConfig, client: AsyncClient, policy: RetryPolicy | None = None, **kw):
    provider = build_provider(config, client, policy or fast_policy())
    for key, value in kw.items():
        setattr(provider, key, value)
    return provider


async def collect(stream) -> list[dict[str, Any]]:
    return [chunk async for chunk in stream]
