"""The gateway's constants, with MLflow 3.17's names and values: headers, routes, page size, the
query retry codes and provider defaults."""

from __future__ import annotations

from enum import Enum

MLFLOW_GATEWAY_CALLER_HEADER = "X-MLflow-Gateway-Caller"
MLFLOW_GATEWAY_AUTH_HEADER = "X-MLflow-Authorization"
MLFLOW_GATEWAY_DURATION_HEADER = "X-MLflow-Gateway-Duration-Ms"
MLFLOW_GATEWAY_OVERHEAD_HEADER = "X-MLflow-Gateway-Overhead-Duration-Ms"


class GatewayCaller(str, Enum):
    """Known callers of the gateway, named in the ``X-MLflow-Gateway-Caller`` header."""

    JUDGE = "judge"


MLFLOW_GATEWAY_HEALTH_ENDPOINT = "/health"
MLFLOW_GATEWAY_CRUD_ROUTE_BASE = "/api/2.0/gateway/routes/"
MLFLOW_GATEWAY_CRUD_ENDPOINT_V3_BASE = "/api/3.0/gateway/endpoint/"
MLFLOW_GATEWAY_CRUD_ROUTE_V3_BASE = "/api/3.0/gateway/route/"
MLFLOW_GATEWAY_LIMITS_BASE = "/api/2.0/gateway/limits/"
MLFLOW_GATEWAY_ROUTE_BASE = "/gateway/"
MLFLOW_QUERY_SUFFIX = "/invocations"
MLFLOW_GATEWAY_SEARCH_ROUTES_PAGE_SIZE = 3000

# Timeouts are not retried: a provider that times out once would most likely time out again.
MLFLOW_GATEWAY_CLIENT_QUERY_RETRY_CODES = frozenset([429, 500, 502, 503])

TYPESAFE_API_BASE_URL = "https://api.typesafe.ai/v1"
TYPESAFE_SYSTEM_ONE_PATH = "systemone"
SYSTEM_ONE_CHAT_ROUTE_REJECTION_DETAIL = (
    "System One models only support structured evaluation through "
    "/gateway/typesafe/v1/systemone. Use a chat model for chat completions."
)

MLFLOW_AI_GATEWAY_ANTHROPIC_MAXIMUM_MAX_TOKENS = 1_000_000
MLFLOW_AI_GATEWAY_ANTHROPIC_DEFAULT_MAX_TOKENS = 8192

MLFLOW_SERVING_RESPONSE_KEY = "predictions"

# Lower-case prefixes of the MosaicML chat models whose prompts are translated.
MLFLOW_AI_GATEWAY_MOSAICML_CHAT_SUPPORTED_MODEL_PREFIXES = ["llama2"]

GATEWAY_DISABLED_MESSAGE = (
    "The AI Gateway feature is disabled. Set MLFLOW_ENABLE_AI_GATEWAY=true to enable it."
)
