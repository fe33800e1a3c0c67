"""From a stored model definition (provider, model name, decrypted secret, auth_config) to the
provider config the providers package builds from, as seed 002 maps them:

- openai: ``api_key``; Azure when auth_config ``api_type`` is azure/azuread (``api_base``,
  ``deployment_name``, ``api_version``), else optional ``api_base`` and ``organization``;
- anthropic: ``api_key``, optional auth_config ``version``;
- bedrock / amazon-bedrock: an assumed role (auth_config ``aws_role_arn``,
  ``session_length_seconds`` default 900, ``aws_region``), static keys (secret
  ``aws_access_key_id``/``aws_secret_access_key``/``aws_session_token``), else the default chain;
- mistral, gemini: ``api_key``;
- every other provider: its own config class when the secret fits it, else the generic
  OpenAI-compatible path (auth_config ``api_base`` and the secret's ``api_key``)."""

from __future__ import annotations

from typing import Any

from mlflow.exceptions import INVALID_PARAMETER_VALUE, MlflowException
from mlflow.gateway.config import EndpointConfig, Provider
from mlflow.store.gateway.sqlalchemy_store import ResolvedModel


def _api_key(model: ResolvedModel) -> str:
    key = model.secret_value.get("api_key")
    if not key:
        raise MlflowException(
            f"The model '{model.model_name}' (provider '{model.provider}') has no 'api_key' in "
            "its secret; update the secret or attach one to the model definition",
            error_code=INVALID_PARAMETER_VALUE,
        )
    return key


def _openai(model: ResolvedModel) -> dict[str, Any]:
    auth = model.auth_config
    config: dict[str, Any] = {"openai_api_key": _api_key(model)}
    if auth.get("api_type") in ("azure", "azuread"):
        config.update(
            openai_api_type=auth["api_type"],
            openai_api_base=auth.get("api_base"),
            openai_deployment_name=auth.get("deployment_name"),
            openai_api_version=auth.get("api_version"),
        )
    else:
        if "api_base" in auth:
            config["openai_api_base"] = auth["api_base"]
        if "organization" in auth:
            config["openai_organization"] = auth["organization"]
    return config


def _anthropic(model: ResolvedModel) -> dict[str, Any]:
    config: dict[str, Any] = {"anthropic_api_key": _api_key(model)}
    if "version" in model.auth_config:
        config["anthropic_version"] = model.auth_config["version"]
    return config


def _bedrock(model: ResolvedModel) -> dict[str, Any]:
    auth, secret = model.auth_config, model.secret_value
    region = auth.get("aws_region")
    if "aws_role_arn" in auth:
        aws = {
            "aws_role_arn": auth["aws_role_arn"],
            "session_length_seconds": auth.get("session_length_seconds", 15 * 60),
            "aws_region": region,
        }
    elif "aws_access_key_id" in secret:
        aws = {
            "aws_access_key_id": secret["aws_access_key_id"],
            "aws_secret_access_key": secret.get("aws_secret_access_key"),
            "aws_session_token": secret.get("aws_session_token"),
            "aws_region": region,
        }
    else:
        aws = {"aws_region": region}
    return {"aws_config": aws}


_SPECIFIC = {
    Provider.OPENAI.value: _openai,
    Provider.ANTHROPIC.value: _anthropic,
    Provider.BEDROCK.value: _bedrock,
    Provider.AMAZON_BEDROCK.value: _bedrock,
    Provider.MISTRAL.value: lambda m: {"mistral_api_key": _api_key(m)},
    Provider.GEMINI.value: lambda m: {"gemini_api_key": _api_key(m)},
}


def _generic(model: ResolvedModel) -> tuple[str, dict[str, Any]]:
    """(provider, config) for any other provider."""
    from mlflow.gateway.config import _PROVIDER_CONFIG_TYPES

    auth = model.auth_config
    cls = _PROVIDER_CONFIG_TYPES.get(Provider(model.provider))
    fields = set(getattr(cls, "model_fields", {}))
    prefix = model.provider.replace("-", "_")
    candidates = {
        f"{prefix}_api_key": model.secret_value.get("api_key"),
        f"{prefix}_api_token": model.secret_value.get("api_key"),
        f"{prefix}_api_base": auth.get("api_base"),
        "databricks_api_token": model.secret_value.get("api_key"),
        "databricks_api_base": auth.get("api_base"),
        "api_key": model.secret_value.get("api_key"),
        "api_base": auth.get("api_base"),
    }
    config = {k: v for k, v in candidates.items() if k in fields and v is not None}
    required = {
        name for name, info in getattr(cls, "model_fields", {}).items() if info.is_required()
    }
    if cls is not None and required <= set(config):
        return model.provider, config
    if auth.get("api_base"):
        # The generic OpenAI-compatible path.
        return Provider.OPENAI.value, {
            "openai_api_key": _api_key(model),
            "openai_api_base": auth["api_base"],
        }
    raise MlflowException(
        f"The provider '{model.provider}' needs {', '.join(sorted(required - set(config)))}; "
        "store them in the secret (api_key) or its auth_config (api_base)",
        error_code=INVALID_PARAMETER_VALUE,
    )


def endpoint_config(endpoint_name: str, endpoint_type: str, model: ResolvedModel) -> EndpointConfig:
    build = _SPECIFIC.get(model.provider)
    if build is not None:
        provider, config = model.provider, build(model)
    else:
        provider, config = _generic(model)
    return EndpointConfig.model_validate(
        {
            "name": endpoint_name,
            "endpoint_type": endpoint_type,
            "model": {"name": model.model_name, "provider": provider, "config": config},
        }
    )
