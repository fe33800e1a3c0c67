"""Providers: each translates MLflow's gateway schemas to and from one provider's wire format,
sending through ``async_core.AsyncClient``.

The registry maps a configured ``provider`` to its class (imported when first used).
``provider_support_error`` tells the server, at start-up, whether it can serve an endpoint, so a
provider or endpoint type we cannot serve is refused before the first request."""

from __future__ import annotations

import importlib
from typing import Any

from mlflow.gateway.providers.base import BaseProvider

__all__ = [
    "BaseProvider",
    "UNSERVED_PROVIDERS",
    "build_provider",
    "get_provider_class",
    "provider_support_error",
]

_M = "mlflow.gateway.providers."
# provider value -> "module:Class"
_REGISTRY: dict[str, str] = {
    "openai": _M + "openai:OpenAIProvider",
    "anthropic": _M + "anthropic:AnthropicProvider",
    "gemini": _M + "gemini:GeminiProvider",
    "mistral": _M + "mistral:MistralProvider",
    "cohere": _M + "cohere:CohereProvider",
    "bedrock": _M + "bedrock:BedrockProvider",
    "amazon-bedrock": _M + "bedrock:BedrockProvider",
    "databricks": _M + "databricks:DatabricksProvider",
    "databricks-model-serving": _M + "databricks:DatabricksProvider",
    "mosaicml": _M + "mosaicml:MosaicMLProvider",
    "huggingface-text-generation-inference": _M + "huggingface:HFTextGenerationInferenceProvider",
    "togetherai": _M + "togetherai:TogetherAIProvider",
    "mlflow-model-serving": _M + "mlflow_serving:MlflowModelServingProvider",
    "groq": _M + "openai_compatible:GroqProvider",
    "deepseek": _M + "openai_compatible:DeepSeekProvider",
    "xai": _M + "openai_compatible:XAIProvider",
    "openrouter": _M + "openai_compatible:OpenRouterProvider",
    "ollama": _M + "openai_compatible:OllamaProvider",
}

#: Providers the configuration accepts that this gateway does not serve, and why.
UNSERVED_PROVIDERS: dict[str, str] = {
    "palm": (
        "Google retired the PaLM API (generativelanguage v1beta2); use provider 'gemini' instead."
    ),
    "ai21labs": (
        "AI21 retired the Jurassic-2 models (j2-ultra, j2-mid, j2-light) that MLflow's ai21labs "
        "provider calls; AI21's current models speak OpenAI's chat format, so configure them "
        "with an OpenAI-compatible provider."
    ),
    "litellm": (
        "the litellm provider needs the LiteLLM library, which this gateway does not ship; "
        "configure the upstream provider directly."
    ),
}


def _value(provider: Any) -> str:
    return str(getattr(provider, "value", provider))


def _endpoint_type(config: Any) -> str:
    return _value(getattr(config, "endpoint_type", None) or getattr(config, "route_type", ""))


def get_provider_class(name: Any) -> type[BaseProvider]:
    """The provider class for a provider name (``"openai"``) or ``Provider`` member. Raises
    ``KeyError`` with the reason for a provider we do not serve."""
    value = _value(name)
    target = _REGISTRY.get(value)
    if target is None:
        reason = UNSERVED_PROVIDERS.get(value, "it is not a known provider.")
        raise KeyError(f"The provider '{value}' is not served by this gateway: {reason}")
    module_name, _, class_name = target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def provider_support_error(endpoint_config: Any) -> str | None:
    """Why the server cannot serve this endpoint (a message naming the endpoint, its provider
    and type and what to do), or None when it can."""
    name = getattr(endpoint_config, "name", "?")
    provider = _value(endpoint_config.model.provider)
    endpoint_type = _endpoint_type(endpoint_config)
    try:
        cls = get_provider_class(provider)
    except KeyError as e:
        return f"Endpoint '{name}': {e.args[0]}"
    except ImportError:
        return f"Endpoint '{name}': the '{provider}' provider could not be loaded."
    if endpoint_type not in cls.SUPPORTED_ROUTE_TYPES:
        served = ", ".join(cls.SUPPORTED_ROUTE_TYPES) or "none"
        return (
            f"Endpoint '{name}': provider '{provider}' does not serve endpoint type "
            f"'{endpoint_type}' (it serves: {served})."
        )
    if endpoint_config.model.config is None:
        return f"Endpoint '{name}': provider '{provider}' needs a config."
    reason = cls.config_error(endpoint_config)
    return None if reason is None else f"Endpoint '{name}': {reason}"


def build_provider(
    endpoint_config: Any, client: Any, policy: Any = None, **options: Any
) -> BaseProvider:
    """A ready provider for an endpoint, sending through ``client`` under ``policy`` (the
    client's policy when None). ``options``: ``api_base`` (send to this base URL instead of the
    configured or documented one) and ``attempt_timeout`` (seconds to connect or between two
    bytes). Raises ``ValueError`` with ``provider_support_error``'s message for an endpoint we
    cannot serve."""
    if (reason := provider_support_error(endpoint_config)) is not None:
        raise ValueError(reason)
    cls = get_provider_class(endpoint_config.model.provider)
    return cls(endpoint_config, client, policy, **options)
