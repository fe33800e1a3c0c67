"""Providers the config accepts that speak OpenAI's API at their own base URL with a Bearer key:
Groq, DeepSeek, xAI, OpenRouter and Ollama (``OpenAICompatibleConfig``: ``api_key``,
``api_base``). Endpoint types are those each API documents; MLflow serves chat and embeddings for
all of them, and an embeddings endpoint on an API without one would only fail at the first
request, so we refuse it at start-up instead."""

from __future__ import annotations

from mlflow.gateway.providers.base import CHAT, COMPLETIONS, EMBEDDINGS
from mlflow.gateway.providers.openai import OpenAICompatibleProvider


class GroqProvider(OpenAICompatibleProvider):
    NAME = "Groq"
    SUPPORTED_ROUTE_TYPES = (CHAT,)  # https://console.groq.com/docs/api-reference
    STREAMING_ROUTE_TYPES = (CHAT,)


class DeepSeekProvider(OpenAICompatibleProvider):
    NAME = "DeepSeek"
    SUPPORTED_ROUTE_TYPES = (CHAT,)  # https://api-docs.deepseek.com/api/create-chat-completion
    STREAMING_ROUTE_TYPES = (CHAT,)


class XAIProvider(OpenAICompatibleProvider):
    NAME = "xAI"
    SUPPORTED_ROUTE_TYPES = (CHAT, EMBEDDINGS)
    STREAMING_ROUTE_TYPES = (CHAT,)


class OpenRouterProvider(OpenAICompatibleProvider):
    NAME = "OpenRouter"
    SUPPORTED_ROUTE_TYPES = (CHAT, EMBEDDINGS)
    STREAMING_ROUTE_TYPES = (CHAT,)


class OllamaProvider(OpenAICompatibleProvider):
    NAME = "Ollama"
    SUPPORTED_ROUTE_TYPES = (CHAT, COMPLETIONS, EMBEDDINGS)
    STREAMING_ROUTE_TYPES = (CHAT, COMPLETIONS)
    _PLACEHOLDER_KEY = "ollama"

    def _auth_headers(self) -> dict[str, str]:
        # A local Ollama needs no key: the config's placeholder is not sent.
        key = self.config.model.config.api_key
        return {} if key == self._PLACEHOLDER_KEY else {"Authorization": f"Bearer {key}"}
