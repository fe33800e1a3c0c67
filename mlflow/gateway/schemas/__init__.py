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


_PLAIN_MESSAGE_KEYS = frozenset({"role", "content"})
_SKIP = object()  # the fast path cannot answer: the model decides


def _positive_int(value: Any) -> Any:
    return value if type(value) is int and value >= 1 else _SKIP


def _bounded_float(low: float, high: float):
    def check(value: Any) -> Any:
        if type(value) is float or type(value) is int:  # not bool: the model coerces it
            return float(value) if low <= value <= high else _SKIP  # NaN fails both
        return _SKIP

    return check


def _of_type(kind: type):
    return lambda value: value if type(value) is kind else _SKIP


def _text_list(value: Any) -> Any:
    if type(value) is list and value and all(type(item) is str for item in value):
        return list(value)
    return _SKIP


# The scalar fields the fast path answers, in the model's field order (the upstream body keeps
# it). ``n`` has a default; the others are left out when absent or null, as exclude_none does.
_PLAIN_CHAT_FIELDS: tuple[tuple[str, Any], ...] = (
    ("stop", _text_list),
    ("max_tokens", _positive_int),
    ("max_completion_tokens", _positive_int),
    ("stream", _of_type(bool)),
    ("model", _of_type(str)),
    ("temperature", _bounded_float(0, 2)),
    ("top_p", _bounded_float(0, 1)),
    ("presence_penalty", _bounded_float(-2, 2)),
    ("frequency_penalty", _bounded_float(-2, 2)),
    ("top_k", _positive_int),
)
_PLAIN_CHAT_KEYS = frozenset({"messages", "n", *(name for name, _ in _PLAIN_CHAT_FIELDS)})


def _plain_messages(messages: Any) -> list[dict[str, Any]] | None:
    if type(messages) is not list or not messages:
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
    return plain


def _plain_chat(body: Any) -> dict[str, Any] | None:
    """The common chat body (text messages and the scalar generation parameters) checked with
    plain type tests: what the model would return for it, or None (then pydantic decides).
    Anything unusual (another field, a value the model would coerce or refuse, content parts,
    tools) takes the model's path."""
    if type(body) is not dict or not body.keys() <= _PLAIN_CHAT_KEYS:
        return None
    messages = _plain_messages(body.get("messages"))
    if messages is None:
        return None
    n = body.get("n", 1)
    if _positive_int(n) is _SKIP:
        return None
    result: dict[str, Any] = {"n": n}
    for name, check in _PLAIN_CHAT_FIELDS:
        value = body.get(name)
        if value is not None:
            value = check(value)
            if value is _SKIP:
                return None
            result[name] = value
    result["messages"] = messages
    return result
