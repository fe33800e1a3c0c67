"""Cohere's v2 API (``provider: cohere``).

Wire format (https://docs.cohere.com/v2/reference/chat, /v2/reference/embed): ``POST
{base}/v2/chat`` with a Bearer key; OpenAI-like ``messages`` (``system``/``user``/``assistant``/
``tool``, assistant ``tool_calls``), ``p``/``k`` for top-p/top-k, ``stop_sequences``; answers
``{"id", "finish_reason": "COMPLETE"|"MAX_TOKENS"|"STOP_SEQUENCE"|"TOOL_CALL"|"ERROR",
"message": {"content": [{"type": "text", "text"}], "tool_calls"}, "usage": {"tokens":
{"input_tokens", "output_tokens"}}}``. Streams are SSE events with a ``type``:
``message-start``, ``content-start``, ``content-delta``, ``content-end``, ``tool-plan-delta``,
``tool-call-start``, ``tool-call-delta``, ``tool-call-end``, ``message-end``. Embeddings: ``POST
{base}/v2/embed`` with ``texts``, ``input_type`` and ``embedding_types``. Errors:
``{"message": ...}``.

MLflow still calls Cohere's v1 API (``/v1/chat``, ``/v1/generate``); we call v2. Completions are
sent as one user message to the chat API (v2 has no generate)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from mlflow.gateway.exceptions import AIGatewayException
from mlflow.gateway.providers.base import CHAT, COMPLETIONS, EMBEDDINGS, BaseProvider
from mlflow.gateway.schemas import shapes

_FINISH = {"COMPLETE": "stop", "STOP_SEQUENCE": "stop", "MAX_TOKENS": "length",
           "TOOL_CALL": "tool_calls", "ERROR": "error"}
#: Cohere's embed input_type, asked of v3+ models; a caller may pass its own.
DEFAULT_INPUT_TYPE = "search_document"


def _text(content: Any) -> str | None:
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if p.get("type") == "text") or None
    return content


def _usage(usage: dict[str, Any] | None) -> dict[str, Any]:
    tokens = (usage or {}).get("tokens") or (usage or {}).get("billed_units") or {}
    return shapes.usage(tokens.get("input_tokens"), tokens.get("output_tokens"))


class CohereProvider(BaseProvider):
    NAME = "Cohere"
    SUPPORTED_ROUTE_TYPES = (CHAT, COMPLETIONS, EMBEDDINGS)
    STREAMING_ROUTE_TYPES = (CHAT, COMPLETIONS)
    API_BASE_FIELD = "cohere_api_base"
    DEFAULT_API_BASE = "https://api.cohere.com"

    def __init__(self, config, client, policy=None, **kwargs) -> None:
        super().__init__(config, client, policy, **kwargs)
        base = self._base_url()
        self._chat_url, self._embed_url = f"{base}/v2/chat", f"{base}/v2/embed"
        self._headers = {"Authorization": f"Bearer {config.model.config.cohere_api_key}"}

    def _body(self, payload: dict[str, Any], *, stream: bool) -> dict[str, Any]:
        self.reject_model_field(payload)
        payload = dict(payload)
        payload.pop("stream", None)
        payload.pop("stream_options", None)
        if (n := payload.pop("n", 1)) != 1:
            raise AIGatewayException(
                status_code=422, detail=f"Parameter n must be 1 for Cohere chat, got {n}."
            )
        body: dict[str, Any] = {"model": self.model_name, "messages": payload.pop("messages")}
        renames = {"stop": "stop_sequences", "top_p": "p", "top_k": "k",
                   "max_completion_tokens": "max_tokens"}
        for ours, theirs in renames.items():
            if ours in payload:
                body[theirs] = payload.pop(ours)
        if (choice := payload.pop("tool_choice", None)) in ("none", "required"):
            body["tool_choice"] = choice.upper()
        response_format = payload.pop("response_format", None)
        if response_format and response_format.get("type") == "json_schema":
            schema = (response_format.get("json_schema") or {}).get("schema")
            body["response_format"] = {"type": "json_object", "json_schema": schema}
        elif response_format and response_format.get("type") == "json_object":
            body["response_format"] = {"type": "json_object"}
        body.update(payload)  # temperature, max_tokens, tools, response_format, seed, ...
        if stream:
            body["stream"] = True
        return body

    async def chat(self, payload: dict[str, Any]) -> dict[str, Any]:
        resp = await self._post_json(self._chat_url, self._body(payload, stream=False),
                                     self._headers)
        message = resp.get("message") or {}
        calls = [shapes.tool_call(c.get("id"), (c.get("function") or {}).get("name"),
                                  (c.get("function") or {}).get("arguments"))
                 for c in message.get("tool_calls") or []]
        return shapes.chat_response(
            id=resp.get("id"), model=self.model_name,
            choices=[{"index": 0,
                      "message": shapes.chat_message(_text(message.get("content")),
                                                     tool_calls=calls),
                      "finish_reason": _FINISH.get(resp.get("finish_reason"))}],
            usage_block=_usage(resp.get("usage")), provider=self.provider_name,
        )

    async def chat_stream(self, payload: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        body = self._body(payload, stream=True)
        message_id, created = None, self._now()
        stream = self._stream_json(self._chat_url, body, self._headers)
        async with aclosing(stream) as events:
            async for _, data in events:
                kind = data.get("type")
                message = (data.get("delta") or {}).get("message") or {}
                fields: dict[str, Any] = {}
                if kind == "message-start":
                    message_id = data.get("id")
                    continue
                if kind == "content-delta":
                    fields["content"] = (message.get("content") or {}).get("text")
                elif kind in ("tool-call-start", "tool-call-delta"):
                    call = message.get("tool_calls") or {}
                    function = call.get("function") or {}
                    fields["tool_calls"] = [{
                        "index": data.get("index", 0), "id": call.get("id"),
                        "type": "function" if kind == "tool-call-start" else None,
                        "function": {"name": function.get("name"),
                                     "arguments": function.get("arguments")}}]
                elif kind == "message-end":
                    delta = data.get("delta") or {}
                    if delta.get("finish_reason") == "ERROR":
                        raise self._stream_error({"message": delta.get("error") or "ERROR"})
                    fields["finish_reason"] = _FINISH.get(delta.get("finish_reason"))
                    fields["usage_block"] = _usage(delta.get("usage"))
                else:
                    continue  # content-start/-end, tool-plan-delta, tool-call-end
                yield shapes.chat_chunk(id=message_id, created=created, model=self.model_name,
                                        provider=self.provider_name, **fields)

    async def completions(self, payload: dict[str, Any]) -> dict[str, Any]:
        answer = await self.chat(self._as_chat(payload))
        choice, u = answer["choices"][0], answer["usage"]
        return shapes.completions_response(
            id=answer["id"], created=answer["created"], model=answer["model"],
            texts=[(choice["message"]["content"] or "", choice["finish_reason"])],
            usage_block=shapes.usage(u["prompt_tokens"], u["completion_tokens"]),
        )

    async def completions_stream(self, payload: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        async with aclosing(self.chat_stream(self._as_chat(payload))) as chunks:
            async for chunk in chunks:
                choice, u = chunk["choices"][0], chunk["usage"]
                yield shapes.completions_chunk(
                    id=chunk["id"], created=chunk["created"], model=chunk["model"],
                    text=choice["delta"]["content"], finish_reason=choice["finish_reason"],
                    usage_block=None if u is None else shapes.usage(
                        u["prompt_tokens"], u["completion_tokens"]),
                )

    async def embeddings(self, payload: dict[str, Any]) -> dict[str, Any]:
        self.reject_model_field(payload)
        payload = dict(payload)
        if "texts" in payload:
            raise AIGatewayException(status_code=422,
                                     detail="Invalid parameter texts. Use input instead.")
        texts = payload.pop("input")
        texts = [texts] if isinstance(texts, str) else list(texts)
        body = {"model": self.model_name, "texts": texts,
                "input_type": payload.pop("input_type", DEFAULT_INPUT_TYPE),
                "embedding_types": ["float"], **payload}
        resp = await self._post_json(self._embed_url, body, self._headers)
        vectors = resp.get("embeddings") or {}
        if isinstance(vectors, dict):  # embeddings_by_type
            vectors = vectors.get("float") or []
        billed = ((resp.get("meta") or {}).get("billed_units") or {}).get("input_tokens")
        return shapes.embeddings_response(model=self.model_name, vectors=vectors,
                                          prompt_tokens=billed, total_tokens=billed)
