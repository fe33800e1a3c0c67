"""``llm/v1/completions``: MLflow's completions schemas (OpenAI's legacy Completions shape)."""

from __future__ import annotations

from pydantic import BaseModel

from mlflow.gateway.base_models import ResponseModel
from mlflow.gateway.schemas._common import BaseRequestPayload

__all__ = [
    "Choice",
    "CompletionsUsage",
    "RequestPayload",
    "ResponsePayload",
    "StreamChoice",
    "StreamDelta",
    "StreamResponsePayload",
]


class RequestPayload(BaseRequestPayload):
    prompt: str


class Choice(ResponseModel):
    index: int
    text: str
    finish_reason: str | None = None


class CompletionsUsage(ResponseModel):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None


class ResponsePayload(ResponseModel):
    id: str | None = None
    object: str = "text_completion"
    created: int
    model: str
    choices: list[Choice]
    usage: CompletionsUsage


class StreamDelta(BaseModel):
    role: str | None = None
    content: str | None = None


class StreamChoice(ResponseModel):
    index: int
    finish_reason: str | None = None
    text: str | None = None


class StreamResponsePayload(ResponseModel):
    id: str | None = None
    object: str = "text_completion_chunk"
    created: int
    model: str
    choices: list[StreamChoice]
    usage: CompletionsUsage | None = None
