"""Configuration models of the MLflow AI Gateway, and loading them from YAML.

A gateway configuration file looks like::

    endpoints:
      - name: chat
        endpoint_type: llm/v1/chat
        model:
          provider: openai
          name: gpt-4o-mini
          config:
            openai_api_key: $OPENAI_API_KEY
        limit:
          calls: 10
          renewal_period: minute
    routes:                      # optional traffic splits over endpoints of one type
      - name: chat-split
        task_type: llm/v1/chat
        destinations:
          - {name: chat, traffic_percentage: 100}

Errors raised while loading are :class:`~mlflow.exceptions.MlflowException` with error code
``INVALID_PARAMETER_VALUE``.

Secrets: API keys and AWS credentials are plain ``str`` attributes (``config.openai_api_key``
and ``model_dump()`` give the real value, as MLflow's code expects) but are masked as
``'**********'`` in every ``repr()``/``str()``, and never echoed by validation errors. See
:mod:`mlflow.gateway.base_models`.

Rate limits: :class:`Limit` accepts any ``renewal_period`` string, as MLflow's does, because
clients parse limits reported by servers they do not control. A configuration is stricter:
:class:`EndpointConfig` checks ``calls >= 0`` and parses ``renewal_period`` with
:func:`async_core.periods.parse_period`, the parser the throttle uses too.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializeAsAny,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from async_core.periods import InvalidPeriodError, parse_period
from mlflow.exceptions import MlflowException
from mlflow.gateway.base_models import (
    SECRET,
    AliasedConfigModel,
    ConfigModel,
    LimitModel,
    MaskedStr,
    ResponseModel,
    _SecretAwareModel,
)
from mlflow.gateway.utils import (
    _resolve_api_key_from_input,
    check_configuration_deprecated_fields,
    check_duplicate_names,
    format_validation_error,
    is_valid_endpoint_name,
    quoted_text,
    resolve_api_key,
    validate_traffic_routes,
)

# MLflow's mlflow.gateway.constants values: an endpoint is served at /gateway/<name>/invocations.
_GATEWAY_ROUTE_BASE = "/gateway/"
_QUERY_SUFFIX = "/invocations"
# MosaicML chat endpoints need prompt translation that MLflow supports for these models only.
_MOSAICML_CHAT_SUPPORTED_MODEL_PREFIXES = ["llama2"]
_AI21LABS_MODELS = frozenset({"j2-ultra", "j2-mid", "j2-light"})

OptionalMaskedStr = Annotated[str | None, SECRET]
# A required API key: "$VAR" or a file path is resolved (when MLflow's switches allow it).
ApiKey = Annotated[str, SECRET, BeforeValidator(resolve_api_key)]


class Provider(str, Enum):
    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    COHERE = "cohere"
    AI21LABS = "ai21labs"
    MLFLOW_MODEL_SERVING = "mlflow-model-serving"
    MOSAICML = "mosaicml"
    HUGGINGFACE_TEXT_GENERATION_INFERENCE = "huggingface-text-generation-inference"
    PALM = "palm"
    GEMINI = "gemini"
    BEDROCK = "bedrock"
    AMAZON_BEDROCK = "amazon-bedrock"  # an alias for bedrock
    # Note: The following providers are only supported on Databricks
    DATABRICKS_MODEL_SERVING = "databricks-model-serving"
    DATABRICKS = "databricks"
    MISTRAL = "mistral"
    TOGETHERAI = "togetherai"
    LITELLM = "litellm"
    # OpenAI-compatible providers.
    GROQ = "groq"
    DEEPSEEK = "deepseek"
    XAI = "xai"
    OPENROUTER = "openrouter"
    OLLAMA = "ollama"

    @classmethod
    def values(cls) -> set[str]:
        return {p.value for p in cls}


class EndpointType(str, Enum):
    """The API an endpoint serves: completions, chat or embeddings."""

    LLM_V1_COMPLETIONS = "llm/v1/completions"
    LLM_V1_CHAT = "llm/v1/chat"
    LLM_V1_EMBEDDINGS = "llm/v1/embeddings"


# The legacy gateway's name of EndpointType.
RouteType = EndpointType


# ---------------------------------------------------------------------------------------------
# Provider configurations


class CohereConfig(ConfigModel):
    cohere_api_key: ApiKey



class AI21LabsConfig(ConfigModel):
    ai21labs_api_key: ApiKey



class MosaicMLConfig(ConfigModel):
    mosaicml_api_key: ApiKey
    mosaicml_api_base: str | None = None



class OpenAIAPIType(str, Enum):
    OPENAI = "openai"
    AZURE = "azure"
    AZUREAD = "azuread"

    @classmethod
    def _missing_(cls, value):
        """Case-insensitive matching of API type strings."""
        if isinstance(value, str):
            for api_type in cls:
                if api_type.value == value.lower():
                    return api_type
        raise MlflowException.invalid_parameter_value(
            f"Invalid OpenAI API type {quoted_text(value)}. Use one of: 'openai', 'azure', "
            "'azuread'."
        )


_OPENAI_DEFAULT_API_BASE = "https://api.openai.com/v1"


class OpenAIConfig(ConfigModel):
    """OpenAI or Azure OpenAI. With ``openai_api_type`` ``openai`` (the default) the base defaults
    to ``https://api.openai.com/v1`` and ``openai_deployment_name`` is not allowed; with
    ``azure``/``azuread``, ``openai_organization`` is not allowed and ``openai_api_base``,
    ``openai_deployment_name`` and ``openai_api_version`` are required."""

    openai_api_key: ApiKey
    openai_api_type: OpenAIAPIType = OpenAIAPIType.OPENAI
    openai_api_base: str | None = None
    openai_api_version: str | None = None
    openai_deployment_name: str | None = None
    openai_organization: str | None = None


    @model_validator(mode="before")
    @classmethod
    def validate_field_compatibility(cls, info: Any):
        if not isinstance(info, Mapping):
            return info
        info = dict(info)  # never modify the caller's mapping
        raw_type = info.get("openai_api_type") or OpenAIAPIType.OPENAI
        if not isinstance(raw_type, str):
            # Enum() would format the whole value into its own error first.
            OpenAIAPIType._missing_(raw_type)
        api_type = OpenAIAPIType(raw_type)
        info["openai_api_type"] = api_type
        if api_type is OpenAIAPIType.OPENAI:
            if info.get("openai_deployment_name") is not None:
                raise MlflowException.invalid_parameter_value(
                    "OpenAI route configuration can only specify a value for "
                    "'openai_deployment_name' if 'openai_api_type' is 'azure' or 'azuread'. "
                    "Found type: 'openai'"
                )
            if info.get("openai_api_base") is None:
                info["openai_api_base"] = _OPENAI_DEFAULT_API_BASE
        else:
            if info.get("openai_organization") is not None:
                raise MlflowException.invalid_parameter_value(
                    "OpenAI route configuration can only specify a value for "
                    "'openai_organization' if 'openai_api_type' is 'openai'"
                )
            required = ("openai_api_base", "openai_deployment_name", "openai_api_version")
            if missing := [key for key in required if info.get(key) is None]:
                raise MlflowException.invalid_parameter_value(
                    "OpenAI route configuration must specify 'openai_api_base', "
                    "'openai_deployment_name', and 'openai_api_version' if 'openai_api_type' is "
                    f"'azure' or 'azuread'. Missing: {', '.join(missing)}."
                )
        return info


class AnthropicConfig(ConfigModel):
    anthropic_api_key: ApiKey
    anthropic_version: str = "2023-06-01"



class PaLMConfig(ConfigModel):
    palm_api_key: ApiKey



class GeminiConfig(ConfigModel):
    gemini_api_key: ApiKey



class MlflowModelServingConfig(ConfigModel):
    model_server_url: str

    # A field name starting with "model_" is fine here: silence pydantic's namespace warning.
    model_config = ConfigDict(protected_namespaces=())


class HuggingFaceTextGenerationInferenceConfig(ConfigModel):
    hf_server_url: str


class AWSBaseConfig(_SecretAwareModel, hide_input_in_errors=True):
    """AWS credentials from the default chain (environment, profile, instance role)."""

    aws_region: str | None = None


class AWSRole(AWSBaseConfig):
    """Assume ``aws_role_arn`` for ``session_length_seconds`` (15 minutes by default)."""

    aws_role_arn: str
    session_length_seconds: int = 15 * 60


class AWSIdAndKey(AWSBaseConfig):
    """Static AWS credentials. Each may be given as ``$ENV_VAR`` or a file path, like API
    keys."""

    aws_access_key_id: MaskedStr
    aws_secret_access_key: MaskedStr
    aws_session_token: OptionalMaskedStr = None

    @field_validator("aws_access_key_id", "aws_secret_access_key", mode="before")
    @classmethod
    def validate_aws_credential(cls, value):
        return resolve_api_key(value)

    @field_validator("aws_session_token", mode="before")
    @classmethod
    def validate_aws_session_token(cls, value):
        return None if value is None else resolve_api_key(value)


_AWS_KEY_FIELDS = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")


class AmazonBedrockConfig(ConfigModel):
    """Amazon Bedrock. ``aws_config`` is an :class:`AWSRole` when it has ``aws_role_arn``, an
    :class:`AWSIdAndKey` when it has static keys, else an :class:`AWSBaseConfig`."""

    aws_config: AWSRole | AWSIdAndKey | AWSBaseConfig

    @field_validator("aws_config", mode="before")
    @classmethod
    def validate_aws_config(cls, value):
        # Pick the class by its keys: trying each in turn would let a broken role or key pair
        # fall back silently to AWSBaseConfig (which ignores unknown keys).
        if not isinstance(value, Mapping):
            return value
        if "aws_role_arn" in value:
            return AWSRole.model_validate(dict(value))
        if any(value.get(key) is not None for key in _AWS_KEY_FIELDS):
            return AWSIdAndKey.model_validate(dict(value))
        return AWSBaseConfig.model_validate(dict(value))


class MistralConfig(ConfigModel):
    mistral_api_key: ApiKey



class TogetherAIConfig(ConfigModel):
    togetherai_api_key: ApiKey



class DatabricksConfig(ConfigModel):
    """Databricks model serving (providers ``databricks`` and ``databricks-model-serving``)."""

    databricks_api_token: ApiKey
    databricks_api_base: str | None = None



class LiteLLMConfig(ConfigModel):
    litellm_provider: str | None = None
    litellm_api_key: OptionalMaskedStr = None
    litellm_api_base: str | None = None
    # Provider-specific credentials for LiteLLM; masked as a whole.
    litellm_auth_config: Annotated[dict[str, Any] | None, SECRET] = None

    @field_validator("litellm_api_key", mode="before")
    @classmethod
    def validate_litellm_api_key(cls, value):
        return None if value is None else resolve_api_key(value)

    @field_validator("litellm_auth_config", mode="before")
    @classmethod
    def validate_litellm_auth_config(cls, value):
        # "auth_mode" only selects a form in MLflow's UI; LiteLLM must not receive it.
        if isinstance(value, Mapping):
            return {k: v for k, v in value.items() if k != "auth_mode"}
        return value


class OpenAICompatibleConfig(ConfigModel):
    """A provider speaking OpenAI's API: a key and a base URL."""

    api_key: ApiKey
    api_base: str



