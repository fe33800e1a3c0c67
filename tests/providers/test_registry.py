"""The provider registry: classes by name, and start-up refusals with clear reasons."""

from __future__ import annotations

import pytest

from async_core import AsyncClient
from mlflow.gateway.providers import build_provider, get_provider_class, provider_support_error
from mlflow.gateway.providers.openai import OpenAIProvider
from tests.providers.conftest import endpoint


def test_classes_by_name_and_enum():
    from mlflow.gateway.config import Provider

    assert get_provider_class("openai") is OpenAIProvider
    assert get_provider_class(Provider.OPENAI) is OpenAIProvider


@pytest.mark.parametrize(
    ("provider", "config", "words"),
    [
        ("palm", {"palm_api_key": "k" * 10}, "retired the PaLM API"),
        ("litellm", {"litellm_provider": "x"}, "LiteLLM library"),
    ],
)
def test_unserved_providers_are_refused_with_a_reason(provider, config, words):
    reason = provider_support_error(endpoint(provider, config))
    assert reason is not None and words in reason and "'ep'" in reason


def test_ai21_refused():
    reason = provider_support_error(endpoint("ai21labs", {"ai21labs_api_key": "k"},
                                             endpoint_type="llm/v1/completions",
                                             model="j2-ultra"))
    assert reason is not None and "Jurassic-2" in reason


def test_unserved_endpoint_type_is_refused():
    config = endpoint("groq", {"api_key": "k"}, endpoint_type="llm/v1/embeddings")
    reason = provider_support_error(config)
    assert reason == (
        "Endpoint 'ep': provider 'groq' does not serve endpoint type 'llm/v1/embeddings' "
        "(it serves: llm/v1/chat)."
    )
    with pytest.raises(ValueError, match="does not serve endpoint type"):
        build_provider(config, AsyncClient())


def test_served_endpoint_builds():
    config = endpoint("openai", {"openai_api_key": "sk-1"})
    assert provider_support_error(config) is None
    provider = build_provider(config, AsyncClient())
    assert isinstance(provider, OpenAIProvider) and provider.provider_name == "openai"
    assert provider._secrets == ("sk-1",)
