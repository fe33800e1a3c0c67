"""Builders of response dicts in MLflow's exact serialized shape (what the pydantic models in
this package dump, nulls included), without a model round trip on the hot path. Tests check each
builder against its model's ``model_dump``."""

from __future__ import annotations

import time
from typing import Any

__all__ = [
    "chat_chunk",
    "chat_message",
    "chat_response",
    "completions_chunk",
    "completions_response",
    "embeddings_response",
    "tool_call",
    "usage",
]


def _now() -> int:
    return int(time.time())


def usage(
    prompt_tokens: int | None = None,
    completion_tokens: int | None = None,
    total_tokens: int | None = None,
    *,
    derive_total: bool = True,
) -> dict[str, Any]:
    """A chat/completions ``usage`` block; the total is derived when both parts are known."""
    if total_tokens is None and derive_total and None not in (prompt_tokens, completion_tokens):
        total_tokens = prompt_tokens + completion_tokens
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": total_tokens,
    }


def tool_call(call_id: str, name: str | None, arguments: str | None) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def chat_message(
    content: Any,
    *,
    role: str = "assistant",
    tool_calls: list[dict[str, Any]] | None = None,
    refusal: str | None = None,
) -> dict[str, Any]:
    return {"role": role, "content": content, "tool_calls": tool_calls or None, "refusal": refusal}


def chat_response(
    *,
    model: str,
    choices: list[dict[str, Any]],
    usage_block: dict[str, Any],
    id: str | None = None,  # noqa: A002 (the wire name)
    created: int | None = None,
    provider: str | None = None,
) -> dict[str, Any]:
    """``choices``: ``{"index", "message", "finish_reason"}`` dicts (message from
    :func:`chat_message`)."""
    return {
        "id": id,
        "object": "chat.completion",
        "created": _now() if created is None else created,
        "model": model,
        "choices": choices,
        "usage": usage_block,
        "provider": provider,
    }


def chat_chunk(
    *,
    model: str,
    index: int = 0,
    content: str | None = None,
    role: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    finish_reason: str | None = None,
    usage_block: dict[str, Any] | None = None,
    id: str | None = None,  # noqa: A002
    created: int | None = None,
    provider: str | None = None,
    choices: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One ``chat.completion.chunk``: a single choice built from the keyword fields, or
    ``choices`` given whole (an empty list for a usage-only chunk)."""
    if choices is None:
        choices = [
            {
                "index": index,
                "finish_reason": finish_reason,
                "delta": {"role": role, "content": content, "tool_calls": tool_calls},
            }
        ]
    return {
        "id": id,
        "object": "chat.completion.chunk",
        "created": _now() if created is None else created,
        "model": model,
        "choices": choices,
        "usage": usage_block,
        "provider": provider,
    }


def completions_response(
    *,
    model: str,
    texts: list[tuple[str, str | None]],
    usage_block: dict[str, Any],
    id: str | None = None,  # noqa: A002
    created: int | None = None,
) -> dict[str, Any]:
    """``texts``: ``(text, finish_reason)`` per choice, in index order."""
    return {
        "id": id,
        "object": "text_completion",
        "created": _now() if created is None else created,
        "model": model,
        "choices": [
            {"index": i, "text": text, "finish_reason": reason}
            for i, (text, reason) in enumerate(texts)
        ],
        "usage": usage_block,
    }


def completions_chunk(
    *,
    model: str,
    text: str | None = None,
    index: int = 0,
    finish_reason: str | None = None,
    usage_block: dict[str, Any] | None = None,
    id: str | None = None,  # noqa: A002
    created: int | None = None,
    choices: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    if choices is None:
        choices = [{"index": index, "finish_reason": finish_reason, "text": text}]
    return {
        "id": id,
        "object": "text_completion_chunk",
        "created": _now() if created is None else created,
        "model": model,
        "choices": choices,
        "usage": usage_block,
    }


def embeddings_response(
    *,
    model: str,
    vectors: list[Any],
    prompt_tokens: int | None = None,
    total_tokens: int | None = None,
) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "embedding": vector, "index": i}
            for i, vector in enumerate(vectors)
        ],
        "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": total_tokens},
    }