class GroqConfig(OpenAICompatibleConfig):
    api_base: str = "https://api.groq.com/openai/v1"


class DeepSeekConfig(OpenAICompatibleConfig):
    api_base: str = "https://api.deepseek.com"


class XAIConfig(OpenAICompatibleConfig):
    api_base: str = "https://api.x.ai/v1"


class OpenRouterConfig(OpenAICompatibleConfig):
    api_base: str = "https://openrouter.ai/api/v1"


class OllamaConfig(OpenAICompatibleConfig):
    """A local Ollama server: it needs no real key."""

    api_key: MaskedStr = "ollama"
    api_base: str = "http://localhost:11434/v1"


_PROVIDER_CONFIG_TYPES: dict[Provider, type[ConfigModel]] = {
    Provider.OPENAI: OpenAIConfig,
    Provider.ANTHROPIC: AnthropicConfig,
    Provider.COHERE: CohereConfig,
    Provider.AI21LABS: AI21LabsConfig,
    Provider.MLFLOW_MODEL_SERVING: MlflowModelServingConfig,
    Provider.MOSAICML: MosaicMLConfig,
    Provider.HUGGINGFACE_TEXT_GENERATION_INFERENCE: HuggingFaceTextGenerationInferenceConfig,
    Provider.PALM: PaLMConfig,
    Provider.GEMINI: GeminiConfig,
    Provider.BEDROCK: AmazonBedrockConfig,
    Provider.AMAZON_BEDROCK: AmazonBedrockConfig,
    Provider.DATABRICKS_MODEL_SERVING: DatabricksConfig,
    Provider.DATABRICKS: DatabricksConfig,
    Provider.MISTRAL: MistralConfig,
    Provider.TOGETHERAI: TogetherAIConfig,
    Provider.LITELLM: LiteLLMConfig,
    Provider.GROQ: GroqConfig,
    Provider.DEEPSEEK: DeepSeekConfig,
    Provider.XAI: XAIConfig,
    Provider.OPENROUTER: OpenRouterConfig,
    Provider.OLLAMA: OllamaConfig,
}


