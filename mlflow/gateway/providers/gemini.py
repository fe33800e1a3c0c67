"""Google's Gemini API (``provider: gemini``).

Wire format (https://ai.google.dev/api/generate-content): ``POST
{base}/models/{model}:generateContent`` (``:streamGenerateContent?alt=sse`` to stream as SSE) with
an ``x-goog-api-key`` header; ``contents`` of ``user``/``model`` turns made of ``parts``
(``text``, ``inlineData``, ``functionCall``, ``functionResponse``), ``system_instruction``,
``generationConfig`` (``temperature``, ``topP``, ``topK``, ``maxOutputTokens``,
``stopSequences``, ``candidateCount``...), ``tools`` of ``functionDeclarations``. Answers carry
``candidates`` (``content.parts``, ``finishReason``) and ``usageMetadata``. Embeddings:
``:embedContent`` for one text, ``:batchEmbedContents`` for several
(https://ai.google.dev/api/embeddings). Errors: ``{"error": {"code", "message", "status"}}``."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any
from urllib.parse import quote

from mlflow.gateway.exceptions import AIGatewayException
from mlflow.gateway.providers.base import CHAT, COMPLETIONS, EMBEDDINGS, BaseProvider
from mlflow.gateway.schemas import shapes

# MLflow's names -> Gemini's generationConfig names.
_GENERATION = {
    "temperature": "temperature",
    "stop": "stopSequences",
    "n": "candidateCount",
    "max_tokens": "maxOutputTokens",
    "top_k": "topK",
    "top_p": "topP",
    "frequency_penalty": "frequencyPenalty",
    "presence_penalty": "presencePenalty",
}
_DATA_URL = re.compile(r"^data:(?P<mime>[^;]+);base64,(?P<data>.*)$", re.DOTALL)


def _unprocessable(detail: str) -> AIGatewayException:
    return AIGatewayException(status_code=422, detail=detail)


def _parts(content: Any) -> list[dict[str, Any]]:
    if not isinstance(content, list):
        return [{"text": content if content is not None else ""}]
    parts = []
    for part in content:
        if part.get("type") == "text":
            parts.append({"text": part.get("text", "")})
        elif part.get("type") == "image_url":
            url = (part.get("image_url") or {}).get("url", "")
            if match := _DATA_URL.match(url):
                parts.append({"inlineData": {"mimeType": match["mime"], "data": match["data"]}})
            else:
                parts.append({"fileData": {"fileUri": url}})
        else:
            parts.append(part)
    return parts


def _tool_response(content: Any) -> dict[str, Any]:
    # Gemini wants an object: a JSON object passes, anything else is wrapped.
    try:
        parsed = json.loads(content)
    except (TypeError, ValueError):
        return {"result": content}
    return parsed if isinstance(parsed, dict) else {"result": parsed}


def _finish(reason: str | None) -> str | None:
    if not reason:
        return None
    return "length" if reason == "MAX_TOKENS" else reason.lower()


def _usage(meta: dict[str, Any] | None) -> dict[str, Any]:
    meta = dict(meta or {})
    block = shapes.usage(meta.pop("promptTokenCount", None),
                         meta.pop("candidatesTokenCount", None),
                         meta.pop("totalTokenCount", None), derive_total=False)
    if "cachedContentTokenCount" in meta:
        block["prompt_tokens_details"] = {"cached_tokens": meta.pop("cachedContentTokenCount")}
    block.update(meta)  # MLflow keeps Gemini's other counters (thoughtsTokenCount, ...)
    return block


def _call_id(call: dict[str, Any], arguments: str) -> str:
    if call.get("id"):
        return call["id"]
    digest = hashlib.sha256(f"{call.get('name')}/{arguments}".encode()).hexdigest()[:32]
    return f"call_{digest}"


def _split_parts(parts: list[dict[str, Any]], offset: int = 0, *, delta: bool = False):
    texts, calls = [], []
    for part in parts:
        if "text" in part and not part.get("thought"):
            texts.append(part["text"])
        if call := part.get("functionCall"):
            arguments = json.dumps(call.get("args", {}))
            entry = shapes.tool_call(_call_id(call, arguments), call.get("name"), arguments)
            if delta:
                entry = {"index": offset + len(calls), **entry}
            if signature := part.get("thoughtSignature") or call.get("thoughtSignature"):
                entry["thought_signature"] = signature
            calls.append(entry)
    return "".join(texts), calls


class GeminiProvider(BaseProvider):
    NAME = "Gemini"
    SUPPORTED_ROUTE_TYPES = (CHAT, COMPLETIONS, EMBEDDINGS)
    STREAMING_ROUTE_TYPES = (CHAT, COMPLETIONS)
    API_BASE_FIELD = "gemini_api_base"
    DEFAULT_API_BASE = "https://generativelanguage.googleapis.com/v1beta"

    def __init__(self, config, client, policy=None, **kwargs) -> None:
        super().__init__(config, client, policy, **kwargs)
        self._model_url = f"{self._base_url()}/models/{quote(self.model_name, safe='')}"
        self._headers = {"x-goog-api-key": config.model.config.gemini_api_key}

    # -- requests -------------------------------------------------------------------------------

    def _body(self, payload: dict[str, Any]) -> dict[str, Any]:
        self.reject_model_field(payload)
        for ours, theirs in _GENERATION.items():
            if theirs != ours and theirs in payload:
                raise _unprocessable(f"Invalid parameter {theirs}. Use {ours} instead.")
        payload = dict(payload)
        if "max_completion_tokens" in payload and "max_tokens" not in payload:
            payload["max_tokens"] = payload.pop("max_completion_tokens")
        contents: list[dict[str, Any]] = []
        system: list[dict[str, Any]] = []
        names: dict[str, str] = {}  # tool call id -> function name
        for message in payload["messages"]:
            role, content = message["role"], message.get("content")
            if role == "system":
                system.extend(_parts(content))
            elif role == "assistant" and message.get("tool_calls"):
                parts = []
                for call in message["tool_calls"]:
                    function = call.get("function") or {}
                    names[call.get("id")] = function.get("name")
                    try:
                        args = json.loads(function.get("arguments") or "{}")
                    except ValueError:
                        raise _unprocessable(
                            f"The arguments of tool call '{call.get('id')}' are not valid JSON."
                        ) from None
                    part: dict[str, Any] = {"functionCall": {
                        "id": call.get("id"), "name": function.get("name"), "args": args}}
                    if call.get("thought_signature"):
                        part["thoughtSignature"] = call["thought_signature"]
                    parts.append(part)
                contents.append({"role": "model", "parts": parts})
            elif role == "tool":
                call_id = message.get("tool_call_id")
                if call_id not in names:
                    raise _unprocessable(
                        f"Invalid tool message: tool_call_id={call_id} does not match any tool "
                        "call in a preceding assistant message."
                    )
                part = {"functionResponse": {"id": call_id, "name": names[call_id],
                                             "response": _tool_response(content)}}
                last = contents[-1] if contents else None
                if last and last["role"] == "user" and all(
                        "functionResponse" in p for p in last["parts"]):
                    last["parts"].append(part)
                else:
                    contents.append({"role": "user", "parts": [part]})
            else:
                contents.append({"role": "model" if role == "assistant" else "user",
                                 "parts": _parts(content)})
        body: dict[str, Any] = {"contents": contents}
        if system:
            body["system_instruction"] = {"parts": system}
        config = {_GENERATION[k]: v for k, v in payload.items() if k in _GENERATION}
        response_format = payload.get("response_format") or {}
        if response_format.get("type") == "json_schema" and response_format.get("json_schema"):
            config["responseMimeType"] = "application/json"
            config["responseJsonSchema"] = response_format["json_schema"].get("schema")
        elif response_format.get("type") == "json_object":
            config["responseMimeType"] = "application/json"
        if config:
            body["generationConfig"] = config
        if tools := payload.get("tools"):
            declarations = []
            for tool in tools:
                if tool.get("type") != "function":
                    raise _unprocessable("Only function calling tool is supported, but received "
                                         f"tool type {tool.get('type')}")
                function = tool["function"]
                declarations.append({"name": function["name"],
                                     "description": function.get("description"),
                                     "parametersJsonSchema": function.get("parameters")})
            body["tools"] = [{"functionDeclarations": declarations}]
            choice = payload.get("tool_choice")
            if choice == "none":
                body["toolConfig"] = {"functionCallingConfig": {"mode": "NONE"}}
            elif choice == "required":
                body["toolConfig"] = {"functionCallingConfig": {"mode": "ANY"}}
            elif isinstance(choice, dict):
                body["toolConfig"] = {"functionCallingConfig": {
                    "mode": "ANY", "allowedFunctionNames": [choice["function"]["name"]]}}
        return body

    # -- chat -----------------------------------------------------------------------------------

    async def chat(self, payload: dict[str, Any]) -> dict[str, Any]:
        body = self._body({k: v for k, v in payload.items() if k != "stream"})
        resp = await self._post_json(f"{self._model_url}:generateContent", body, self._headers)
        choices = []
        for index, candidate in enumerate(resp.get("candidates") or []):
            text, calls = _split_parts((candidate.get("content") or {}).get("parts") or [])
            reason = _finish(candidate.get("finishReason") or "STOP")
            if calls and reason == "stop":
                reason = "tool_calls"
            choices.append({"index": index,
                            "message": shapes.chat_message(text or None, tool_calls=calls),
                            "finish_reason": reason})
        created = self._now()
        return shapes.chat_response(
            id=resp.get("responseId") or f"gemini-chat-{created}", created=created,
            model=self.model_name, choices=choices, usage_block=_usage(resp.get("usageMetadata")),
            provider=self.provider_name,
        )

    async def chat_stream(self, payload: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        body = self._body({k: v for k, v in payload.items() if k != "stream"})
        url = f"{self._model_url}:streamGenerateContent?alt=sse"
        calls_so_far: dict[int, int] = {}
        async with aclosing(self._stream_json(url, body, self._headers)) as events:
            async for _, resp in events:
                created = self._now()
                choices = []
                for position, candidate in enumerate(resp.get("candidates") or []):
                    index = candidate.get("index", position)
                    text, calls = _split_parts(
                        (candidate.get("content") or {}).get("parts") or [],
                        calls_so_far.get(index, 0), delta=True)
                    calls_so_far[index] = calls_so_far.get(index, 0) + len(calls)
                    reason = _finish(candidate.get("finishReason"))
                    if reason == "stop" and calls_so_far[index]:
                        reason = "tool_calls"
                    choices.append({"index": index, "finish_reason": reason, "delta": {
                        "role": "assistant", "content": text, "tool_calls": calls or None}})
                meta = resp.get("usageMetadata")
                yield shapes.chat_chunk(
                    id=resp.get("responseId") or f"gemini-chat-stream-{created}",
                    created=created, model=self.model_name, choices=choices,
                    usage_block=_usage(meta) if meta else None, provider=self.provider_name,
                )

    # -- completions ----------------------------------------------------------------------------

    async def completions(self, payload: dict[str, Any]) -> dict[str, Any]:
        answer = await self.chat(self._as_chat(payload))
        u = answer["usage"]
        return shapes.completions_response(
            id=None, created=answer["created"], model=answer["model"],
            texts=[(c["message"]["content"] or "", c["finish_reason"])
                   for c in answer["choices"]],
            usage_block=shapes.usage(u["prompt_tokens"], u["completion_tokens"],
                                     u["total_tokens"], derive_total=False),
        )

    async def completions_stream(self, payload: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        async with aclosing(self.chat_stream(self._as_chat(payload))) as chunks:
            async for chunk in chunks:
                u = chunk["usage"]
                yield shapes.completions_chunk(
                    id=chunk["id"], created=chunk["created"], model=chunk["model"],
                    choices=[{"index": c["index"], "finish_reason": c["finish_reason"],
                              "text": c["delta"]["content"]} for c in chunk["choices"]],
                    usage_block=None if u is None else shapes.usage(
                        u["prompt_tokens"], u["completion_tokens"], u["total_tokens"],
                        derive_total=False),
                )

    # -- embeddings -----------------------------------------------------------------------------

    async def embeddings(self, payload: dict[str, Any]) -> dict[str, Any]:
        self.reject_model_field(payload)
        texts = payload["input"]
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not all(isinstance(t, str) for t in texts):
            raise _unprocessable("Gemini embeddings take text input, not token ids.")
        if len(texts) == 1:
            resp = await self._post_json(f"{self._model_url}:embedContent",
                                         {"content": {"parts": [{"text": texts[0]}]}},
                                         self._headers)
            vectors = [(resp.get("embedding") or {}).get("values", [])]
        else:
            body = {"requests": [{"model": f"models/{self.model_name}",
                                  "content": {"parts": [{"text": t}]}} for t in texts]}
            resp = await self._post_json(f"{self._model_url}:batchEmbedContents", body,
                                         self._headers)
            vectors = [e.get("values", []) for e in resp.get("embeddings") or []]
        return shapes.embeddings_response(model=self.model_name, vectors=vectors)
