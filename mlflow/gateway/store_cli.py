"""``mlflow gateway secrets|model-definitions|endpoints|bindings ...``: the management API of
database-backed endpoints from the command line, through ``GatewayStoreClient``.

``-t/--target`` is the gateway's URL (default ``MLFLOW_DEPLOYMENTS_TARGET``). Output is JSON; a
failure prints ``Error: <type>: <message>`` and exits 1. A secret's value is never an argument:
it comes from the environment variable named by ``--value-env`` (a JSON object, or a plain API
key) or from a hidden prompt."""

from __future__ import annotations

import functools
import json
import os
from typing import Any

import click

from mlflow.exceptions import MlflowException

_target = click.option(
    "-t",
    "--target",
    envvar="MLFLOW_DEPLOYMENTS_TARGET",
    required=True,
    help="The gateway's URL, e.g. http://127.0.0.1:5000 (default: MLFLOW_DEPLOYMENTS_TARGET).",
)


def _client(target: str):
    from mlflow.gateway.db_client import GatewayStoreClient

    return GatewayStoreClient(target)


def _emit(value: Any) -> None:
    def plain(item):
        return item.to_dict() if hasattr(item, "to_dict") else item

    data = [plain(v) for v in value] if isinstance(value, list) else plain(value)
    click.echo(json.dumps(data if data is not None else {}, indent=2, sort_keys=True))


def _command(group: click.Group, name: str, *options):
    """A subcommand whose result is printed as JSON and whose errors are one line."""

    def decorate(function):
        @functools.wraps(function)
        def run(**kwargs):
            try:
                _emit(function(**kwargs))
            except click.ClickException:
                raise
            except MlflowException as e:
                raise click.ClickException(f"{type(e).__name__}: {e.message}") from None

        for option in reversed((_target, *options)):
            run = option(run)
        return group.command(name)(run)

    return decorate


def _json_object(value: str | None, what: str) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        data = json.loads(value)
    except ValueError:
        raise click.BadParameter(f"{what} must be a JSON object") from None
    if not isinstance(data, dict):
        raise click.BadParameter(f"{what} must be a JSON object")
    return data


def _secret_value(value_env: str | None, required: bool) -> dict[str, str] | None:
    if value_env:
        raw = os.environ.get(value_env)
        if not raw:
            raise click.ClickException(f"Environment variable '{value_env}' is not set")
    elif required:
        raw = click.prompt("API key", hide_input=True)
    else:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    return data if isinstance(data, dict) else {"api_key": raw}


def _model_configs(models: tuple[str, ...]) -> list[dict[str, Any]]:
    configs = []
    for item in models:
        definition, _, weight = item.partition(":")
        config: dict[str, Any] = {"model_definition_id": definition}
        if weight:
            try:
                config["weight"] = float(weight)
            except ValueError:
                raise click.BadParameter(f"weight in '{item}' is not a number") from None
        configs.append(config)
    return configs


_value_env = click.option(
    "--value-env",
    help="Environment variable holding the secret: a JSON object or an API key "
    "(prompted for, hidden, when omitted).",
)
_auth_config = click.option("--auth-config", help='JSON object, e.g. {"api_base": "https://..."}')

# -- secrets ------------------------------------------------------------------------------------
secrets = click.Group("secrets", help="Secrets (encrypted at rest; values are never shown).")


@_command(
    secrets,
    "create",
    click.option("--name", required=True),
    click.option("--provider"),
    _value_env,
    _auth_config,
    click.option("--created-by"),
)
def create_secret(target, name, provider, value_env, auth_config, created_by):
    """Store a secret (encrypted at rest); prints its metadata, never the value."""
    return _client(target).create_secret(
        name,
        _secret_value(value_env, True),
        provider,
        _json_object(auth_config, "--auth-config"),
        created_by,
    )


@_command(secrets, "get", click.option("--secret-id"), click.option("--name"))
def get_secret(target, secret_id, name):
    """Show a secret's metadata (by --secret-id or --name)."""
    return _client(target).get_secret(secret_id, name)