def get_provider_config_type(provider: Provider | str) -> type[ConfigModel]:
    """The configuration class of ``provider`` (a :class:`Provider` or its value)."""
    return _PROVIDER_CONFIG_TYPES[Provider(provider)]


# ---------------------------------------------------------------------------------------------
# Models, limits, endpoints and routes


class ModelInfo(ResponseModel):
    name: str | None = None
    provider: Provider


class Model(ConfigModel):
    """The model behind an endpoint. ``provider`` is normalized (``-``/``_`` and case do not
    matter) to a :class:`Provider`; ``config`` is built as that provider's config class."""

    name: str | None = None
    provider: str | Provider
    config: SerializeAsAny[ConfigModel] | None = None

    @field_validator("provider", mode="before")
    @classmethod
    def validate_provider(cls, value):
        if isinstance(value, Provider):
            return value
        if isinstance(value, str):
            formatted_value = value.strip().replace("-", "_").upper()
            if formatted_value in Provider.__members__:
                return Provider[formatted_value]
        supported = ", ".join(sorted(Provider.values()))
        raise MlflowException.invalid_parameter_value(
            f"The provider {quoted_text(value)} is not supported. Supported providers: {supported}."
        )

    @field_validator("config", mode="before")
    @classmethod
    def validate_config(cls, value, info: ValidationInfo):
        provider = info.data.get("provider")
        if provider is None:
            raise MlflowException.invalid_parameter_value(
                "A provider must be provided for each gateway route."
            )
        if value is None:
            return None
        config_type = _PROVIDER_CONFIG_TYPES[provider]
        if isinstance(value, config_type):
            return value
        if isinstance(value, ConfigModel) or not isinstance(value, Mapping):
            # Type names only: the value may hold keys.
            raise MlflowException.invalid_parameter_value(
                f"The config of provider '{provider.value}' must be a mapping of "
                f"{config_type.__name__} fields, got {type(value).__name__}."
            )
        # A ValidationError raised here is merged into the caller's, under "config".
        return config_type.model_validate(dict(value))


