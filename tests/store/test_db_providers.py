"""Provider configs built from stored model definitions, as seed 002 maps them."""

from __future__ import annotations

import pytest

from mlflow.exceptions import MlflowException
from mlflow.gateway.server.db_providers import endpoint_config
from mlflow.store.gateway.sqlalchemy_store import ResolvedModel

KEY = "sk-provider-mapping-key-123"


def _model(provider, secret=None, auth=None, name="m"):
    secret = {"api_key": KEY} if secret is None else secret
    return ResolvedModel("map", "def", provider, name, 1.0, secret, auth or {})


def _config(provider, secret=None, auth=None, kind="llm/v1/chat"):
    config = endpoint_config("ep", kind, _model(provider, secret, auth))
    assert KEY not in repr(config)
    return config


def test_openai_and_azure():
    plain = _config("openai", auth={"api_base": "http://x/v1", "organization": "org"})
    assert plain.model.provider.value == "openai" and plain.model.name == "m"
    assert plain.model.config.openai_api_key == KEY
    assert plain.model.config.openai_api_base == "http://x/v1"
    assert plain.model.config.openai_organization == "org"
    azure = _config(
        "openai",
        auth={
            "api_type": "azure",
            "api_base": "https://a.openai.azure.com",
            "deployment_name": "dep",
            "api_version": "2024-06-01",
        },
    )
    assert azure.model.config.openai_deployment_name == "dep"
    assert azure.model.config.openai_api_version == "2024-06-01"


def test_anthropic_mistral_gemini():
    anthropic = _config("anthropic", auth={"version": "2023-01-01"})
    assert anthropic.model.config.anthropic_api_key == KEY
    assert anthropic.model.config.anthropic_version == "2023-01-01"
    assert _config("mistral").model.config.mistral_api_key == KEY
    assert _config("gemini", kind="llm/v1/embeddings").model.config.gemini_api_key == KEY


def test_bedrock_auth_modes():
    role = _config(
        "bedrock",
        secret={},
        auth={"aws_role_arn": "arn:aws:iam::1:role/r", "aws_region": "us-east-1"},
    )
    assert role.model.config.aws_config.aws_role_arn == "arn:aws:iam::1:role/r"
    assert role.model.config.aws_config.session_length_seconds == 900
    keys = _config(
        "amazon-bedrock",
        secret={"aws_access_key_id": "AKIA0000", "aws_secret_access_key": KEY},
        auth={"aws_region": "eu-west-1"},
    )
    assert keys.model.config.aws_config.aws_access_key_id == "AKIA0000"
    chain = _config("bedrock", secret={}, auth={"aws_region": "us-west-2"})
    assert type(chain.model.config.aws_config).__name__ == "AWSBaseConfig"


def test_other_providers_use_their_own_config_or_the_openai_compatible_path():
    together = _config("togetherai")
    assert together.model.config.togetherai_api_key == KEY
    groq = _config("groq", auth={"api_base": "http://groq.local/v1"})
    assert groq.model.provider.value == "groq" and groq.model.config.api_base == (
        "http://groq.local/v1"
    )
    # A provider whose config the secret does not fit goes the generic OpenAI-compatible way.
    generic = _config(
        "huggingface-text-generation-inference", auth={"api_base": "http://m.local/v1"}
    )
    assert generic.model.provider.value == "openai"
    assert generic.model.config.openai_api_base == "http://m.local/v1"


def test_missing_credentials_are_a_clear_error():
    with pytest.raises(MlflowException, match="has no 'api_key' in its secret") as info:
        _config("openai", secret={})
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"


def test_a_provider_config_that_cannot_be_built_names_what_is_missing():
    with pytest.raises(MlflowException, match="needs hf_server_url"):
        _config("huggingface-text-generation-inference")
