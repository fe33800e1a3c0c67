"""MLflow's AI gateway request and response schemas (pydantic v2), one module per endpoint type:
:mod:`.chat` (``llm/v1/chat``), :mod:`.completions` (``llm/v1/completions``) and
:mod:`.embeddings` (``llm/v1/embeddings``).

Requests: :func:`parse_request` validates a JSON body (a pydantic ``ValidationError`` becomes a
422 at the server, as in MLflow) and returns the dict providers take. Responses: providers build
plain dicts with :mod:`.shapes`, which emit exactly the fields these models serialize."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from mlflow.gateway.schemas import chat, completions, embeddings

__all__ = [
    "REQUEST_MODELS",
    "RESPONSE_MODELS",
    "STREAM_MODELS",
    "chat",
    "completions",
    "embeddings",
    "parse_request",
]

REQUEST_MODELS: dict[str, type[BaseModel]] = {
    "llm/v1/chat": chat.RequestPayload,
    "llm/v1/completions": completions.RequestPayload,
    "llm/v1/embeddings": embeddings.RequestPayload,
}
RESPONSE_MODELS: dict[str, type[BaseModel]] = {
    "llm/v1/chat": chat.ResponsePayload,
    "llm/v1/completions": completions.ResponsePayload,
    "llm/v1/embeddings": embeddings.ResponsePayload,
}
STREAM_MODELS: dict[str, type[BaseModel]] = {
    "llm/v1/chat": chat.StreamResponsePayload,
    "llm/v1/completions": completions.StreamResponsePayload,
}


def parse_request(endpoint_type: str, body: Any) -> dict[str, Any]:
    """Validate ``body`` as a request of ``endpoint_type`` and return it as the provider payload:
    the validated fields without nulls, extra (vendor) fields kept. Raises
    ``pydantic.ValidationError`` for bad input, ``KeyError`` for an unknown type."""
    model = REQUEST_MODELS[str(getattr(endpoint_type, "value", endpoint_type))]
    return model.model_validate(body).model_dump(mode="json", exclude_none=True, by_alias=True)