class Limit(LimitModel):
    """A rate limit: ``calls`` per ``renewal_period`` (``"minute"``, ``"5 minutes"``, ...),
    optionally per ``key``. Any values are accepted here; configurations validate them."""

    calls: int
    key: str | None = None
    renewal_period: str


class LimitsConfig(ConfigModel):
    limits: list[Limit] | None = []


class EndpointModelInfo(ResponseModel):
    name: str | None = None
    # A str, not a Provider: backends may serve providers this client does not know.
    provider: str


# The legacy gateway's name of EndpointModelInfo.
RouteModelInfo = EndpointModelInfo


class Endpoint(ResponseModel):
    """An endpoint of an MLflow AI Gateway / deployments server: its ``name``, ``endpoint_type``
    (``"llm/v1/chat"``, ...), ``model`` (name and provider, never the provider config), the
    ``endpoint_url`` that serves invocations and its rate ``limit`` (or ``None``).

    MLflow defines it in ``mlflow.deployments.server.config``, which re-exports it from here (so
    that this module never imports that one). Clients build it from server JSON, so unknown
    fields are ignored. ``model_dump()`` / ``model_dump_json()`` give MLflow's shape::

        {"name": ..., "endpoint_type": ..., "model": {"name": ..., "provider": ...},
         "endpoint_url": ..., "limit": {"calls": ..., "key": ..., "renewal_period": ...} | None}
    """

    name: str
    endpoint_type: str
    model: EndpointModelInfo
    endpoint_url: str
    limit: Limit | None

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "name": "openai-completions",
                "endpoint_type": "llm/v1/completions",
                "model": {
                    "name": "gpt-4o-mini",
                    "provider": "openai",
                },
                "endpoint_url": "/endpoints/completions/invocations",
                "limit": {"calls": 1, "key": None, "renewal_period": "minute"},
            }
        }
    )


