"""Deterministic LLM-shaped payloads for the fakes (OpenAI and MLflow gateway shapes): an echo of
the last user message, token counts by words, and embeddings from a hash of the text."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Sequence
from typing import Any

__all__ = [
    "chat_chunks",
    "chat_reply",
    "chat_response",
    "completion_reply",
    "completions_chunks",
    "completions_response",
    "count_tokens",
    "embedding_of",
    "embeddings_response",
    "last_user_text",
    "words_of",
]


def words_of(text: str) -> list[str]:
    words = text.split(" ")
    return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]


def count_tokens(value: Any) -> int:
    if isinstance(value, str):
        return max(1, len(value.split()))
    if isinstance(value, list):
        return sum(count_tokens(v) for v in value) or 1
    if isinstance(value, dict):
        return count_tokens(value.get("content", ""))
    return 1


def last_user_text(messages: Sequence[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role", "user") == "user":
            content = message.get("content", "")
            return content if isinstance(content, str) else json.dumps(content)
    return ""


def chat_reply(messages: Sequence[Any]) -> str:
    return f"Echo: {last_user_text(messages)}"


def completion_reply(prompt: Any) -> str:
    return f"Echo: {prompt if isinstance(prompt, str) else json.dumps(prompt)}"


def embedding_of(text: str, dims: int = 8) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [round((b - 128) / 128, 6) for b in digest[:dims]]


def chat_response(model: str, messages: Sequence[Any], reply: str | None = None) -> dict:
    reply = chat_reply(messages) if reply is None else reply
    prompt_tokens, completion_tokens = count_tokens(list(messages)), count_tokens(reply)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def completions_response(model: str, prompt: Any, reply: str | None = None) -> dict:
    reply = completion_reply(prompt) if reply is None else reply
    prompt_tokens, completion_tokens = count_tokens(prompt), count_tokens(reply)
    return {
        "id": f"cmpl-{uuid.uuid4().hex[:24]}",
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "text": reply, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def embeddings_response(model: str, inputs: Any) -> dict:
    texts = [inputs] if isinstance(inputs, str) else list(inputs)
    tokens = count_tokens(texts)
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": embedding_of(str(t))}
            for i, t in enumerate(texts)
        ],
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def chat_chunks(model: str, reply: str) -> list[dict]:
    chunk_id, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
    words = words_of(reply)
    chunks = []
    for i, word in enumerate(words):
        delta = {"role": "assistant", "content": word} if i == 0 else {"content": word}
        last = i == len(words) - 1
        chunks.append(
            {
                "id": chunk_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [
                    {"index": 0, "finish_reason": "stop" if last else None, "delta": delta}
                ],
            }
        )
    return chunks


def completions_chunks(model: str, reply: str) -> list[dict]:
    chunk_id, created = f"cmpl-{uuid.uuid4().hex[:24]}", int(time.time())
    words = words_of(reply)
    return [
        {
            "id": chunk_id,
            "object": "text_completion_chunk",
            "created": created,
            "model": model,
            "choices": [
                {"index": 0, "finish_reason": "stop" if i == len(words) - 1 else None, "text": w}
            ],
        }
        for i, w in enumerate(words)
    ]

