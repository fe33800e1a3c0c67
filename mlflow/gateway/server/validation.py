"""The request schema of each endpoint type. MLflow's gateway validates bodies against its
schemas (``mlflow.gateway.schemas``); a body that does not fit is a 422 before anything is sent
upstream."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from mlflow.gateway.server.payloads import InvalidRequestBody, fastapi_errors

CHAT = "llm/v1/chat"
COMPLETIONS = "llm/v1/completions"
EMBEDDINGS = "llm/v1/embeddings"


def _schema_models() -> dict[str, Any]:
    try:
        from mlflow.gateway.schemas import chat, completions, embeddings
    except ImportError:  # the schemas package is not installed in this tree yet
        return {}
    return {
        CHAT: chat.RequestPayload,
        COMPLETIONS: completions.RequestPayload,
        EMBEDDINGS: embeddings.RequestPayload,
    }


_MODELS = _schema_models()

# Used only when the schemas package is missing: the one required field of each type.
_REQUIRED = {CHAT: ("messages", list), COMPLETIONS: ("prompt", str), EMBEDDINGS: ("input", None)}


def validate(endpoint_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` checked against the type's request schema; raises ``InvalidRequestBody``."""
    model = _MODELS.get(endpoint_type)
    if model is not None:
        try:
            model.model_validate(payload)
        except ValidationError as e:
            raise InvalidRequestBody(fastapi_errors(e.errors(include_url=False))) from None
        return payload
    field, kind = _REQUIRED[endpoint_type]
    value = payload.get(field)
    if value is None or (kind is not None and not isinstance(value, kind)):
        raise InvalidRequestBody(
            [{"type": "missing", "loc": ["body", field], "msg": "Field required",
              "input": payload}]
        )
    return payload


def is_stream(payload: dict[str, Any]) -> bool:
    return payload.get("stream") is True
