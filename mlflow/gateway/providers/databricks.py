"""Databricks model serving (``provider: databricks`` / ``databricks-model-serving``).

Wire format: the workspace's OpenAI-compatible serving API
(https://docs.databricks.com/en/machine-learning/model-serving/score-foundation-models.html):
``POST {host}/serving-endpoints/chat/completions`` (``/completions``, ``/embeddings``) with the
serving endpoint as ``model`` and a Bearer token; streams are OpenAI-style ``data:`` events.
Errors are ``{"error_code": ..., "message": ...}``. The host is ``databricks_api_base``, else
``DATABRICKS_HOST``; a response's content-part list (e.g. with reasoning parts) is reduced to its
text, as MLflow does."""

from __future__ import annotations

import os
from typing import Any

from mlflow.gateway.providers import openai_format as fmt
from mlflow.gateway.providers.base import CHAT, COMPLETIONS, EMBEDDINGS
from mlflow.gateway.providers.openai import OpenAICompatibleProvider

_SERVING = "/serving-endpoints"


def _host(config: Any) -> str | None:
    return getattr(config.model.config, "databricks_api_base", None) or os.environ.get(
        "DATABRICKS_HOST"
    )


def _text_only(content: Any) -> Any:
    if not isinstance(content, list):
        return content
    kept = [p for p in content if p.get("type") in ("text", "image_url", "input_audio")]
    if all(p.get("type") == "text" for p in kept):
        return "\n".join(p.get("text", "") for p in kept) or None
    return kept or None


class DatabricksProvider(OpenAICompatibleProvider):
    NAME = "Databricks"
    SUPPORTED_ROUTE_TYPES = (CHAT, COMPLETIONS, EMBEDDINGS)
    STREAMING_ROUTE_TYPES = (CHAT, COMPLETIONS)

    @classmethod
    def config_error(cls, config: Any) -> str | None:
        if not _host(config):
            return (
                f"provider '{config.model.provider.value}' needs the workspace URL: set "
                "'databricks_api_base' in the endpoint's config or DATABRICKS_HOST."
            )
        return None

    def _api_base(self) -> str:
        base = (self._api_base_override or _host(self.config) or "").rstrip("/")
        return base if base.endswith(_SERVING) else base + _SERVING

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.model.config.databricks_api_token}"}

    async def chat(self, payload: dict[str, Any]) -> dict[str, Any]:
        body = self._body(payload)
        body.pop("stream", None)
        resp = await self._post_json(self.url("chat/completions"), body, self._headers)
        for choice in resp.get("choices") or []:
            if isinstance(message := choice.get("message"), dict):
                message["content"] = _text_only(message.get("content"))
        return fmt.to_chat(resp, self.provider_name, self.model_name)
