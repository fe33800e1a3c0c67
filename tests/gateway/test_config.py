"""The gateway configuration: one case per validation rule, each asserting its message."""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from mlflow.exceptions import INVALID_PARAMETER_VALUE, MlflowException
from mlflow.gateway.base_models import (
    MASK,
    AliasedConfigModel,
    ConfigModel,
    LimitModel,
    RequestModel,
    ResponseModel,
)
from mlflow.gateway.config import (
    AI21LabsConfig,
    AmazonBedrockConfig,
    AnthropicConfig,
    AWSBaseConfig,
    AWSIdAndKey,
    AWSRole,
    CohereConfig,
    DatabricksConfig,
    DeepSeekConfig,
    EndpointConfig,
    EndpointType,
    GatewayConfig,
    GeminiConfig,
    GroqConfig,
    HuggingFaceTextGenerationInferenceConfig,
    Limit,
    LimitsConfig,
    LiteLLMConfig,
    MistralConfig,
    MlflowModelServingConfig,
    Model,
    MosaicMLConfig,
    OllamaConfig,
    OpenAIAPIType,
    OpenAIConfig,
    OpenRouterConfig,
    PaLMConfig,
    Provider,
    Route,
    TogetherAIConfig,
    XAIConfig,
    _load_gateway_config,
    _resolve_api_key_from_input,
    _save_route_config,
    _validate_config,
    get_provider_config_type,
)
from mlflow.gateway.utils import (
    check_configuration_route_name_collisions,
    format_validation_error,
    is_valid_endpoint_name,
)

from .helpers import SECRET, endpoint, openai_model, route, write_config


def _assert_no_secret(error: BaseException) -> None:
    """Neither the error nor anything chained to it shows the test credential."""
    seen = error
    while seen is not None:
        assert SECRET not in str(seen)
        seen = seen.__cause__ or seen.__context__


# ---------------------------------------------------------------------------------------------
# Invalid configurations: one case per rule.

