"""``llm/v1/embeddings``: MLflow's embeddings schemas (OpenAI's Embeddings shape)."""

from __future__ import annotations

from mlflow.gateway.base_models import RequestModel, ResponseModel

__all__ = ["EmbeddingObject", "EmbeddingsUsage", "RequestPayload", "ResponsePayload"]


class RequestPayload(RequestModel):
    # A string, a list of strings, a token list or a list of token lists.
    input: str | list[str] | list[int] | list[list[int]]


class EmbeddingObject(ResponseModel):
    object: str = "embedding"
    embedding: list[float] | str  # a str when encoding_format is base64
    index: int


class EmbeddingsUsage(ResponseModel):
    prompt_tokens: int | None = None
    total_tokens: int | None = None


class ResponsePayload(ResponseModel):
    object: str = "list"
    data: list[EmbeddingObject]
    model: str
    usage: EmbeddingsUsage