# Its public home (pickles and reprs name the module MLflow users know).
Endpoint.__module__ = "mlflow.deployments.server.config"


def _endpoint_url(name: str) -> str:
    return f"{_GATEWAY_ROUTE_BASE}{name}{_QUERY_SUFFIX}"


def _invalid_name(kind: str, name: Any) -> MlflowException:
    return MlflowException.invalid_parameter_value(
        f"The {kind} name provided contains disallowed characters for a url endpoint. "
        f"{quoted_text(name)} is invalid. Names cannot contain spaces or any non alphanumeric "
        "characters other than hyphen, underscore and dot."
    )


class EndpointConfig(AliasedConfigModel):
    """One endpoint of the gateway: ``name``, ``endpoint_type`` (``route_type`` in older files),
    ``model`` and an optional ``limit``."""

    name: str
    endpoint_type: EndpointType = Field(
        validation_alias=AliasChoices("endpoint_type", "route_type")
    )
    model: Model
    limit: Limit | None = None
    # Ours: seconds of upstream retry waiting per request (the server's default when None).
    retry_budget_seconds: float | None = None

    @field_validator("retry_budget_seconds")
    @classmethod
    def validate_retry_budget(cls, value: float | None) -> float | None:
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise MlflowException.invalid_parameter_value(
                f"retry_budget_seconds must be a finite number of seconds >= 0, got {value}."
            )
        return value

    @field_validator("name")
    @classmethod
    def validate_endpoint_name(cls, route_name: str) -> str:
        if not is_valid_endpoint_name(route_name):
            raise _invalid_name("route", route_name)
        return route_name

    @field_validator("endpoint_type", mode="before")
    @classmethod
    def validate_route_type(cls, value):
        if isinstance(value, EndpointType) or (
            isinstance(value, str) and value in EndpointType._value2member_map_
        ):
            return value
        supported = ", ".join(f"'{t.value}'" for t in EndpointType)
        raise MlflowException.invalid_parameter_value(
            f"The route_type {quoted_text(value)} is not supported. Use one of {supported} as the "
            "endpoint_type."
        )

    @field_validator("model")
    @classmethod
    def validate_model(cls, model: Model) -> Model:
        if model.provider in Provider.values() and model.config is None:
            raise MlflowException.invalid_parameter_value(
                "A config must be supplied when setting a provider. The provider entry for "
                f"{Provider(model.provider).value} is incorrect."
            )
        return model

    @field_validator("limit")
    @classmethod
    def validate_limit(cls, limit: Limit | None, info: ValidationInfo) -> Limit | None:
        if limit is None:
            return None
        where = f" of endpoint {quoted_text(info.data['name'])}" if "name" in info.data else ""
        if limit.calls < 0:
            raise MlflowException.invalid_parameter_value(
                f"Failed to parse the rate limit configuration{where}: limit.calls must be a "
                f"non-negative number of calls per renewal period, got {limit.calls}."
            )
        try:
            parse_period(limit.renewal_period)
        except InvalidPeriodError as e:
            raise MlflowException.invalid_parameter_value(
                f"Failed to parse the rate limit configuration{where}: {e}"
            ) from None
        return limit

    @model_validator(mode="after")
    def validate_route_type_and_model_name(self) -> EndpointConfig:
        model_name = self.model.name or ""
        if (
            self.model.provider == Provider.MOSAICML
            and self.endpoint_type == EndpointType.LLM_V1_CHAT
            and not model_name.lower().startswith(tuple(_MOSAICML_CHAT_SUPPORTED_MODEL_PREFIXES))
        ):
            raise MlflowException.invalid_parameter_value(
                "An invalid model has been specified for the chat route. "
                f"{quoted_text(self.model.name)}. "
                f"Ensure the model selected starts with one of: "
                f"{_MOSAICML_CHAT_SUPPORTED_MODEL_PREFIXES}"
            )
        if self.model.provider == Provider.AI21LABS and model_name not in _AI21LABS_MODELS:
            raise MlflowException.invalid_parameter_value(
                "An Unsupported AI21Labs model has been specified: "
                f"{quoted_text(self.model.name)}. "
                f"Please see documentation for supported models."
            )
        return self

    @property
    def route_type(self) -> EndpointType:
        """The legacy name of ``endpoint_type``."""
        return self.endpoint_type

    def _model_info(self) -> EndpointModelInfo:
        provider = self.model.provider
        return EndpointModelInfo(
            name=self.model.name,
            provider=provider.value if isinstance(provider, Provider) else provider,
        )

    def to_endpoint(self) -> Endpoint:
        """The public description of this endpoint, as ``GET /api/2.0/endpoints/`` returns it:
        never the provider config."""
        return Endpoint(
            name=self.name,
            endpoint_type=self.endpoint_type.value,
            model=self._model_info(),
            endpoint_url=_endpoint_url(self.name),
            limit=self.limit,
        )

    def _to_legacy_route(self) -> Route:
        return Route(
            name=self.name,
            route_type=self.endpoint_type.value,
            model=self._model_info(),
            route_url=_endpoint_url(self.name),
            limit=self.limit,
        )

    # The legacy gateway's name.
    to_route = _to_legacy_route