INVALID = [
    pytest.param(
        "endpoints:\n  - name: chat\n   endpoint_type: llm/v1/chat\n",
        r"^The file at .*config\.yaml is not a valid yaml file \(.*line 3, column 4\)",
        id="invalid-yaml",
    ),
    pytest.param(
        f"endpoints:\n  - name: chat\n   openai_api_key: {SECRET}: [\n",
        r"is not a valid yaml file",
        id="invalid-yaml-with-key-not-echoed",
    ),
    pytest.param("", r"must be a mapping with an 'endpoints' list, got an empty file", id="empty"),
    pytest.param([endpoint()], r"must be a mapping .* got list", id="top-level-list"),
    pytest.param(
        {"endpoints": 5},
        r"invalid: 1 validation error:\n  endpoints: Input should be a valid list \(got 5\)$",
        id="endpoints-not-a-list",
    ),
    pytest.param(
        {"version": 1},
        r"invalid: 1 validation error:\n  endpoints: Field required",
        id="no-endpoints",
    ),
    pytest.param(
        {"endpoints": [endpoint(model={**openai_model(), "provider": "my_provider"})]},
        r"^The provider 'my_provider' is not supported\. Supported providers: .*openai",
        id="unknown-provider",
    ),
    pytest.param(
        {"endpoints": [endpoint(endpoint_type="invalid/route")]},
        r"^The route_type 'invalid/route' is not supported\. Use one of 'llm/v1/completions'",
        id="unknown-endpoint-type",
    ),
    pytest.param(
        {"endpoints": [endpoint(name="Space Name")]},
        r"^The route name provided contains disallowed characters .* 'Space Name' is invalid",
        id="name-with-space",
    ),
    pytest.param(
        {"endpoints": [endpoint(name="名前")]},
        r"disallowed characters .* '名前' is invalid",
        id="name-not-ascii",
    ),
    pytest.param(
        {"endpoints": [endpoint(model={"name": "claude", "provider": "anthropic"})]},
        r"^A config must be supplied when setting a provider\. The provider entry for anthropic",
        id="provider-without-config",
    ),
    pytest.param(
        {
            "endpoints": [
                endpoint(model={"provider": "openai", "config": {"openai_api_type": "openai"}})
            ]
        },
        r"(?s)^The gateway configuration is invalid: 1 validation error:\n"
        r"  endpoints\[0\] \(name='chat'\)\.model\.config\.openai_api_key: Field required$",
        id="missing-api-key",
    ),
    pytest.param(
        {"endpoints": [endpoint(model=openai_model(openai_api_key=[42]))]},
        r"^The api key provided is not a string",
        id="api-key-not-a-string",
    ),
    pytest.param(
        {"endpoints": [endpoint(model=openai_model(openai_api_key="$MLFLOW_AIO_UNSET_KEY"))]},
        r"^Environment variable 'MLFLOW_AIO_UNSET_KEY' is not set",
        id="unset-env-var",
    ),
    pytest.param(
        {"endpoints": [endpoint(model={"provider": "openai", "config": "sk-inline"})]},
        r"^The config of provider 'openai' must be a mapping of OpenAIConfig fields, got str\.",
        id="config-not-a-mapping",
    ),
    pytest.param(
        {"endpoints": [endpoint(model=openai_model(openai_deployment_name="dep"))]},
        r"^OpenAI route configuration can only specify a value for 'openai_deployment_name' if "
        r"'openai_api_type' is 'azure' or 'azuread'\. Found type: 'openai'",
        id="openai-with-deployment-name",
    ),
    pytest.param(
        {"endpoints": [endpoint(model=openai_model(openai_api_type="azure", openai_api_base="b"))]},
        r"must specify 'openai_api_base', 'openai_deployment_name', and 'openai_api_version' if "
        r"'openai_api_type' is 'azure' or 'azuread'\. Missing: openai_deployment_name, "
        r"openai_api_version\.",
        id="azure-missing-fields",
    ),
    pytest.param(
        {
            "endpoints": [
                endpoint(
                    model=openai_model(
                        openai_api_type="AzureAD",
                        openai_api_base="https://x.openai.azure.com",
                        openai_deployment_name="d",
                        openai_api_version="2024-02-01",
                        openai_organization="org",
                    )
                )
            ]
        },
        r"^OpenAI route configuration can only specify a value for 'openai_organization' if "
        r"'openai_api_type' is 'openai'",
        id="azure-with-organization",
    ),
    pytest.param(
        {"endpoints": [endpoint(model=openai_model(openai_api_type="gcp"))]},
        r"^Invalid OpenAI API type 'gcp'\. Use one of: 'openai', 'azure', 'azuread'\.",
        id="unknown-openai-api-type",
    ),
    pytest.param(
        {"endpoints": [endpoint(limit={"calls": 1, "renewal_period": "fortnight"})]},
        r"^Failed to parse the rate limit configuration of endpoint 'chat': Invalid renewal "
        r"period 'fortnight': use 'second', 'minute', 'hour' or 'day', optionally with a count "
        r"such as '5 minutes'\.",
        id="limit-unknown-period",
    ),
    pytest.param(
        {"endpoints": [endpoint(limit={"calls": 5, "renewal_period": "0 minutes"})]},
        r"Invalid renewal period '0 minutes': the count must be at least 1\.",
        id="limit-zero-count-period",
    ),
    pytest.param(
        {"endpoints": [endpoint(limit={"calls": 1, "renewal_period": "9" * 400 + " days"})]},
        r"of endpoint 'chat': Invalid renewal period '9+ days'",
        id="limit-period-too-long",
    ),
    pytest.param(
        {"endpoints": [endpoint(limit={"calls": -1, "renewal_period": "minute"})]},
        r"of endpoint 'chat': limit\.calls must be a non-negative number of calls per renewal "
        r"period, got -1\.",
        id="limit-negative-calls",
    ),
    pytest.param(
        {"endpoints": [endpoint(limit={"calls": "many", "renewal_period": "minute"})]},
        r"endpoints\[0\] \(name='chat'\)\.limit\.calls: Input should be a valid integer, unable "
        r"to parse string as an integer \(got 'many'\)",
        id="limit-calls-not-a-number",
    ),
    pytest.param(
        {"endpoints": [endpoint(limit={"renewal_period": "minute"})]},
        r"\.limit\.calls: Field required",
        id="limit-without-calls",
    ),
    pytest.param(
        {"endpoints": [endpoint("chat"), endpoint("chat", endpoint_type="bad/type")]},
        r"^Duplicate names found in endpoint / route configurations\. .* Duplicated: 'chat'\.",
        id="duplicate-endpoint-names",
    ),
    pytest.param(
        {
            "endpoints": [endpoint("chat")],
            "routes": [route("chat", "llm/v1/chat", ("chat", 100))],
        },
        r"^Duplicate names found in endpoint / route configurations",
        id="route-named-like-endpoint",
    ),
    pytest.param(
        {"endpoints": [endpoint("a")], "routes": [route("r", "llm/v1/chat", ("zz", 100))]},
        r"^The route destination name must be a endpoint name, but the route 'r' has an invalid "
        r"destination name 'zz'\.",
        id="route-to-unknown-endpoint",
    ),
    pytest.param(
        {"endpoints": [endpoint("a")], "routes": [route("r", "llm/v1/completions", ("a", 100))]},
        r"^The route destination endpoint types in the route 'r' must have endpoint type "
        r"'llm/v1/completions' but got endpoint type 'llm/v1/chat'\.",
        id="route-type-mismatch",
    ),
    pytest.param(
        {
            "endpoints": [endpoint("a"), endpoint("b")],
            "routes": [route("r", "llm/v1/chat", ("a", 150), ("b", -50))],
        },
        r"^The route destination traffic percentage must between 0 and 100: the route 'r' gives "
        r"destination 'a' 150\.",
        id="route-percentage-out-of-range",
    ),
    pytest.param(
        {
            "endpoints": [endpoint("a"), endpoint("b")],
            "routes": [route("r", "llm/v1/chat", ("a", 50), ("b", 40))],
        },
        r"^For each route configuration, the traffic percentage sum of destinations must be 100, "
        r"but got invalid configuration of route 'r' \(the percentages sum to 90\)\.",
        id="route-percentages-not-100",
    ),
    pytest.param(
        {"endpoints": [endpoint("a")], "routes": [route("r", "llm/v1/chat")]},
        r"route 'r' \(the percentages sum to 0\)",
        id="route-without-destinations",
    ),
    pytest.param(
        {"endpoints": [endpoint("a")], "routes": [route("bad route", "llm/v1/chat", ("a", 100))]},
        r"^The route name provided contains disallowed characters .* 'bad route' is invalid",
        id="route-name",
    ),
    pytest.param(
        {
            "endpoints": [
                endpoint(
                    model={
                        "name": "mpt-7b",
                        "provider": "mosaicml",
                        "config": {"mosaicml_api_key": SECRET},
                    }
                )
            ]
        },
        r"^An invalid model has been specified for the chat route\. 'mpt-7b'\. Ensure the model "
        r"selected starts with one of: \['llama2'\]",
        id="mosaicml-chat-model",
    ),
    pytest.param(
        {
            "endpoints": [
                endpoint(
                    endpoint_type="llm/v1/completions",
                    model={
                        "name": "j1",
                        "provider": "ai21labs",
                        "config": {"ai21labs_api_key": SECRET},
                    },
                )
            ]
        },
        r"^An Unsupported AI21Labs model has been specified: 'j1'\.",
        id="ai21labs-model",
    ),
    pytest.param(
        {
            "endpoints": [
                endpoint(
                    model={
                        "name": "titan",
                        "provider": "bedrock",
                        "config": {"aws_config": {"aws_secret_access_key": SECRET}},
                    }
                )
            ]
        },
        r"\.model\.config\.aws_config\.aws_access_key_id: Field required$",
        id="bedrock-half-key-pair",
    ),
    pytest.param(
        {
            "endpoints": [
                endpoint(
                    model={
                        "name": "titan",
                        "provider": "bedrock",
                        "config": {"aws_config": {"aws_role_arn": 42, "aws_region": "us-east-1"}},
                    }
                )
            ]
        },
        r"\.model\.config\.aws_config\.aws_role_arn: Input should be a valid string \(got 42\)",
        id="bedrock-role-arn-not-a-string",
    ),
    pytest.param(
        {
            "endpoints": [
                endpoint(
                    model={
                        "name": "x",
                        "provider": "litellm",
                        "config": {"litellm_auth_config": SECRET},
                    }
                )
            ]
        },
        r"\.model\.config\.litellm_auth_config: Input should be a valid dictionary$",
        id="litellm-auth-config-not-echoed",
    ),
]