@_command(secrets, "list", click.option("--provider"))
def list_secrets(target, provider):
    """List secrets' metadata."""
    return _client(target).list_secrets(provider)


@_command(
    secrets,
    "update",
    click.option("--secret-id", required=True),
    _value_env,
    click.option("--prompt", is_flag=True, help="Prompt (hidden) for a new API key."),
    _auth_config,
    click.option("--updated-by"),
)
def update_secret(target, secret_id, value_env, prompt, auth_config, updated_by):
    """Replace a secret's value (--value-env or --prompt) or its auth config."""
    return _client(target).update_secret(
        secret_id,
        _secret_value(value_env, prompt),
        _json_object(auth_config, "--auth-config"),
        updated_by,
    )


@_command(secrets, "delete", click.option("--secret-id", required=True))
def delete_secret(target, secret_id):
    """Delete a secret (its model definitions become orphaned)."""
    return _client(target).delete_secret(secret_id)


# -- model definitions --------------------------------------------------------------------------
model_definitions = click.Group("model-definitions", help="Reusable model definitions.")


@_command(
    model_definitions,
    "create",
    click.option("--name", required=True),
    click.option("--secret-id"),
    click.option("--provider", required=True),
    click.option("--model-name", required=True),
    click.option("--created-by"),
)
def create_model_definition(target, name, secret_id, provider, model_name, created_by):
    """Create a reusable model definition."""
    return _client(target).create_model_definition(
        name, secret_id, provider, model_name, created_by
    )


@_command(model_definitions, "get", click.option("--model-definition-id", required=True))
def get_model_definition(target, model_definition_id):
    """Show a model definition."""
    return _client(target).get_model_definition(model_definition_id)


@_command(model_definitions, "list", click.option("--provider"), click.option("--secret-id"))
def list_model_definitions(target, provider, secret_id):
    """List model definitions."""
    return _client(target).list_model_definitions(provider, secret_id)


@_command(
    model_definitions,
    "update",
    click.option("--model-definition-id", required=True),
    click.option("--name"),
    click.option("--secret-id"),
    click.option("--model-name"),
    click.option("--provider"),
    click.option("--updated-by"),
)
def update_model_definition(
    target, model_definition_id, name, secret_id, model_name, provider, updated_by
):
    """Change a model definition."""
    return _client(target).update_model_definition(
        model_definition_id, name, secret_id, model_name, provider, updated_by
    )


@_command(model_definitions, "delete", click.option("--model-definition-id", required=True))
def delete_model_definition(target, model_definition_id):
    """Delete a model definition no endpoint uses."""
    return _client(target).delete_model_definition(model_definition_id)


# -- endpoints, mappings, tags --------------------------------------------------------------------
endpoints = click.Group("endpoints", help="Database-backed endpoints, their models and tags.")
_models = click.option(
    "--model",
    "models",
    multiple=True,
    help="MODEL_DEFINITION_ID[:WEIGHT] (repeat for a weighted split; weight defaults to 1).",
)


@_command(
    endpoints,
    "create",
    click.option("--name", required=True),
    _models,
    click.option("--created-by"),
)
def create_endpoint(target, name, models, created_by):
    """Create an endpoint over weighted model definitions."""
    return _client(target).create_gateway_endpoint(name, _model_configs(models), created_by)


@_command(endpoints, "get", click.option("--endpoint-id"), click.option("--name"))
def get_endpoint(target, endpoint_id, name):
    """Show an endpoint (by --endpoint-id or --name)."""
    return _client(target).get_gateway_endpoint(endpoint_id, name)


@_command(endpoints, "list", click.option("--provider"), click.option("--secret-id"))
def list_endpoints(target, provider, secret_id):
    """List endpoints."""
    return _client(target).list_gateway_endpoints(provider, secret_id)


