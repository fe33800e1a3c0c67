"""Mistral AI (``provider: mistral``).

Wire format (https://docs.mistral.ai/api/): OpenAI-style ``POST {base}/chat/completions`` and
``/embeddings`` with a Bearer key; streams are ``data:`` events ending with ``data: [DONE]``, the
last chunk carrying ``usage`` (Mistral takes no ``stream_options``). Completions are sent as one
user message to the chat API, as MLflow does (``stop`` and ``n`` dropped, temperature halved onto
Mistral's 0-1 range)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from mlflow.gateway.providers import openai_format as fmt
from mlflow.gateway.providers.base import CHAT, COMPLETIONS, EMBEDDINGS
from mlflow.gateway.providers.openai import OpenAICompatibleProvider


class MistralProvider(OpenAICompatibleProvider):
    NAME = "Mistral"
    SUPPORTED_ROUTE_TYPES = (CHAT, COMPLETIONS, EMBEDDINGS)
    STREAMING_ROUTE_TYPES = (CHAT, COMPLETIONS)
    API_BASE_FIELD = "mistral_api_base"
    DEFAULT_API_BASE = "https://api.mistral.ai/v1"
    REQUEST_STREAM_USAGE = False

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.model.config.mistral_api_key}"}

    @classmethod
    def _as_chat(cls, payload: dict[str, Any]) -> dict[str, Any]:
        payload = super()._as_chat({k: v for k, v in payload.items() if k not in ("stop", "n")})
        if "temperature" in payload:
            payload["temperature"] = 0.5 * payload["temperature"]
        return payload

    async def completions(self, payload: dict[str, Any]) -> dict[str, Any]:
        self.reject_model_field(payload)
        body = self._body(self._as_chat(payload))
        body.pop("stream", None)
        resp = await self._post_json(self.url("chat/completions"), body, self._headers)
        return fmt.to_completions(resp, self.model_name)

    async def completions_stream(self, payload: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        self.reject_model_field(payload)
        body = self._stream_body(self._as_chat(payload))
        stream = self._stream_json(self.url("chat/completions"), body, self._headers)
        async with aclosing(stream) as events:
            async for _, data in events:
                yield fmt.to_completions_chunk(data, self.model_name)