@pytest.mark.parametrize(("config", "message"), INVALID)
def test_invalid_configuration_file_is_rejected_with_a_readable_message(tmp_path, config, message):
    path = write_config(tmp_path, config)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        with pytest.raises(MlflowException, match=message) as info:
            _load_gateway_config(path)
    assert info.value.error_code == INVALID_PARAMETER_VALUE
    _assert_no_secret(info.value)
    # Nothing of the file's content leaks through a repr of the error either.
    assert SECRET not in repr(info.value)


@pytest.mark.parametrize(
    ("config", "message"), [p for p in INVALID if isinstance(p.values[0], dict)]
)
def test_invalid_configuration_mapping_is_rejected_by_the_model(config, message):
    # Built directly, the model raises the same rule's error (pydantic's own, or MlflowException).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        with pytest.raises((MlflowException, ValidationError)) as info:
            GatewayConfig.model_validate(config)
    if isinstance(info.value, MlflowException):
        assert re.search(message, info.value.message)
    _assert_no_secret(info.value)


def test_all_problems_of_a_configuration_are_reported_in_one_exception(tmp_path):
    config = {
        "endpoints": [
            endpoint("a", limit={"calls": "x", "renewal_period": "minute"}),
            endpoint(
                "b", model={"provider": "openai", "name": 7, "config": {"openai_api_key": SECRET}}
            ),
        ]
    }
    with pytest.raises(MlflowException) as info:
        _load_gateway_config(write_config(tmp_path, config))
    assert info.value.message == (
        "The gateway configuration is invalid: 2 validation errors:\n"
        "  endpoints[0] (name='a').limit.calls: Input should be a valid integer, unable to parse "
        "string as an integer (got 'x')\n"
        "  endpoints[1] (name='b').model.name: Input should be a valid string (got 7)"
    )


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(
        MlflowException, match=r"^The gateway configuration file .*nope\.yaml does not exist\.$"
    ):
        _load_gateway_config(missing)
    with pytest.raises(
        MlflowException, match=r"nope\.yaml does not exist\. Provide the path"
    ) as info:
        _validate_config(str(missing))
    assert info.value.error_code == INVALID_PARAMETER_VALUE