@_command(
    endpoints,
    "update",
    click.option("--endpoint-id", required=True),
    click.option("--name"),
    _models,
    click.option("--updated-by"),
)
def update_endpoint(target, endpoint_id, name, models, updated_by):
    """Rename an endpoint or replace its models (--model ...)."""
    configs = _model_configs(models) if models else None
    return _client(target).update_gateway_endpoint(endpoint_id, name, configs, updated_by)


@_command(endpoints, "delete", click.option("--endpoint-id", required=True))
def delete_endpoint(target, endpoint_id):
    """Delete an endpoint with its mappings, tags and bindings."""
    return _client(target).delete_gateway_endpoint(endpoint_id)


@_command(
    endpoints,
    "attach-model",
    click.option("--endpoint-id", required=True),
    click.option("--model-definition-id", required=True),
    click.option("--weight", type=float, default=1.0, show_default=True),
)
def attach_model(target, endpoint_id, model_definition_id, weight):
    """Attach a model definition to an endpoint with a weight."""
    return _client(target).attach_model_to_endpoint(endpoint_id, model_definition_id, weight)


@_command(
    endpoints,
    "detach-model",
    click.option("--endpoint-id", required=True),
    click.option("--model-definition-id", required=True),
)
def detach_model(target, endpoint_id, model_definition_id):
    """Detach a model definition from an endpoint."""
    return _client(target).detach_model_from_endpoint(endpoint_id, model_definition_id)


@_command(
    endpoints,
    "set-weight",
    click.option("--mapping-id", required=True),
    click.option("--weight", type=float, required=True),
)
def set_weight(target, mapping_id, weight):
    """Change a mapping's routing weight."""
    return _client(target).update_endpoint_model_mapping(mapping_id, weight)


@_command(
    endpoints,
    "set-tag",
    click.option("--endpoint-id", required=True),
    click.option("--key", required=True),
    click.option("--value"),
)
def set_tag(target, endpoint_id, key, value):
    """Set an endpoint tag (mlflow.gateway.limit holds its rate limit)."""
    return _client(target).set_gateway_endpoint_tag(endpoint_id, key, value)


@_command(
    endpoints,
    "delete-tag",
    click.option("--endpoint-id", required=True),
    click.option("--key", required=True),
)
def delete_tag(target, endpoint_id, key):
    """Delete an endpoint tag."""
    return _client(target).delete_gateway_endpoint_tag(endpoint_id, key)


# -- bindings -------------------------------------------------------------------------------------
bindings = click.Group("bindings", help="Bindings of endpoints to MLflow resources.")
_binding_key = (
    click.option("--endpoint-id", required=True),
    click.option("--resource-type", required=True, help="e.g. scorer_job"),
    click.option("--resource-id", required=True),
)


@_command(bindings, "create", *_binding_key, click.option("--created-by"))
def create_binding(target, endpoint_id, resource_type, resource_id, created_by):
    """Bind an endpoint to an MLflow resource."""
    return _client(target).create_endpoint_binding(
        endpoint_id, resource_type, resource_id, created_by
    )


@_command(bindings, "delete", *_binding_key)
def delete_binding(target, endpoint_id, resource_type, resource_id):
    """Remove a binding."""
    return _client(target).delete_endpoint_binding(endpoint_id, resource_type, resource_id)


@_command(
    bindings,
    "list",
    click.option("--endpoint-id"),
    click.option("--resource-type"),
    click.option("--resource-id"),
)
def list_bindings(target, endpoint_id, resource_type, resource_id):
    """List bindings."""
    return _client(target).list_endpoint_bindings(endpoint_id, resource_type, resource_id)


GROUPS = (secrets, model_definitions, endpoints, bindings)


def attach_store_commands(cli: click.Group) -> None:
    """Add the groups under ``mlflow gateway`` (creating that group when the server's CLI is
    not installed). Call it after the server's ``gateway`` group is registered."""
    gateway = cli.commands.get("gateway")
    if gateway is None:
        gateway = click.Group("gateway", help="The AI gateway.")
        cli.add_command(gateway)
    for group in GROUPS:
        gateway.add_command(group)
