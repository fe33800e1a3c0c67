"""``llm/v1/chat``: MLflow's chat schemas (OpenAI's Chat Completions shape).

Responses serialize with every field MLflow emits, nulls included: a message carries
``tool_calls`` and ``refusal`` (null when absent), a stream chunk carries ``usage`` (null until
the provider reports it), and both carry ``provider``. ``thought_signature`` and
``prompt_tokens_details`` are left out when null, as MLflow does."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_serializer

from mlflow.gateway.base_models import RequestModel, ResponseModel
from mlflow.gateway.schemas._common import BaseRequestPayload, ResponseFormat

__all__ = [
    "AudioContentPart",
    "ChatTool",
    "ChatToolWithUC",
    "Choice",
    "ChatUsage",
    "Function",
    "FunctionToolDefinition",
    "ImageContentPart",
    "PromptTokensDetails",
    "RequestMessage",
    "RequestPayload",
    "ResponseFormat",
    "ResponseMessage",
    "ResponsePayload",
    "StreamChoice",
    "StreamDelta",
    "StreamResponsePayload",
    "TextContentPart",
    "ToolCall",
    "ToolCallDelta",
    "ToolChoice",
]


def _drop_if_null(data: dict[str, Any], *names: str) -> dict[str, Any]:
    for name in names:
        if data.get(name, 0) is None:
            del data[name]
    return data


# -- content parts --------------------------------------------------------------------------


class TextContentPart(BaseModel):
    type: Literal["text"]
    text: str


class ImageUrl(BaseModel):
    url: str  # an http(s) URL or a data: URL with base64 data
    detail: Literal["auto", "low", "high"] | None = None


class ImageContentPart(BaseModel):
    type: Literal["image_url"]
    image_url: ImageUrl


class InputAudio(BaseModel):
    data: str  # base64
    format: Literal["wav", "mp3"]


class AudioContentPart(BaseModel):
    type: Literal["input_audio"]
    input_audio: InputAudio


class ReasoningSummaryPart(BaseModel):
    type: Literal["summary_text"]
    text: str


class ReasoningContentPart(BaseModel):
    # Providers attach extra metadata (id, encrypted_content, ...): keep it.
    model_config = ConfigDict(extra="allow")

    type: Literal["reasoning"]
    summary: list[ReasoningSummaryPart] = Field(default_factory=list)


ContentPart = Annotated[
    TextContentPart | ImageContentPart | AudioContentPart | ReasoningContentPart,
    Field(discriminator="type"),
]
Content = Annotated[str | list[ContentPart], Field(union_mode="left_to_right")]


# -- tool calls -----------------------------------------------------------------------------


class Function(BaseModel):
    name: str | None = None
    arguments: str | None = None


class ToolCall(BaseModel):
    id: str
    type: str = "function"
    function: Function
    # Gemini thinking models return one per call; it must be echoed back next turn.
    thought_signature: str | None = None

    @model_serializer(mode="wrap")
    def _serialize(self, handler):
        return _drop_if_null(handler(self), "thought_signature")


class ToolCallDelta(BaseModel):
    index: int
    id: str | None = None
    type: str | None = None
    function: Function
    thought_signature: str | None = None

    @model_serializer(mode="wrap")
    def _serialize(self, handler):
        return _drop_if_null(handler(self), "thought_signature")


# -- messages -------------------------------------------------------------------------------


class ChatMessage(BaseModel):
    """One message. ``tool_calls``/``refusal`` appear in responses, ``tool_call_id`` in requests;
    MLflow keeps them on one class."""

    role: str
    content: Content | None = None
    tool_calls: list[ToolCall] | None = None
    refusal: str | None = None
    tool_call_id: str | None = None


RequestMessage = ChatMessage


class ResponseMessage(ChatMessage, ResponseModel):
    # A response never shows tool_call_id.
    tool_call_id: str | None = Field(None, exclude=True)


# -- tools ----------------------------------------------------------------------------------

AllowedType = Literal["string", "number", "integer", "object", "array", "boolean", "null"]


class ParamType(BaseModel):
    type: AllowedType | list[AllowedType] | None = None


class ParamProperty(ParamType):
    description: str | None = None
    enum: list[str | int | float | bool] | None = None
    items: ParamProperty | None = None  # recursive, so nested arrays keep their item schema


class FunctionParams(BaseModel):
    properties: dict[str, ParamProperty]
    type: Literal["object"] = "object"
    required: list[str] | None = None
    additionalProperties: bool | None = None  # noqa: N815 (JSON Schema's name)


class FunctionToolDefinition(BaseModel):
    name: str
    description: str | None = None
    parameters: FunctionParams | None = None
    strict: bool | None = None


class ChatTool(BaseModel):
    type: Literal["function"]
    function: FunctionToolDefinition | None = None


class UnityCatalogFunctionToolDefinition(RequestModel):
    name: str


class ChatToolWithUC(RequestModel):
    """A tool of a gateway request: a function, or a Unity Catalog function (``uc_function``)."""

    type: Literal["function", "uc_function"]
    function: FunctionToolDefinition | None = None
    uc_function: UnityCatalogFunctionToolDefinition | None = None


class ToolChoiceFunction(BaseModel):
    name: str


class ToolChoice(BaseModel):
    type: Literal["function"]
    function: ToolChoiceFunction


# -- request --------------------------------------------------------------------------------


class RequestPayload(BaseRequestPayload):
    messages: list[RequestMessage] = Field(..., min_length=1)
    tools: list[ChatToolWithUC] | None = Field(None, min_length=1)
    tool_choice: Literal["none", "auto", "required"] | ToolChoice | None = None


# -- response -------------------------------------------------------------------------------


class PromptTokensDetails(BaseModel):
    model_config = ConfigDict(extra="allow")

    cached_tokens: int | None = None


class ChatUsage(BaseModel):
    model_config = ConfigDict(extra="allow")

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    prompt_tokens_details: PromptTokensDetails | None = None

    @model_serializer(mode="wrap")
    def _serialize(self, handler):
        return _drop_if_null(handler(self), "prompt_tokens_details")


class Choice(ResponseModel):
    index: int
    message: ResponseMessage
    finish_reason: str | None = None


class ResponsePayload(ResponseModel):
    id: str | None = None
    object: str = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: ChatUsage
    provider: str | None = None  # the provider that served the request


# -- stream ---------------------------------------------------------------------------------


class StreamDelta(BaseModel):
    role: str | None = None
    content: str | None = None
    tool_calls: list[ToolCallDelta] | None = None


class StreamChoice(BaseModel):
    index: int
    finish_reason: str | None = None
    delta: StreamDelta


class StreamResponsePayload(ResponseModel):
    id: str | None = None
    object: str = "chat.completion.chunk"
    created: int
    model: str
    choices: list[StreamChoice]
    usage: ChatUsage | None = None
    provider: str | None = None