def test_validate_config_prefixes_the_loading_error(tmp_path):
    path = write_config(tmp_path, {"endpoints": [endpoint(endpoint_type="llm/v2/x")]})
    with pytest.raises(
        MlflowException, match=r"^Invalid gateway configuration: The route_type 'llm/v2/x'"
    ):
        _validate_config(path)


def test_validate_config_returns_the_loaded_configuration(tmp_path):
    config = _validate_config(str(write_config(tmp_path, {"endpoints": [endpoint()]})))
    assert [e.name for e in config.endpoints] == ["chat"]


# ---------------------------------------------------------------------------------------------
# Valid configurations


def _load(tmp_path, config) -> GatewayConfig:
    return _load_gateway_config(write_config(tmp_path, config))


def test_openai_defaults(tmp_path):
    loaded = _load(tmp_path, {"endpoints": [endpoint()]})
    (chat,) = loaded.endpoints
    assert chat.endpoint_type == EndpointType.LLM_V1_CHAT == "llm/v1/chat"
    assert chat.model.provider == Provider.OPENAI == "openai"
    config = chat.model.config
    assert isinstance(config, OpenAIConfig)
    assert config.openai_api_key == SECRET
    assert config.openai_api_type is OpenAIAPIType.OPENAI
    assert config.openai_api_base == "https://api.openai.com/v1"
    assert config.openai_api_version is None
    assert config.openai_organization is None
    assert chat.limit is None
    assert loaded.routes is None


@pytest.mark.parametrize("api_type", ["azure", "AZURE", "AzureAD", "azuread"])
def test_azure_openai_type_matches_case_insensitively(api_type):
    config = OpenAIConfig(
        openai_api_key=SECRET,
        openai_api_type=api_type,
        openai_api_base="https://my.openai.azure.com",
        openai_deployment_name="gpt4",
        openai_api_version="2024-02-01",
    )
    assert config.openai_api_type.value == api_type.lower()
    assert config.openai_api_base == "https://my.openai.azure.com"


def test_openai_config_keeps_an_explicit_base_and_leaves_the_input_untouched():
    given = {"openai_api_key": SECRET, "openai_api_base": "http://127.0.0.1:9/v1"}
    assert OpenAIConfig(**given).openai_api_base == "http://127.0.0.1:9/v1"
    bare = {"openai_api_key": SECRET}
    OpenAIConfig.model_validate(bare)
    assert bare == {"openai_api_key": SECRET}


def test_anthropic_version_default():
    assert AnthropicConfig(anthropic_api_key=SECRET).anthropic_version == "2023-06-01"


@pytest.mark.parametrize(
    ("aws_config", "expected_type", "checks"),
    [
        ({"aws_role_arn": "arn:aws:iam::1:role/r"}, AWSRole, {"session_length_seconds": 900}),
        (
            {
                "aws_access_key_id": "AKIA1",
                "aws_secret_access_key": SECRET,
                "aws_region": "eu-west-1",
            },
            AWSIdAndKey,
            {"aws_secret_access_key": SECRET, "aws_session_token": None, "aws_region": "eu-west-1"},
        ),
        ({"aws_region": "us-east-1"}, AWSBaseConfig, {"aws_region": "us-east-1"}),
        ({}, AWSBaseConfig, {"aws_region": None}),
    ],
)
def test_bedrock_aws_config_forms(aws_config, expected_type, checks):
    config = AmazonBedrockConfig(aws_config=aws_config)
    assert type(config.aws_config) is expected_type
    for name, value in checks.items():
        assert getattr(config.aws_config, name) == value


def test_aws_credentials_resolve_like_api_keys(monkeypatch):
    monkeypatch.setenv("MLFLOW_AIO_TEST_AWS_SECRET", SECRET)
    config = AWSIdAndKey(
        aws_access_key_id="AKIA1", aws_secret_access_key="$MLFLOW_AIO_TEST_AWS_SECRET"
    )
    assert config.aws_secret_access_key == SECRET