# The legacy gateway's name of EndpointConfig.
RouteConfig = EndpointConfig


class RouteDestinationConfig(ConfigModel):
    name: str
    traffic_percentage: int


class TrafficRouteConfig(ConfigModel):
    """A traffic split: requests to ``name`` go to ``destinations`` (endpoints of type
    ``task_type``) in proportion to their ``traffic_percentage`` (summing to 100)."""

    name: str
    task_type: EndpointType
    destinations: list[RouteDestinationConfig]
    routing_strategy: Literal["TRAFFIC_SPLIT"] = "TRAFFIC_SPLIT"
    # Ours: endpoints tried in order when the chosen destination fails before its first byte.
    fallbacks: list[str] | None = None

    @field_validator("name")
    @classmethod
    def validate_route_name(cls, name: str) -> str:
        if not is_valid_endpoint_name(name):
            raise _invalid_name("route", name)
        return name


_ROUTE_EXTRA_SCHEMA = {
    "example": {
        "name": "openai-completions",
        "route_type": "llm/v1/completions",
        "model": {
            "name": "gpt-4o-mini",
            "provider": "openai",
        },
        "route_url": "/gateway/routes/completions/invocations",
    }
}


class Route(ConfigModel):
    """A route as the legacy gateway API (``mlflow.gateway``) reports it."""

    name: str
    route_type: str
    model: EndpointModelInfo
    route_url: str
    limit: Limit | None = None

    model_config = ConfigDict(json_schema_extra=_ROUTE_EXTRA_SCHEMA)

    def to_endpoint(self) -> Endpoint:
        return Endpoint(
            name=self.name,
            endpoint_type=self.route_type,
            model=self.model,
            endpoint_url=self.route_url,
            limit=self.limit,
        )


