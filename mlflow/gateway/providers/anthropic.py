"""Anthropic's Messages API (``provider: anthropic``).

Wire format (https://docs.anthropic.com/en/api/messages): ``POST {base}/messages`` with
``x-api-key`` and ``anthropic-version`` headers; ``max_tokens`` is required; system prompts go in
``system``; tool calls are ``tool_use`` content blocks and tool results ``tool_result`` blocks in a
user message. Streams are SSE with named events: ``message_start``, ``content_block_start``,
``content_block_delta`` (``text_delta`` / ``input_json_delta``), ``content_block_stop``,
``message_delta`` (stop reason, output tokens), ``message_stop``, ``ping`` and ``error``.

MLflow's rules kept: ``n`` must be 1, ``temperature`` and ``top_p`` are exclusive, OpenAI's
0-2 temperature is halved onto Anthropic's 0-1, ``max_tokens`` defaults to 8192. Completions are
sent as one user message through the Messages API (MLflow uses the retired Text Completions
API)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from mlflow.gateway.exceptions import AIGatewayException
from mlflow.gateway.providers.base import CHAT, COMPLETIONS, BaseProvider
from mlflow.gateway.schemas import shapes

DEFAULT_MAX_TOKENS = 8192
MAXIMUM_MAX_TOKENS = 1_000_000
_DATA_URL = re.compile(r"^data:(?P<mime>[^;]+);base64,(?P<data>.*)$", re.DOTALL)
_FINISH = {"max_tokens": "length", "tool_use": "tool_calls"}


def _unprocessable(detail: str) -> AIGatewayException:
    return AIGatewayException(status_code=422, detail=detail)


def _content_parts(content: Any) -> Any:
    """OpenAI content parts onto Anthropic blocks: base64 data-URL images become image blocks."""
    if not isinstance(content, list):
        return content
    blocks = []
    for part in content:
        if part.get("type") == "image_url":
            url = (part.get("image_url") or {}).get("url", "")
            if match := _DATA_URL.match(url):
                blocks.append({"type": "image", "source": {
                    "type": "base64", "media_type": match["mime"], "data": match["data"]}})
            else:
                blocks.append({"type": "image", "source": {"type": "url", "url": url}})
        else:
            blocks.append(part)
    return blocks


def _messages(messages: list[dict[str, Any]]) -> tuple[str | None, list[dict[str, Any]]]:
    system: list[str] = []
    out: list[dict[str, Any]] = []
    for message in messages:
        role = message["role"]
        content = message.get("content")
        if role == "system":
            system.append(content if isinstance(content, str) else "".join(
                p.get("text", "") for p in content or [] if isinstance(p, dict)))
        elif role == "tool":
            out.append({"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": message.get("tool_call_id"),
                 "content": content}]})
        elif role == "assistant" and message.get("tool_calls"):
            blocks: list[dict[str, Any]] = []
            if content:
                blocks.append({"type": "text", "text": content})
            for call in message["tool_calls"]:
                function = call.get("function") or {}
                try:
                    arguments = json.loads(function.get("arguments") or "{}")
                except ValueError:
                    raise _unprocessable(
                        f"The arguments of tool call '{call.get('id')}' are not valid JSON."
                    ) from None
                blocks.append({"type": "tool_use", "id": call.get("id"),
                               "name": function.get("name"), "input": arguments})
            out.append({"role": "assistant", "content": blocks})
        else:
            out.append({"role": role, "content": _content_parts(content)})
    return ("\n".join(system) if system else None), out


def _tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    converted = []
    for tool in tools:
        if tool.get("type") != "function":
            raise _unprocessable(
                f"Only function calling tool is supported, but received tool type {tool['type']}"
            )
        function = tool["function"]
        converted.append({
            "name": function["name"],
            "description": function.get("description"),
            "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
        })
    return converted


def _tool_choice(choice: Any) -> dict[str, Any] | None:
    if choice == "none":
        return {"type": "none"}
    if choice == "auto":
        return {"type": "auto"}
    if choice == "required":
        return {"type": "any"}
    if isinstance(choice, dict) and choice.get("type") == "function":
        return {"type": "tool", "name": choice["function"]["name"]}
    return None


def usage_block(usage: dict[str, Any] | None) -> dict[str, Any]:
    """Anthropic's usage as MLflow reports it: cache reads and writes count as prompt tokens,
    cache reads also as ``prompt_tokens_details.cached_tokens``; other fields are kept."""
    usage = dict(usage or {})
    input_tokens = usage.pop("input_tokens", None)
    output_tokens = usage.pop("output_tokens", None)
    cache_read = usage.pop("cache_read_input_tokens", None)
    cache_creation = usage.pop("cache_creation_input_tokens", None)
    prompt = None if input_tokens is None else input_tokens + (cache_read or 0) + (
        cache_creation or 0)
    block = shapes.usage(prompt, output_tokens)
    if cache_read is not None:
        block["prompt_tokens_details"] = {"cached_tokens": cache_read}
    block.update(usage)
    if cache_creation is not None:
        block["cache_creation_input_tokens"] = cache_creation
    return block


class AnthropicProvider(BaseProvider):
    NAME = "Anthropic"
    SUPPORTED_ROUTE_TYPES = (CHAT, COMPLETIONS)
    STREAMING_ROUTE_TYPES = (CHAT, COMPLETIONS)
    API_BASE_FIELD = "anthropic_api_base"
    DEFAULT_API_BASE = "https://api.anthropic.com/v1"

    def __init__(self, config, client, policy=None, **kwargs) -> None:
        super().__init__(config, client, policy, **kwargs)
        cfg = config.model.config
        self._url = f"{self._base_url()}/messages"
        self._headers = {
            "x-api-key": cfg.anthropic_api_key,
            "anthropic-version": cfg.anthropic_version,
        }

    # -- requests -------------------------------------------------------------------------------

    def _body(self, payload: dict[str, Any], *, stream: bool) -> dict[str, Any]:
        self.reject_model_field(payload)
        payload = dict(payload)
        payload.pop("stream", None)
        payload.pop("stream_options", None)
        if "top_p" in payload and "temperature" in payload:
            raise _unprocessable("Cannot set both 'temperature' and 'top_p' parameters.")
        if (n := payload.pop("n", 1)) != 1:
            raise _unprocessable(
                f"'n' must be '1' for the Anthropic provider. Received value: '{n}'."
            )
        completion_cap = payload.pop("max_completion_tokens", None)
        max_tokens = payload.pop("max_tokens", None) or completion_cap or DEFAULT_MAX_TOKENS
        if max_tokens > MAXIMUM_MAX_TOKENS:
            raise _unprocessable(
                f"Invalid value for max_tokens: cannot exceed {MAXIMUM_MAX_TOKENS}."
            )
        system, messages = _messages(payload.pop("messages"))
        body: dict[str, Any] = {"model": self.model_name, "max_tokens": max_tokens,
                                "messages": messages}
        if "temperature" in payload:
            body["temperature"] = 0.5 * payload.pop("temperature")
        if "stop" in payload:
            body["stop_sequences"] = payload.pop("stop")
        if tools := payload.pop("tools", None):
            body["tools"] = _tools(tools)
        if (choice := _tool_choice(payload.pop("tool_choice", None))) is not None:
            body["tool_choice"] = choice
        response_format = payload.pop("response_format", None) or {}
        if response_format.get("type") == "json_object":
            instruction = ("Respond with only a single valid JSON object. Do not include any "
                           "explanatory text, markdown, or code fences before or after the "
                           "JSON object.")
            system = f"{system}\n{instruction}" if system else instruction
        if system is not None:
            body["system"] = system
        for key in ("top_p", "top_k", "metadata"):
            if key in payload:
                body[key] = payload.pop(key)
        for key in ("presence_penalty", "frequency_penalty"):
            payload.pop(key, None)  # Anthropic has no equivalent
        body.update(payload)  # vendor extras (e.g. "thinking") pass through
        if stream:
            body["stream"] = True
        return body

    # -- responses ------------------------------------------------------------------------------

    def _to_chat(self, resp: dict[str, Any]) -> dict[str, Any]:
        texts, calls = [], []
        for block in resp.get("content") or []:
            if block.get("type") == "text":
                texts.append(block.get("text", ""))
            elif block.get("type") == "tool_use":
                calls.append(shapes.tool_call(
                    block.get("id"), block.get("name"), json.dumps(block.get("input", {}))))
        return shapes.chat_response(
            id=resp.get("id"),
            model=resp.get("model") or self.model_name,
            choices=[{
                "index": 0,
                "message": shapes.chat_message("".join(texts) or None, tool_calls=calls),
                "finish_reason": _FINISH.get(resp.get("stop_reason"), "stop"),
            }],
            usage_block=usage_block(resp.get("usage")),
            provider=self.provider_name,
        )

    async def chat(self, payload: dict[str, Any]) -> dict[str, Any]:
        body = self._body(payload, stream=False)
        return self._to_chat(await self._post_json(self._url, body, self._headers))

    async def chat_stream(self, payload: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        body = self._body(payload, stream=True)
        message_id, model = None, self.model_name
        usage: dict[str, Any] = {}
        tool_index: dict[int, int] = {}  # content block index -> tool call index
        created = self._now()
        stream = self._stream_json(self._url, body, self._headers)
        async with aclosing(stream) as events:
            async for _, data in events:
                kind = data.get("type")
                chunk: dict[str, Any] = {}
                if kind == "message_start":
                    message = data.get("message") or {}
                    message_id, model = message.get("id"), message.get("model") or model
                    usage.update(message.get("usage") or {})
                    continue
                if kind == "content_block_start":
                    block = data.get("content_block") or {}
                    if block.get("type") == "tool_use":
                        tool_index[data.get("index")] = len(tool_index)
                        chunk["tool_calls"] = [{
                            "index": tool_index[data.get("index")], "id": block.get("id"),
                            "type": "function",
                            "function": {"name": block.get("name"), "arguments": None}}]
                    else:
                        chunk["content"] = block.get("text")
                elif kind == "content_block_delta":
                    delta = data.get("delta") or {}
                    if delta.get("type") == "input_json_delta":
                        chunk["tool_calls"] = [{
                            "index": tool_index.get(data.get("index"), 0), "id": None,
                            "type": None,
                            "function": {"name": None, "arguments": delta.get("partial_json")}}]
                    else:
                        chunk["content"] = delta.get("text")
                elif kind == "message_delta":
                    usage.update(data.get("usage") or {})
                    reason = (data.get("delta") or {}).get("stop_reason")
                    chunk["finish_reason"] = _FINISH.get(reason, "stop") if reason else None
                    chunk["usage_block"] = usage_block(usage)
                else:
                    continue  # content_block_stop, message_stop, ping
                yield shapes.chat_chunk(id=message_id, model=model, created=created,
                                        provider=self.provider_name, **chunk)

    async def completions(self, payload: dict[str, Any]) -> dict[str, Any]:
        answer = await self.chat(self._as_chat(payload))
        choice = answer["choices"][0]
        u = answer["usage"]
        return shapes.completions_response(
            id=answer["id"], created=answer["created"], model=answer["model"],
            texts=[(choice["message"]["content"] or "", choice["finish_reason"])],
            usage_block=shapes.usage(u["prompt_tokens"], u["completion_tokens"],
                                     u["total_tokens"]),
        )

    async def completions_stream(self, payload: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        stream = self.chat_stream(self._as_chat(payload))
        async with aclosing(stream) as chunks:
            async for chunk in chunks:
                choice = chunk["choices"][0]
                u = chunk["usage"]
                yield shapes.completions_chunk(
                    id=chunk["id"], created=chunk["created"], model=chunk["model"],
                    text=choice["delta"]["content"], finish_reason=choice["finish_reason"],
                    usage_block=None if u is None else shapes.usage(
                        u["prompt_tokens"], u["completion_tokens"], u["total_tokens"]),
                )