PROVIDER_CONFIGS = [
    ("openai", {"openai_api_key": SECRET}, OpenAIConfig),
    ("anthropic", {"anthropic_api_key": SECRET}, AnthropicConfig),
    ("cohere", {"cohere_api_key": SECRET}, CohereConfig),
    ("ai21labs", {"ai21labs_api_key": SECRET}, AI21LabsConfig),
    (
        "mlflow-model-serving",
        {"model_server_url": "http://127.0.0.1:5001"},
        MlflowModelServingConfig,
    ),
    ("mosaicml", {"mosaicml_api_key": SECRET}, MosaicMLConfig),
    (
        "huggingface-text-generation-inference",
        {"hf_server_url": "http://127.0.0.1:8080"},
        HuggingFaceTextGenerationInferenceConfig,
    ),
    ("palm", {"palm_api_key": SECRET}, PaLMConfig),
    ("gemini", {"gemini_api_key": SECRET}, GeminiConfig),
    ("bedrock", {"aws_config": {"aws_region": "us-east-1"}}, AmazonBedrockConfig),
    ("amazon-bedrock", {"aws_config": {"aws_region": "us-east-1"}}, AmazonBedrockConfig),
    ("databricks-model-serving", {"databricks_api_token": SECRET}, DatabricksConfig),
    ("databricks", {"databricks_api_token": SECRET}, DatabricksConfig),
    ("mistral", {"mistral_api_key": SECRET}, MistralConfig),
    ("togetherai", {"togetherai_api_key": SECRET}, TogetherAIConfig),
    ("litellm", {"litellm_provider": "bedrock", "litellm_api_key": SECRET}, LiteLLMConfig),
    ("groq", {"api_key": SECRET}, GroqConfig),
    ("deepseek", {"api_key": SECRET}, DeepSeekConfig),
    ("xai", {"api_key": SECRET}, XAIConfig),
    ("openrouter", {"api_key": SECRET}, OpenRouterConfig),
    ("ollama", {}, OllamaConfig),
]


def test_every_provider_has_a_config_class():
    assert {p for p, _, _ in PROVIDER_CONFIGS} == Provider.values()


@pytest.mark.parametrize(("provider", "config", "config_type"), PROVIDER_CONFIGS)
def test_provider_config_is_built_as_its_class(tmp_path, provider, config, config_type):
    model_name = {"ai21labs": "j2-ultra", "mosaicml": "llama2-70b-chat"}.get(provider, "m")
    loaded = _load(
        tmp_path,
        {
            "endpoints": [
                endpoint(model={"name": model_name, "provider": provider, "config": config})
            ]
        },
    )
    built = loaded.endpoints[0].model.config
    assert type(built) is config_type
    assert get_provider_config_type(provider) is config_type
    assert SECRET not in repr(loaded)


def test_openai_compatible_defaults():
    assert GroqConfig(api_key=SECRET).api_base == "https://api.groq.com/openai/v1"
    assert DeepSeekConfig(api_key=SECRET).api_base == "https://api.deepseek.com"
    assert XAIConfig(api_key=SECRET).api_base == "https://api.x.ai/v1"
    assert OpenRouterConfig(api_key=SECRET).api_base == "https://openrouter.ai/api/v1"
    ollama = OllamaConfig()
    assert (ollama.api_key, ollama.api_base) == ("ollama", "http://localhost:11434/v1")
    with pytest.raises(ValidationError, match="api_key"):
        GroqConfig()


def test_litellm_auth_config_drops_auth_mode():
    config = LiteLLMConfig(
        litellm_provider="bedrock",
        litellm_auth_config={"auth_mode": "access_keys", "aws_region_name": "us-west-2"},
    )
    assert config.litellm_auth_config == {"aws_region_name": "us-west-2"}
    assert config.litellm_api_key is None


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("OpenAI", Provider.OPENAI),
        ("amazon_bedrock", Provider.AMAZON_BEDROCK),
        ("Amazon-Bedrock", Provider.AMAZON_BEDROCK),
        ("HUGGINGFACE_TEXT_GENERATION_INFERENCE", Provider.HUGGINGFACE_TEXT_GENERATION_INFERENCE),
        ("mlflow_model_serving", Provider.MLFLOW_MODEL_SERVING),
        (Provider.XAI, Provider.XAI),
    ],
)
def test_provider_names_are_normalized(given, expected):
    model = Model(provider=given, config={"api_key": SECRET} if expected == Provider.XAI else None)
    assert model.provider is expected


def test_provider_values():
    assert Provider.values() == {
        "openai", "anthropic", "cohere", "ai21labs", "mlflow-model-serving", "mosaicml",
        "huggingface-text-generation-inference", "palm", "gemini", "bedrock", "amazon-bedrock",
        "databricks-model-serving", "databricks", "mistral", "togetherai", "litellm",
        "groq", "deepseek", "xai", "openrouter", "ollama",
    }  # fmt: skip


def test_config_of_another_provider_class_is_rejected():
    with pytest.raises(
        MlflowException, match="must be a mapping of OpenAIConfig fields, got AnthropicConfig"
    ):
        Model(provider="openai", config=AnthropicConfig(anthropic_api_key=SECRET))


