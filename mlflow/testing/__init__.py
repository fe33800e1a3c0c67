"""Loopback fakes, shipped in the package so tests, benchmarks, the demo and the README's
examples import them from any directory.

- :mod:`mlflow.testing.loopback`: the recording, fault-injecting aiohttp server they share.
- :mod:`mlflow.testing.gateway_server`: an MLflow AI gateway (``mlflow gateway start``).
- :mod:`mlflow.testing.openai_server`: an OpenAI-compatible API (and Azure OpenAI's routes).
- :mod:`mlflow.testing.databricks_server`: a Databricks workspace's serving endpoints.
- :mod:`mlflow.testing.providers`: one fake per provider wire format the gateway speaks.
- :mod:`mlflow.testing.fake_gateway`: the real gateway server in front of these fakes (endpoint
  configs, and ``FakeUpstreamGateway`` for providers whose config has no base URL, e.g. Anthropic).

Each is usable as ``async with Fake() as fake:`` or ``with Fake().running() as base_url:``.
"""

from mlflow.testing.databricks_server import DatabricksServer
from mlflow.testing.gateway_server import (
    GatewayEndpoint,
    GatewayServer,
    default_gateway_endpoints,
)
from mlflow.testing.loopback import Fault, LoopbackServer, RecordedRequest
from mlflow.testing.openai_server import OpenAIServer

__all__ = [
    "DatabricksServer",
    "Fault",
    "GatewayEndpoint",
    "GatewayServer",
    "LoopbackServer",
    "OpenAIServer",
    "RecordedRequest",
    "default_gateway_endpoints",
]
