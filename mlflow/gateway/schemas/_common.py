"""Request parameters shared by chat and completions (OpenAI's names, MLflow's bounds)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mlflow.gateway.base_models import RequestModel


class JsonSchemaSpec(BaseModel):
    """The ``json_schema`` of a structured-output ``response_format``."""

    name: str
    # "schema" shadows a BaseModel attribute, hence the alias.
    schema_: dict[str, Any] = Field(alias="schema")
    strict: bool = True

    model_config = ConfigDict(extra="allow", populate_by_name=True, serialize_by_alias=True)


class ResponseFormat(BaseModel):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaSpec | None = None


class BaseRequestPayload(RequestModel):
    """Generation parameters. Bounds are MLflow's; a value outside them is a 422."""

    n: int = Field(1, ge=1)
    stop: list[str] | None = Field(None, min_length=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    stream: bool | None = None
    stream_options: dict[str, Any] | None = None
    model: str | None = None
    response_format: ResponseFormat | None = None
    temperature: float | None = Field(None, ge=0, le=2, allow_inf_nan=False)
    top_p: float | None = Field(None, ge=0, le=1, allow_inf_nan=False)
    presence_penalty: float | None = Field(None, ge=-2, le=2, allow_inf_nan=False)
    frequency_penalty: float | None = Field(None, ge=-2, le=2, allow_inf_nan=False)
    top_k: int | None = Field(None, ge=1)