def test_model_without_provider_is_rejected():
    with pytest.raises(MlflowException, match="A provider must be provided for each gateway route"):
        Model(name="m", config={"openai_api_key": SECRET})


@pytest.mark.parametrize(
    "period", ["second", "minute", "hour", "day", "5 minutes", "1 Hour", "10seconds", " 2 days "]
)
def test_limit_periods_accepted_by_the_config(period):
    config = EndpointConfig(**endpoint(limit={"calls": 0, "key": "user", "renewal_period": period}))
    assert config.limit == Limit(calls=0, key="user", renewal_period=period)


def test_limit_itself_accepts_what_a_server_reports():
    # Clients parse limits of servers they do not control; only configurations are strict.
    assert Limit(calls=-1, renewal_period="fortnight").renewal_period == "fortnight"
    assert Limit(calls=1, renewal_period="minute", extra="ignored").model_dump() == {
        "calls": 1,
        "key": None,
        "renewal_period": "minute",
    }
    assert LimitsConfig().limits == []
    assert LimitsConfig(limits=[{"calls": 2, "renewal_period": "minute"}]).limits[0].calls == 2


@pytest.mark.parametrize("name", ["chat", "chat-v2", "chat_v2", "chat.v2", "A1"])
def test_endpoint_names_accepted(name):
    assert EndpointConfig(**endpoint(name)).name == name


@pytest.mark.parametrize("name", ["", "bang!name", "query?name", "redirect#name", "a/b", "naïve"])
def test_endpoint_names_rejected(name):
    assert not is_valid_endpoint_name(name)
    with pytest.raises(MlflowException, match="disallowed characters for a url endpoint"):
        EndpointConfig(**endpoint(name))


def test_route_type_is_accepted_for_older_files(tmp_path):
    entry = endpoint()
    entry["route_type"] = entry.pop("endpoint_type")
    with pytest.warns(FutureWarning, match="'route_type' configuration key has been deprecated"):
        loaded = _load(tmp_path, {"endpoints": [entry]})
    assert loaded.endpoints[0].endpoint_type == EndpointType.LLM_V1_CHAT
    assert loaded.endpoints[0].route_type == EndpointType.LLM_V1_CHAT


def test_endpoints_listed_under_routes_are_accepted_for_older_files(tmp_path):
    legacy = endpoint()
    legacy["route_type"] = legacy.pop("endpoint_type")
    with pytest.warns(FutureWarning) as record:
        loaded = _load(tmp_path, {"routes": [legacy]})
    messages = " ".join(str(w.message) for w in record)
    assert "The 'routes' configuration key for endpoint definitions has been deprecated" in messages
    assert "Use 'endpoint_type' instead" in messages
    assert [e.name for e in loaded.endpoints] == ["chat"]
    assert loaded.routes is None


def test_unknown_keys_are_ignored(tmp_path):
    entry = endpoint(description="ignored")
    entry["model"]["config"]["unused"] = 1
    loaded = _load(tmp_path, {"endpoints": [entry], "comment": "ignored"})
    assert loaded.endpoints[0].model.config.openai_api_key == SECRET


def test_traffic_routes(tmp_path):
    loaded = _load(
        tmp_path,
        {
            "endpoints": [
                endpoint("a"),
                endpoint("b"),
                endpoint("e", endpoint_type="llm/v1/embeddings"),
            ],
            "routes": [route("split", "llm/v1/chat", ("a", 70), ("b", 30), ("a", 0))],
        },
    )
    (split,) = loaded.routes
    assert split.task_type == EndpointType.LLM_V1_CHAT
    assert [(d.name, d.traffic_percentage) for d in split.destinations] == [
        ("a", 70),
        ("b", 30),
        ("a", 0),
    ]
    assert split.routing_strategy == "TRAFFIC_SPLIT"


def test_raw_mapping_check_matches_mlflow():
    with pytest.raises(
        MlflowException, match="Duplicate names found in endpoint / route configurations"
    ):
        check_configuration_route_name_collisions(
            {"endpoints": [{"name": "name1"}, {"name": "name2"}, {"name": "name1"}]}
        )
    with pytest.raises(MlflowException, match="traffic percentage sum of destinations must be 100"):
        check_configuration_route_name_collisions(
            {
                "endpoints": [{"name": "a", "endpoint_type": "llm/v1/chat"}],
                "routes": [route("r", "llm/v1/chat", ("a", 99))],
            }
        )
    # Malformed entries are left to model validation.
    check_configuration_route_name_collisions({"endpoints": "nonsense", "routes": [1, {"x": 1}]})


# ---------------------------------------------------------------------------------------------
# API keys


def test_api_key_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_AIO_TEST_KEY", SECRET)
    loaded = _load(
        tmp_path,
        {"endpoints": [endpoint(model=openai_model(openai_api_key="$MLFLOW_AIO_TEST_KEY"))]},
    )
    assert loaded.endpoints[0].model.config.openai_api_key == SECRET


