"""Hugging Face Text Generation Inference (``provider: huggingface-text-generation-inference``).

Wire format (https://huggingface.github.io/text-generation-inference/): completions are ``POST
{hf_server_url}/generate`` with ``{"inputs", "parameters": {"max_new_tokens", "temperature",
"top_p", "top_k", "stop", "details": true, "decoder_input_details": true}}``, answering
``generated_text`` and ``details`` (``finish_reason``, ``generated_tokens``, ``prefill``);
``/generate_stream`` streams SSE ``data:`` events, each a ``token`` (the last also has
``generated_text`` and ``details``). Chat is TGI's OpenAI-compatible Messages API
(``/v1/chat/completions``). Errors are ``{"error": ..., "error_type": ...}``. No credential.

MLflow's rules kept: ``n`` must be 1; ``max_new_tokens`` is refused in favour of
``max_tokens``; temperature is scaled by 50 (minimum 0.001). MLflow serves completions only; we
also serve chat and stream both."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from mlflow.gateway.exceptions import AIGatewayException
from mlflow.gateway.providers.base import CHAT, COMPLETIONS
from mlflow.gateway.providers.openai import OpenAICompatibleProvider
from mlflow.gateway.schemas import shapes


class HFTextGenerationInferenceProvider(OpenAICompatibleProvider):
    NAME = "Hugging Face Text Generation Inference"
    SUPPORTED_ROUTE_TYPES = (CHAT, COMPLETIONS)
    STREAMING_ROUTE_TYPES = (CHAT, COMPLETIONS)
    API_BASE_FIELD = "hf_server_url"
    REQUEST_STREAM_USAGE = False

    def _api_base(self) -> str:
        return self._base_url()

    def _auth_headers(self) -> dict[str, str]:
        return {}

    def url(self, path: str) -> str:
        if path == "chat/completions":
            return f"{self._base}/v1/chat/completions"
        return f"{self._base}/{path}"

    def _generate_body(self, payload: dict[str, Any], *, stream: bool) -> dict[str, Any]:
        self.reject_model_field(payload)
        if "max_new_tokens" in payload:
            raise AIGatewayException(
                status_code=422, detail="Invalid parameter max_new_tokens. Use max_tokens instead."
            )
        payload = dict(payload)
        payload.pop("stream", None)
        payload.pop("stream_options", None)
        if (n := payload.pop("n", 1)) != 1:
            raise AIGatewayException(
                status_code=422,
                detail="'n' must be '1' for the Text Generation Inference provider. "
                f"Received value: '{n}'.",
            )
        prompt = payload.pop("prompt")
        if "max_tokens" in payload:
            payload["max_new_tokens"] = payload.pop("max_tokens")
        if "temperature" in payload:
            payload["temperature"] = max(50 * payload["temperature"], 1e-3)
        if not stream:
            payload["details"] = True
            payload["decoder_input_details"] = True
        return {"inputs": prompt, "parameters": payload}

    async def completions(self, payload: dict[str, Any]) -> dict[str, Any]:
        resp = await self._post_json(self.url("generate"),
                                     self._generate_body(payload, stream=False))
        details = resp.get("details") or {}
        prompt = len(details.get("prefill") or [])
        generated = details.get("generated_tokens")
        return shapes.completions_response(
            model=self.model_name,
            texts=[(resp.get("generated_text", ""), details.get("finish_reason"))],
            usage_block=shapes.usage(prompt, generated),
        )

    async def completions_stream(self, payload: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        body = self._generate_body(payload, stream=True)
        created = self._now()
        stream = self._stream_json(self.url("generate_stream"), body)
        async with aclosing(stream) as events:
            async for _, data in events:
                token = data.get("token") or {}
                details = data.get("details") or {}
                if token.get("special") and not details:
                    continue  # an end-of-sequence marker carries no text
                yield shapes.completions_chunk(
                    model=self.model_name, created=created,
                    text=None if token.get("special") else token.get("text"),
                    finish_reason=details.get("finish_reason"),
                    usage_block=shapes.usage(None, details["generated_tokens"])
                    if "generated_tokens" in details else None,
                )
