"""Together AI (``provider: togetherai``).

Wire format (https://docs.together.ai/reference): OpenAI-compatible ``POST {base}/chat/
completions``, ``/completions`` and ``/embeddings`` with a Bearer key; streams are ``data:``
events ending with ``data: [DONE]``, the last chunk carrying ``usage``."""

from __future__ import annotations

from mlflow.gateway.providers.base import CHAT, COMPLETIONS, EMBEDDINGS
from mlflow.gateway.providers.openai import OpenAICompatibleProvider


class TogetherAIProvider(OpenAICompatibleProvider):
    NAME = "TogetherAI"
    SUPPORTED_ROUTE_TYPES = (CHAT, COMPLETIONS, EMBEDDINGS)
    STREAMING_ROUTE_TYPES = (CHAT, COMPLETIONS)
    API_BASE_FIELD = "togetherai_api_base"
    DEFAULT_API_BASE = "https://api.together.xyz/v1"
    REQUEST_STREAM_USAGE = False  # Together reports usage in the last chunk unasked

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.model.config.togetherai_api_key}"}