def test_api_key_from_file(tmp_path):
    key_file = tmp_path / "api.key"
    key_file.write_text(SECRET + "\n")
    config = AnthropicConfig(anthropic_api_key=str(key_file))
    assert config.anthropic_api_key == SECRET


def test_empty_env_var_counts_as_unset(monkeypatch):
    monkeypatch.setenv("MLFLOW_AIO_TEST_KEY", "")
    with pytest.raises(
        MlflowException, match="Environment variable 'MLFLOW_AIO_TEST_KEY' is not set"
    ):
        _resolve_api_key_from_input("$MLFLOW_AIO_TEST_KEY")


def test_switched_off_resolution_uses_the_text_itself(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("MLFLOW_GATEWAY_RESOLVE_API_KEY_FROM_ENV", "false")
    monkeypatch.setenv("MLFLOW_GATEWAY_RESOLVE_API_KEY_FROM_FILE", "false")
    monkeypatch.setenv("MLFLOW_AIO_TEST_KEY", SECRET)
    key_file = tmp_path / "api.key"
    key_file.write_text(SECRET)
    with caplog.at_level(logging.WARNING, logger="mlflow.gateway.utils"):
        assert _resolve_api_key_from_input("$MLFLOW_AIO_TEST_KEY") == "$MLFLOW_AIO_TEST_KEY"
    assert "MLFLOW_GATEWAY_RESOLVE_API_KEY_FROM_ENV is disabled" in caplog.text
    assert "MLFLOW_AIO_TEST_KEY" not in caplog.text  # with resolution off it may be a real key
    assert _resolve_api_key_from_input(str(key_file)) == str(key_file)


def test_invalid_resolution_switch_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("MLFLOW_GATEWAY_RESOLVE_API_KEY_FROM_ENV", "maybe")
    with pytest.raises(MlflowException, match="MLFLOW_GATEWAY_RESOLVE_API_KEY_FROM_ENV") as info:
        OpenAIConfig(openai_api_key="$ANY")
    assert info.value.error_code == INVALID_PARAMETER_VALUE


def test_unreadable_key_file(tmp_path):
    key_file = tmp_path / "api.key"
    key_file.write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(
        MlflowException,
        match=r"Failed to read the API key from file '.*api\.key': it is not UTF-8 text",
    ):
        _resolve_api_key_from_input(str(key_file))


def test_overlong_key_is_not_taken_for_a_path():
    assert _resolve_api_key_from_input("a" * 5000) == "a" * 5000


# ---------------------------------------------------------------------------------------------
# Secrets


def test_secrets_are_masked_in_reprs_but_real_in_dumps():
    configs = [
        OpenAIConfig(openai_api_key=SECRET),
        AWSIdAndKey(
            aws_access_key_id=SECRET, aws_secret_access_key=SECRET, aws_session_token=SECRET
        ),
        LiteLLMConfig(litellm_api_key=SECRET, litellm_auth_config={"api_key": SECRET}),
        GroqConfig(api_key=SECRET),
        DatabricksConfig(databricks_api_token=SECRET),
    ]
    for config in configs:
        assert SECRET not in repr(config)
        assert SECRET not in str(config)
        assert MASK in repr(config)
        assert SECRET in str(config.model_dump())
    endpoint_config = EndpointConfig(**endpoint())
    assert SECRET not in repr(endpoint_config) and SECRET not in str(endpoint_config)
    assert endpoint_config.model.config.openai_api_key == SECRET
    assert SECRET not in endpoint_config.to_endpoint().model_dump_json()


def test_save_writes_references_not_resolved_secrets(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_AIO_TEST_KEY", SECRET)
    key_file = tmp_path / "anthropic.key"
    key_file.write_text("sk-ant-from-file")
    config = {
        "endpoints": [
            endpoint("env", model=openai_model(openai_api_key="$MLFLOW_AIO_TEST_KEY")),
            endpoint(
                "file",
                model={
                    "name": "claude",
                    "provider": "anthropic",
                    "config": {"anthropic_api_key": str(key_file)},
                },
            ),
            endpoint("literal", limit={"calls": 3, "renewal_period": "minute"}),
            endpoint(
                "aws",
                model={
                    "name": "titan",
                    "provider": "bedrock",
                    "config": {
                        "aws_config": {
                            "aws_access_key_id": "AKIA1",
                            "aws_secret_access_key": "$MLFLOW_AIO_TEST_KEY",
                        }
                    },
                },
            ),
        ],
        "routes": [route("split", "llm/v1/chat", ("env", 50), ("literal", 50))],
    }
    loaded = _load(tmp_path, config)
    saved = tmp_path / "saved.yaml"
    _save_route_config(loaded, saved)

    on_disk = yaml.safe_load(saved.read_text())
    models = {e["name"]: e["model"]["config"] for e in on_disk["endpoints"]}
    assert models["env"]["openai_api_key"] == "$MLFLOW_AIO_TEST_KEY"
    assert models["file"]["anthropic_api_key"] == str(key_file)
    assert models["literal"]["openai_api_key"] == SECRET  # given literally, kept literally
    assert models["aws"]["aws_config"]["aws_secret_access_key"] == "$MLFLOW_AIO_TEST_KEY"
    assert on_disk["endpoints"][0]["endpoint_type"] == "llm/v1/chat"
    assert on_disk["endpoints"][0]["model"]["provider"] == "openai"
    assert _load_gateway_config(saved) == loaded


# ---------------------------------------------------------------------------------------------
# Conversions and base models


def test_to_endpoint_and_legacy_route():
    config = EndpointConfig(**endpoint("chat.v1", limit={"calls": 2, "renewal_period": "hour"}))
    endpoint_ = config.to_endpoint()
    assert endpoint_.model_dump() == {
        "name": "chat.v1",
        "endpoint_type": "llm/v1/chat",
        "model": {"name": "gpt-4o-mini", "provider": "openai"},
        "endpoint_url": "/gateway/chat.v1/invocations",
        "limit": {"calls": 2, "key": None, "renewal_period": "hour"},
    }
    legacy = config.to_route()
    assert isinstance(legacy, Route)
    assert legacy.model_dump() == {
        "name": "chat.v1",
        "route_type": "llm/v1/chat",
        "model": {"name": "gpt-4o-mini", "provider": "openai"},
        "route_url": "/gateway/chat.v1/invocations",
        "limit": {"calls": 2, "key": None, "renewal_period": "hour"},
    }
    assert legacy.to_endpoint() == endpoint_
    assert (
        Route.model_json_schema()["example"]["route_url"]
        == "/gateway/routes/completions/invocations"
    )


def test_base_model_extra_field_policies():
    class Config(ConfigModel):
        a: int

    class Request(RequestModel):
        a: int

    class Response(ResponseModel):
        a: int

    class LimitLike(LimitModel):
        a: int

    assert Config(a=1, b=2).model_dump() == {"a": 1}
    assert Response(a=1, b=2).model_dump() == {"a": 1}
    assert LimitLike(a=1, b=2).model_dump() == {"a": 1}
    assert Request(a=1, b=2).model_dump() == {"a": 1, "b": 2}


def test_aliased_config_model_populates_by_name():
    from pydantic import Field

    class Aliased(AliasedConfigModel):
        routes: list[int] = Field(alias="endpoints")

    assert Aliased(endpoints=[1]).routes == [1]
    assert Aliased(routes=[2]).routes == [2]


def test_documented_example_loads(tmp_path, monkeypatch):
    docs = Path(__file__).resolve().parents[2] / "docs" / "gateway-config.md"
    example = re.search(r"```yaml\n(.*?)```", docs.read_text(), re.DOTALL).group(1)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    loaded = _load(tmp_path, example)
    assert [e.name for e in loaded.endpoints] == [
        "chat",
        "chat-azure",
        "claude",
        "titan-embeddings",
        "local-llama",
    ]
    assert loaded.endpoints[0].limit == Limit(calls=60, renewal_period="minute")
    assert type(loaded.endpoints[3].model.config.aws_config) is AWSRole
    assert [d.traffic_percentage for d in loaded.routes[0].destinations] == [80, 20]


# Fuzzing: whatever the shape of the input, loading fails only with MLflow's or pydantic's errors.

_KEYS = [
    "endpoints", "routes", "name", "endpoint_type", "route_type", "model", "provider", "config",
    "limit", "calls", "renewal_period", "key", "destinations", "traffic_percentage", "task_type",
    "openai_api_key", "openai_api_type", "openai_deployment_name", "aws_config", "aws_role_arn",
    "aws_access_key_id", "aws_secret_access_key", "api_key", "litellm_auth_config",
]  # fmt: skip
_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-200, 200),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.sampled_from(
        ["openai", "bedrock", "ollama", "azure", "llm/v1/chat", "minute", "5 minutes", "$X", "a"]
    ),
)
_JSON = st.recursive(
    _LEAVES,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(_KEYS), children, max_size=5)
    ),
    max_leaves=25,
)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.dictionaries(st.sampled_from(_KEYS), _JSON, max_size=4) | _JSON)
def test_any_input_shape_fails_only_with_readable_errors(data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        for model in (GatewayConfig, EndpointConfig):
            try:
                model.model_validate(data)
            except MlflowException:
                pass
            except ValidationError as e:
                assert format_validation_error(e, data).startswith(f"{e.error_count()} validation")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(_KEYS), _JSON, max_size=4))
def test_raw_mapping_check_fails_only_with_mlflow_errors(data):
    try:
        check_configuration_route_name_collisions(data)
    except MlflowException:
        pass
