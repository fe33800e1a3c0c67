"""Amazon Bedrock (``provider: bedrock`` / ``amazon-bedrock``), through the runtime HTTP API
signed with SigV4 (service ``bedrock``) on every attempt.

Wire format: chat uses Converse (https://docs.aws.amazon.com/bedrock/latest/APIReference/
API_runtime_Converse.html): ``POST /model/{modelId}/converse`` with ``messages`` of content
blocks (``text``, ``toolUse``, ``toolResult``), ``system``, ``inferenceConfig`` (``maxTokens``,
``temperature``, ``topP``, ``stopSequences``) and ``toolConfig``; it answers ``output.message``,
``stopReason`` and ``usage`` (``inputTokens``, ``outputTokens``, ``totalTokens``).
ConverseStream (``/converse-stream``) answers an ``application/vnd.amazon.eventstream`` of
``messageStart``, ``contentBlockStart``, ``contentBlockDelta``, ``contentBlockStop``,
``messageStop`` and ``metadata`` events, or an exception message. Embeddings use InvokeModel
(``/model/{modelId}/invoke``): Titan's ``{"inputText"}`` per text, or Cohere's ``{"texts",
"input_type"}`` for ``cohere.embed-*``. Errors are ``{"message": ...}`` with the exception name in
``x-amzn-ErrorType``.

MLflow calls Bedrock through boto3 in worker threads; we send through the async client, so
retries, Retry-After, deadlines and pooled connections apply as for every provider. Completions
go through Converse as one user message (MLflow uses per-vendor InvokeModel bodies)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from async_core.messages import Request
from mlflow.gateway.exceptions import AIGatewayException
from mlflow.gateway.providers._aws import CredentialSource, default_region, sign
from mlflow.gateway.providers._eventstream import EventStreamDecoder, EventStreamError
from mlflow.gateway.providers.base import CHAT, COMPLETIONS, EMBEDDINGS, BaseProvider
from mlflow.gateway.schemas import shapes

_FINISH = {"tool_use": "tool_calls", "max_tokens": "length", "content_filtered": "content_filter"}
_SERVICE = "bedrock"


def _unprocessable(detail: str) -> AIGatewayException:
    return AIGatewayException(status_code=422, detail=detail)


def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content
                         if isinstance(p, dict) and p.get("type") == "text")
    return str(content)


def _usage(usage: dict[str, Any] | None) -> dict[str, Any]:
    usage = usage or {}
    return shapes.usage(usage.get("inputTokens"), usage.get("outputTokens"),
                        usage.get("totalTokens"))


class BedrockProvider(BaseProvider):
    NAME = "Amazon Bedrock"
    SUPPORTED_ROUTE_TYPES = (CHAT, COMPLETIONS, EMBEDDINGS)
    STREAMING_ROUTE_TYPES = (CHAT, COMPLETIONS)

    def __init__(self, config, client, policy=None, **kwargs) -> None:
        super().__init__(config, client, policy, **kwargs)
        self._aws = config.model.config.aws_config
        self._credentials = CredentialSource(self._aws, self)
        self._region: str | None = self._aws.aws_region

    @classmethod
    def config_error(cls, config: Any) -> str | None:
        # The region decides the URL and the signature: refuse at start-up, not per request.
        if getattr(config.model.config.aws_config, "aws_region", None):
            return None
        try:
            default_region()
        except AIGatewayException:
            return ("Amazon Bedrock needs an AWS region: set 'aws_region' in the endpoint's "
                    "aws_config, or AWS_REGION.")
        return None

    @property
    def region(self) -> str:
        if self._region is None:
            self._region = default_region()
        return self._region

    def _runtime(self) -> str:
        if self._api_base_override:
            return self._api_base_override.rstrip("/")
        return f"https://bedrock-runtime.{self.region}.amazonaws.com"

    def sts_url(self, region: str) -> str:
        if self._api_base_override:
            return self._api_base_override.rstrip("/") + "/"
        return f"https://sts.{region}.amazonaws.com/"

    def _model_url(self, action: str) -> str:
        return f"{self._runtime()}/model/{quote(self.model_name, safe='')}/{action}"

    async def _auth(self, request: Request) -> Request:
        credentials = await self._credentials.get()
        return sign(request, credentials, self.region, _SERVICE)

    # -- requests -------------------------------------------------------------------------------

    def _converse_body(self, payload: dict[str, Any]) -> dict[str, Any]:
        self.reject_model_field(payload)
        if payload.get("n", 1) != 1:
            raise _unprocessable(
                f"'n' must be '1' for the Amazon Bedrock provider. Received value: "
                f"'{payload['n']}'."
            )
        system: list[dict[str, Any]] = []
        messages: list[dict[str, Any]] = []
        for message in payload["messages"]:
            role = message.get("role")
            if role == "system":
                system.append({"text": _text(message.get("content"))})
            elif role == "assistant":
                blocks: list[dict[str, Any]] = []
                text = _text(message.get("content"))
                if text or not message.get("tool_calls"):
                    blocks.append({"text": text})
                for call in message.get("tool_calls") or []:
                    function = call.get("function") or {}
                    try:
                        tool_input = json.loads(function.get("arguments") or "{}")
                    except ValueError:
                        raise _unprocessable(
                            "Invalid assistant tool call arguments: not valid JSON for "
                            f"tool_call_id={call.get('id')}."
                        ) from None
                    blocks.append({"toolUse": {"toolUseId": call.get("id"),
                                               "name": function.get("name"),
                                               "input": tool_input}})
                messages.append({"role": "assistant", "content": blocks})
            elif role == "tool":
                result = {"toolResult": {"toolUseId": message.get("tool_call_id"),
                                         "content": [{"text": _text(message.get("content"))}]}}
                last = messages[-1] if messages else None
                if last and last["role"] == "user" and all(
                        "toolResult" in b for b in last["content"]):
                    last["content"].append(result)  # consecutive results go in one turn
                else:
                    messages.append({"role": "user", "content": [result]})
            else:
                messages.append({"role": "user", "content": [
                    {"text": _text(message.get("content"))}]})
        body: dict[str, Any] = {"messages": messages}
        if system:
            body["system"] = system
        inference: dict[str, Any] = {}
        if (tokens := payload.get("max_tokens") or payload.get("max_completion_tokens")):
            inference["maxTokens"] = tokens
        for ours, theirs in (("temperature", "temperature"), ("top_p", "topP"),
                             ("stop", "stopSequences")):
            if ours in payload:
                inference[theirs] = payload[ours]
        if inference:
            body["inferenceConfig"] = inference
        if tools := payload.get("tools"):
            specs = [{"toolSpec": {"name": t["function"]["name"],
                                   "description": t["function"].get("description") or "",
                                   "inputSchema": {"json": t["function"].get("parameters")
                                                   or {"type": "object", "properties": {}}}}}
                     for t in tools if t.get("type") == "function"]
            tool_config: dict[str, Any] = {"tools": specs}
            choice = payload.get("tool_choice")
            if choice == "auto":
                tool_config["toolChoice"] = {"auto": {}}
            elif choice == "required":
                tool_config["toolChoice"] = {"any": {}}
            elif isinstance(choice, dict):
                tool_config["toolChoice"] = {"tool": {"name": choice["function"]["name"]}}
            body["toolConfig"] = tool_config
        return body

    # -- chat -----------------------------------------------------------------------------------

    async def chat(self, payload: dict[str, Any]) -> dict[str, Any]:
        body = self._converse_body(payload)
        resp = await self._post_json(self._model_url("converse"), body, auth=self._auth)
        texts, calls = [], []
        for block in ((resp.get("output") or {}).get("message") or {}).get("content") or []:
            if "text" in block:
                texts.append(block["text"])
            elif "toolUse" in block:
                use = block["toolUse"]
                calls.append(shapes.tool_call(use.get("toolUseId"), use.get("name"),
                                              json.dumps(use.get("input", {}))))
        return shapes.chat_response(
            model=self.model_name,
            choices=[{"index": 0,
                      "message": shapes.chat_message("\n".join(texts) if texts else None,
                                                     tool_calls=calls),
                      "finish_reason": _FINISH.get(resp.get("stopReason"), "stop")}],
            usage_block=_usage(resp.get("usage")),
            provider=self.provider_name,
        )

    async def _events(self, url: str, body: Any) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """``(event type, payload)`` of a ConverseStream, as each message arrives."""
        response = await self._open_stream(url, body, {"Accept":
                                                       "application/vnd.amazon.eventstream"},
                                           auth=self._auth)
        decoder = EventStreamDecoder()
        chunks = self._iter_bytes(response)
        try:
            async for chunk in chunks:
                try:
                    messages = decoder.feed(chunk)
                except EventStreamError as e:
                    raise AIGatewayException(
                        status_code=502,
                        detail=f"The {self.NAME} stream could not be decoded ({e}).",
                    ) from None
                for message in messages:
                    try:
                        data = json.loads(message.payload or b"{}")
                    except ValueError:
                        data = {}
                    if message.headers.get(":message-type") == "exception":
                        raise self._stream_error(
                            {"message": data.get("message") or
                             message.headers.get(":exception-type", "exception")})
                    yield message.headers.get(":event-type", ""), data
        finally:
            await chunks.aclose()

    async def chat_stream(self, payload: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        body = self._converse_body(payload)
        created = self._now()
        tool_index: dict[int, int] = {}
        events = self._events(self._model_url("converse-stream"), body)
        try:
            async for kind, data in events:
                fields: dict[str, Any] = {}
                if kind == "messageStart":
                    fields["role"] = data.get("role", "assistant")
                    fields["content"] = ""
                elif kind == "contentBlockStart":
                    use = (data.get("start") or {}).get("toolUse")
                    if not use:
                        continue
                    block = data.get("contentBlockIndex", 0)
                    tool_index[block] = len(tool_index)
                    fields["tool_calls"] = [{"index": tool_index[block],
                                             "id": use.get("toolUseId"), "type": "function",
                                             "function": {"name": use.get("name"),
                                                          "arguments": ""}}]
                elif kind == "contentBlockDelta":
                    delta = data.get("delta") or {}
                    if "toolUse" in delta:
                        block = data.get("contentBlockIndex", 0)
                        fields["tool_calls"] = [{"index": tool_index.get(block, 0), "id": None,
                                                 "type": None, "function": {
                                                     "name": None,
                                                     "arguments": delta["toolUse"].get("input")}}]
                    elif "text" in delta:
                        fields["content"] = delta["text"]
                    else:
                        continue
                elif kind == "messageStop":
                    fields["finish_reason"] = _FINISH.get(data.get("stopReason"), "stop")
                elif kind == "metadata" and data.get("usage"):
                    fields["choices"] = []
                    fields["usage_block"] = _usage(data["usage"])
                else:
                    continue
                yield shapes.chat_chunk(model=self.model_name, created=created,
                                        provider=self.provider_name, **fields)
        finally:
            await events.aclose()

    # -- completions ----------------------------------------------------------------------------

    async def completions(self, payload: dict[str, Any]) -> dict[str, Any]:
        answer = await self.chat(self._as_chat(payload))
        choice, u = answer["choices"][0], answer["usage"]
        return shapes.completions_response(
            created=answer["created"], model=answer["model"],
            texts=[(choice["message"]["content"] or "", choice["finish_reason"])],
            usage_block=shapes.usage(u["prompt_tokens"], u["completion_tokens"],
                                     u["total_tokens"]),
        )

    async def completions_stream(self, payload: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        stream = self.chat_stream(self._as_chat(payload))
        try:
            async for chunk in stream:
                u = chunk["usage"]
                yield shapes.completions_chunk(
                    created=chunk["created"], model=chunk["model"],
                    choices=[{"index": c["index"], "finish_reason": c["finish_reason"],
                              "text": c["delta"]["content"]} for c in chunk["choices"]],
                    usage_block=None if u is None else shapes.usage(
                        u["prompt_tokens"], u["completion_tokens"], u["total_tokens"]),
                )
        finally:
            await stream.aclose()

    # -- embeddings -----------------------------------------------------------------------------

    async def embeddings(self, payload: dict[str, Any]) -> dict[str, Any]:
        self.reject_model_field(payload)
        texts = payload["input"]
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not all(isinstance(t, str) for t in texts):
            raise _unprocessable("Amazon Bedrock embeddings take text input, not token ids.")
        url = self._model_url("invoke")
        if self.model_name.startswith("cohere."):
            body = {"texts": texts, "input_type": payload.get("input_type", "search_document")}
            resp = await self._post_json(url, body, {"Accept": "application/json"},
                                         auth=self._auth)
            vectors = resp.get("embeddings") or []
            if isinstance(vectors, dict):
                vectors = vectors.get("float") or []
            return shapes.embeddings_response(model=self.model_name, vectors=vectors)
        # Titan embeds one text per call: send them concurrently, keep the order.
        answers = await asyncio.gather(*(
            self._post_json(url, {"inputText": t}, {"Accept": "application/json"},
                            auth=self._auth)
            for t in texts))
        tokens = sum(a.get("inputTextTokenCount", 0) for a in answers)
        return shapes.embeddings_response(
            model=self.model_name, vectors=[a.get("embedding", []) for a in answers],
            prompt_tokens=tokens, total_tokens=tokens)


