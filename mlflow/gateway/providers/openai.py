"""OpenAI and Azure OpenAI (``provider: openai``), and the base of every OpenAI-compatible API.

Wire format: https://platform.openai.com/docs/api-reference/chat (``POST {base}/chat/completions``,
``/completions``, ``/embeddings``; ``Authorization: Bearer``; SSE ``data:`` lines ending with
``data: [DONE]``). Azure: ``{base}/openai/deployments/{deployment}/{path}?api-version=...`` with
an ``api-key`` header (``azure``) or a Bearer token (``azuread``), and no ``model`` in the body
(the deployment names it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any
from urllib.parse import quote, urlencode

from mlflow.gateway.providers import openai_format as fmt
from mlflow.gateway.providers.base import CHAT, COMPLETIONS, EMBEDDINGS, BaseProvider


class OpenAICompatibleProvider(BaseProvider):
    """Any API speaking OpenAI's format at ``api_base`` with a Bearer key."""

    NAME = "OpenAI-compatible"
    SUPPORTED_ROUTE_TYPES = (CHAT, COMPLETIONS, EMBEDDINGS)
    STREAMING_ROUTE_TYPES = (CHAT, COMPLETIONS)
    #: Whether the model goes in the body (not for Azure, whose URL names the deployment).
    MODEL_IN_BODY = True
    #: Whether to ask for the final usage chunk with ``stream_options`` (APIs that reject the
    #: field, or always send usage, set this False and the field is not sent).
    REQUEST_STREAM_USAGE = True

    def __init__(self, config, client, policy=None, **kwargs) -> None:
        super().__init__(config, client, policy, **kwargs)
        self._base = self._api_base().rstrip("/")
        self._query = self._api_query()
        self._headers = self._auth_headers()

    # Subclasses change where and how to authenticate.
    API_BASE_FIELD = "api_base"

    def _api_base(self) -> str:
        return self._base_url()

    def _api_query(self) -> str:
        return ""

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.model.config.api_key}"}

    def url(self, path: str) -> str:
        return f"{self._base}/{path}{self._query}"

    def _body(self, payload: dict[str, Any]) -> dict[str, Any]:
        self.reject_model_field(payload)
        if self.MODEL_IN_BODY:
            return {"model": self.model_name, **payload}
        return dict(payload)

    async def chat(self, payload: dict[str, Any]) -> dict[str, Any]:
        body = self._body(payload)
        body.pop("stream", None)
        resp = await self._post_json(self.url("chat/completions"), body, self._headers)
        return fmt.to_chat(resp, self.provider_name, self.model_name)

    def _stream_body(self, payload: dict[str, Any]) -> dict[str, Any]:
        if self.REQUEST_STREAM_USAGE:
            return fmt.with_usage_requested(self._body(payload))
        body = self._body(payload)
        body.pop("stream_options", None)
        return {**body, "stream": True}

    async def chat_stream(self, payload: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        body = self._stream_body(payload)
        stream = self._stream_json(self.url("chat/completions"), body, self._headers)
        async with aclosing(stream) as events:
            async for _, data in events:
                yield fmt.to_chat_chunk(data, self.provider_name, self.model_name)

    async def completions(self, payload: dict[str, Any]) -> dict[str, Any]:
        body = self._body(payload)
        body.pop("stream", None)
        resp = await self._post_json(self.url("completions"), body, self._headers)
        return fmt.to_completions(resp, self.model_name)

    async def completions_stream(self, payload: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        body = self._stream_body(payload)
        stream = self._stream_json(self.url("completions"), body, self._headers)
        async with aclosing(stream) as events:
            async for _, data in events:
                yield fmt.to_completions_chunk(data, self.model_name)

    async def embeddings(self, payload: dict[str, Any]) -> dict[str, Any]:
        resp = await self._post_json(self.url("embeddings"), self._body(payload), self._headers)
        return fmt.to_embeddings(resp, self.model_name)


class OpenAIProvider(OpenAICompatibleProvider):
    NAME = "OpenAI"

    def __init__(self, config, client, policy=None, **kwargs) -> None:
        api_type = str(getattr(config.model.config.openai_api_type, "value", "openai"))
        self._azure = api_type in ("azure", "azuread")
        self._api_type = api_type
        self.MODEL_IN_BODY = not self._azure
        if self._azure:
            self.NAME = "Azure OpenAI"
        super().__init__(config, client, policy, **kwargs)

    API_BASE_FIELD = "openai_api_base"
    DEFAULT_API_BASE = "https://api.openai.com/v1"

    def _api_base(self) -> str:
        cfg = self.config.model.config
        base = self._base_url()
        if self._azure:
            return f"{base}/openai/deployments/{quote(cfg.openai_deployment_name, safe='')}"
        return base

    def _api_query(self) -> str:
        version = self.config.model.config.openai_api_version
        return "" if version is None else "?" + urlencode({"api-version": version})

    def _auth_headers(self) -> dict[str, str]:
        cfg = self.config.model.config
        if self._api_type == "azure":
            return {"api-key": cfg.openai_api_key}
        headers = {"Authorization": f"Bearer {cfg.openai_api_key}"}
        if not self._azure and cfg.openai_organization:
            headers["OpenAI-Organization"] = cfg.openai_organization
        return headers
