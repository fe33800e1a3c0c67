"""The request schema of each endpoint type. MLflow's gateway validates bodies against its
schemas (``mlflow.gateway.schemas``); a body that does not fit is a 422 before anything is sent
upstream."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from mlflow.gateway.schemas import parse_request
from mlflow.gateway.server.payloads import InvalidRequestBody, fastapi_errors

CHAT = "llm/v1/chat"
COMPLETIONS = "llm/v1/completions"
EMBEDDINGS = "llm/v1/embeddings"


def validate(endpoint_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The provider payload for ``payload`` (validated, nulls dropped, vendor fields kept);
    raises ``InvalidRequestBody`` with FastAPI's 422 entries."""
    try:
        return parse_request(endpoint_type, payload)
    except ValidationError as e:
        raise InvalidRequestBody(fastapi_errors(e.errors(include_url=False))) from None


def is_stream(payload: dict[str, Any]) -> bool:
    return payload.get("stream") is True
