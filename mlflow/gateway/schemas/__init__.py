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
    kind = str(getattr(endpoint_type, "value", endpoint_type))
    model = REQUEST_MODELS[kind]
    if kind == "llm/v1/chat":
        fast = _plain_chat(body)
        if fast is not None:
            return fast
    return model.model_validate(body).model_dump(mode="json", exclude_none=True, by_alias=True)


_PLAIN_CHAT_KEYS = frozenset({"messages", "stream", "model"})
_PLAIN_MESSAGE_KEYS = frozenset({"role", "content"})


def _plain_chat(body: Any) -> dict[str, Any] | None:
    """The common chat body (text messages, optionally ``stream`` and ``model``) checked with
    plain dict tests: what the model would return for it, or None (then pydantic decides).
    Anything unusual (another field, a non-str value, content parts) takes the model's path."""
    if type(body) is not dict or not body.keys() <= _PLAIN_CHAT_KEYS:
        return None
    messages = body.get("messages")
    if type(messages) is not list or not messages:
        return None
    stream = body.get("stream")
    model = body.get("model")
    if (stream is not None and type(stream) is not bool) or (
        model is not None and type(model) is not str
    ):
        return None
    plain = []
    for message in messages:
        if type(message) is not dict or not message.keys() <= _PLAIN_MESSAGE_KEYS:
            return None
        role = message.get("role")
        content = message.get("content")
        if type(role) is not str or (content is not None and type(content) is not str):
            return None
        plain.append({"role": role} if content is None else {"role": role, "content": content})
    # The model's field order and defaults: n first, then the optional fields that are set.
    result: dict[str, Any] = {"n": 1}
    if stream is not None:
        result["stream"] = stream
    if model is not None:
        result["model"] = model
    result["messages"] = plain
    return result