# MLflow's current name of Route.
_LegacyRoute = Route


def _entry_name(entry: Any) -> Any:
    return entry.get("name") if isinstance(entry, Mapping) else getattr(entry, "name", None)


def _looks_like_endpoint(entry: Any) -> bool:
    return isinstance(entry, Mapping) and "destinations" not in entry and "model" in entry


class GatewayConfig(AliasedConfigModel):
    """A whole gateway: ``endpoints`` and optional traffic ``routes`` over them. Names are
    unique across both lists."""

    endpoints: list[EndpointConfig]
    routes: list[TrafficRouteConfig] | None = None

    @model_validator(mode="before")
    @classmethod
    def _accept_legacy_layout_and_check_names(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        routes = data.get("routes")
        if (
            "endpoints" not in data
            and isinstance(routes, list)
            and routes
            and all(_looks_like_endpoint(r) for r in routes)
        ):
            # Files written for MLflow < 2.9 list their endpoints under "routes".
            warnings.warn(
                "The 'routes' configuration key for endpoint definitions has been deprecated "
                "and will be removed in an upcoming release. Use 'endpoints' instead.",
                FutureWarning,
                stacklevel=2,
            )
            data = {**data, "endpoints": routes, "routes": None}
        check_configuration_deprecated_fields(data)
        endpoints, routes = data.get("endpoints") or [], data.get("routes") or []
        if isinstance(endpoints, list) and isinstance(routes, list):
            # Before field validation, so a duplicate is reported even beside other errors.
            check_duplicate_names(_entry_name(entry) for entry in [*endpoints, *routes])
        return data

    @model_validator(mode="after")
    def _check_traffic_routes(self) -> GatewayConfig:
        validate_traffic_routes(
            {endpoint.name: endpoint.endpoint_type.value for endpoint in self.endpoints},
            [
                (
                    route.name,
                    route.task_type.value,
                    [(d.name, d.traffic_percentage) for d in route.destinations],
                )
                for route in self.routes or []
            ],
        )
        return self


# ---------------------------------------------------------------------------------------------
# YAML files


def _yaml_problem(error: yaml.YAMLError) -> str:
    # Position and problem only: the YAML snippet in str(error) may show a key.
    problem = getattr(error, "problem", None)
    mark = getattr(error, "problem_mark", None)
    details = []
    if problem:
        details.append(str(problem))
    if mark is not None:
        details.append(f"line {mark.line + 1}, column {mark.column + 1}")
    return f" ({', '.join(details)})" if details else ""


def _read_gateway_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MlflowException.invalid_parameter_value(
            f"The gateway configuration file {path} does not exist."
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) else "it is not UTF-8 text"
        raise MlflowException.invalid_parameter_value(
            f"The file at {path} could not be read: {reason}."
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise MlflowException.invalid_parameter_value(
            f"The file at {path} is not a valid yaml file{_yaml_problem(e)}"
        ) from None


def _load_gateway_config(path: str | Path) -> GatewayConfig:
    """Read and validate the gateway configuration YAML file at ``path``.

    Raises :class:`MlflowException` (``INVALID_PARAMETER_VALUE``) for a missing, unreadable or
    invalid file; the pydantic problems of an invalid configuration are listed in one message.
    """
    path = Path(path)
    configuration = _read_gateway_yaml(path)
    if not isinstance(configuration, Mapping):
        raise MlflowException.invalid_parameter_value(
            f"The gateway configuration in {path} must be a mapping with an 'endpoints' list, "
            f"got {'an empty file' if configuration is None else type(configuration).__name__}."
        )
    try:
        return GatewayConfig.model_validate(configuration)
    except ValidationError as e:
        raise MlflowException.invalid_parameter_value(
            f"The gateway configuration is invalid: {format_validation_error(e, configuration)}"
        ) from e


# Older MLflow name.
_load_route_config = _load_gateway_config


def _with_secret_references(model: Any, dumped: Any) -> Any:
    """Put back, in ``model.model_dump(mode="json")`` output, the ``$VAR``/path references that
    secrets were resolved from."""
    if isinstance(model, list):
        return [_with_secret_references(m, d) for m, d in zip(model, dumped, strict=True)]
    if not isinstance(model, BaseModel):
        return dumped
    for name in type(model).model_fields:
        if name in dumped:
            dumped[name] = _with_secret_references(getattr(model, name), dumped[name])
    if isinstance(model, _SecretAwareModel):
        for name in type(model)._secret_fields:
            if (reference := model._secret_reference(name)) is not None and name in dumped:
                dumped[name] = reference
    return dumped


def _save_route_config(config: GatewayConfig, path: str | Path) -> None:
    """Write ``config`` as YAML. A secret that was resolved from ``$VAR`` or a file is written
    as that reference, not as its value; a secret given literally is written literally."""
    dumped = _with_secret_references(config, config.model_dump(mode="json"))
    Path(path).write_text(yaml.safe_dump(dumped, sort_keys=False), encoding="utf-8")


def _validate_config(config_path: str | Path) -> GatewayConfig:
    """Load and validate the configuration at ``config_path``; every problem, including a
    missing file, is an :class:`MlflowException`."""
    if not os.path.exists(config_path):
        raise MlflowException.invalid_parameter_value(
            f"{config_path} does not exist. Provide the path to a gateway configuration YAML file."
        )
    try:
        return _load_gateway_config(config_path)
    except MlflowException as e:
        raise MlflowException.invalid_parameter_value(
            f"Invalid gateway configuration: {e.message}"
        ) from e


__all__ = [
    "AI21LabsConfig",
    "AWSBaseConfig",
    "AWSIdAndKey",
    "AWSRole",
    "AliasedConfigModel",
    "AmazonBedrockConfig",
    "AnthropicConfig",
    "CohereConfig",
    "DatabricksConfig",
    "DeepSeekConfig",
    "Endpoint",
    "EndpointConfig",
    "EndpointModelInfo",
    "EndpointType",
    "GatewayConfig",
    "GeminiConfig",
    "GroqConfig",
    "HuggingFaceTextGenerationInferenceConfig",
    "Limit",
    "LimitsConfig",
    "LiteLLMConfig",
    "MistralConfig",
    "MlflowModelServingConfig",
    "Model",
    "ModelInfo",
    "MosaicMLConfig",
    "OllamaConfig",
    "OpenAIAPIType",
    "OpenAICompatibleConfig",
    "OpenAIConfig",
    "OpenRouterConfig",
    "PaLMConfig",
    "Provider",
    "Route",
    "RouteConfig",
    "RouteDestinationConfig",
    "RouteModelInfo",
    "RouteType",
    "TogetherAIConfig",
    "TrafficRouteConfig",
    "XAIConfig",
    "get_provider_config_type",
    "_resolve_api_key_from_input",
]
