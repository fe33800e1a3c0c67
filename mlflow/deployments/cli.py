"""``mlflow deployments ...``: the deployments API from the command line, with MLflow's output
(or JSON with ``--output json``)."""

from __future__ import annotations

import functools
import json
import sys
from inspect import signature
from typing import Any

import click
import requests

from mlflow.deployments import interface
from mlflow.deployments._batch_files import OutputFile, input_hash, read_inputs
from mlflow.deployments.batch import DEFAULT_CONCURRENCY, _open_bar
from mlflow.deployments.utils import get_deployments_target
from mlflow.exceptions import MlflowException
from mlflow.utils.throttling import throttle_storage as throttle_storage_block


def _user_args_to_dict(user_list: tuple[str, ...]) -> dict[str, str]:
    """``("a=1", "b=x=y")`` -> ``{"a": "1", "b": "x=y"}``; values stay strings, as in MLflow."""
    user_dict: dict[str, str] = {}
    for item in user_list:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadOptionUsage(
                "config",
                f"Invalid config option {item!r}: config options must be a pair and should be "
                "provided as ``-C key=value`` or ``--config key=value``",
            )
        if name in user_dict:
            raise click.ClickException(f"Repeated parameter: '{name}'")
        user_dict[name] = value
    return user_dict


def _jsonable(value: Any) -> Any:
    if hasattr(value, "model_dump"):  # pydantic models such as Endpoint
        return value.model_dump(mode="json")
    if hasattr(value, "to_dict") and callable(value.to_dict):
        return value.to_dict()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def _dumps(value: Any) -> str:
    return json.dumps(value, indent=2, default=_jsonable)


def _dumps_line(value: Any) -> str:
    return json.dumps(value, default=_jsonable)


def _echo_json(value: Any, output_path: str | None = None) -> None:
    text = _dumps(value)
    if output_path:
        with open(output_path, "w") as f:
            f.write(text + "\n")
    else:
        click.echo(text)


def _field(value: Any, key: str) -> Any:
    """``value[key]`` as MLflow's sentences read it, tolerant of results that are not dicts."""
    try:
        return value[key]
    except (TypeError, KeyError, IndexError):
        return getattr(value, key, None)


def _one_line(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return " ".join(str(message).split())


def _cli_errors(func):
    """Turn any failure into ``Error: <one line>`` on stderr and exit status 1, no traceback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except click.ClickException:
            raise
        except NotImplementedError as e:
            detail = f": {e}" if str(e) else ""
            raise click.ClickException(
                f"This operation is not supported by the deployment target{detail}"
            ) from e
        except Exception as e:
            raise click.ClickException(f"{type(e).__name__}: {_one_line(e)}") from e

    return wrapper


def _client(target: str | None):
    # -t is optional: MLFLOW_DEPLOYMENTS_TARGET (or set_deployments_target) is the default.
    return interface.get_deploy_client(target or get_deployments_target())


def _accepts(method, parameter: str) -> bool:
    try:
        return parameter in signature(method).parameters
    except (TypeError, ValueError):
        return True


def _endpoint_kwargs(method, endpoint: str | None) -> dict[str, Any]:
    # Plugins written for older MLflow versions lack the ``endpoint`` parameter.
    return {"endpoint": endpoint} if _accepts(method, "endpoint") else {}


def _read_json_input(input_path: str) -> Any:
    try:
        if input_path == "-":
            return json.load(sys.stdin)
        with open(input_path) as f:
            return json.load(f)
    except OSError as e:
        raise click.ClickException(f"Cannot read the input file {input_path!r}: {e}") from e
    except json.JSONDecodeError as e:
        raise click.ClickException(f"The input file {input_path!r} is not valid JSON: {e}") from e


_TARGET_HELP = (
    "Deployment target URI, e.g. http://127.0.0.1:5000 (an MLflow AI gateway), databricks, "
    "databricks://<profile>, openai or a plugin's target. Defaults to MLFLOW_DEPLOYMENTS_TARGET. "
    "Run 'mlflow deployments help -t <target>' for target-specific details."
)

target_details = click.option("--target", "-t", default=None, help=_TARGET_HELP)
deployment_name = click.option("--name", "name", required=True, help="Name of the deployment")
parse_custom_arguments = click.option(
    "--config",
    "-C",
    metavar="NAME=VALUE",
    multiple=True,
    help="Extra target-specific config, of the form -C name=value (repeatable).",
)
parse_input = click.option(
    "--input-path", "-I", required=True, help="Path to the input JSON file ('-' for stdin)."
)
parse_output = click.option(
    "--output-path", "-O", help="File to write the JSON result to (default: stdout)."
)
required_endpoint_param = click.option("--endpoint", required=True, help="Name of the endpoint")
optional_endpoint_param = click.option("--endpoint", help="Name of the endpoint")
flavor_option = click.option(
    "--flavor", "-f", help="Which flavor to be deployed. Inferred if it's not given."
)
output_option = click.option(
    "--output",
    "output_format",
    type=click.Choice(["text", "json"]),
    default=None,
    help="text: MLflow's output (a sentence, or key: value lines); json: the result as JSON.",
)


def _echo_result(output_format: str | None, text: str, value: Any) -> None:
    """MLflow's text by default, JSON with ``--output json``."""
    if output_format == "json":
        _echo_json(value)
    else:
        click.echo(text)


def _key_value_lines(value: Any) -> str | None:
    """MLflow's ``key: value`` lines (and its trailing blank lines) for a mapping, else None."""
    items = getattr(value, "items", None)
    if not callable(items):
        return None
    return "".join(f"{key}: {val}\n" for key, val in items()) + "\n\n"


def _echo_description(output_format: str | None, value: Any) -> None:
    """``get``/``get-endpoint``: key: value lines for a mapping, as MLflow prints them; JSON for
    anything else (MLflow crashes on a gateway's Endpoint) or with ``--output json``."""
    lines = None if output_format == "json" else _key_value_lines(value)
    if lines is None:
        _echo_json(value)
    else:
        click.echo(lines, nl=False)


@click.group(
    "deployments",
    help="""
    Manage deployments and query endpoints of a deployment target: an MLflow AI gateway
    (http/https URI), Databricks model serving (databricks), OpenAI (openai) or a plugin's target.
    Commands print MLflow's text (add --output json for JSON); list-endpoints and get-endpoint
    against a gateway print JSON. Run 'mlflow deployments help -t <target>' for target details.
    """,
)
def commands():
    pass


@commands.command("create")
@optional_endpoint_param
@parse_custom_arguments
@deployment_name
@target_details
@click.option("--model-uri", "-m", required=True, metavar="URI", help="URI of the model")
@flavor_option
@output_option
@_cli_errors
def create_deployment(flavor, model_uri, target, name, config, endpoint, output_format):
    """Deploy the model at --model-uri to the target."""
    client = _client(target)
    method = client.create_deployment
    deployment = method(
        name,
        model_uri,
        flavor,
        config=_user_args_to_dict(config),
        **_endpoint_kwargs(method, endpoint),
    )
    _echo_result(
        output_format,
        f"\n{_field(deployment, 'flavor')} deployment {_field(deployment, 'name')} is created",
        deployment,
    )


@commands.command("update")
@optional_endpoint_param
@parse_custom_arguments
@deployment_name
@target_details
@click.option("--model-uri", "-m", default=None, metavar="URI", help="URI of the new model")
@flavor_option
@output_option
@_cli_errors
def update_deployment(flavor, model_uri, target, name, config, endpoint, output_format):
    """Update the deployment --name (model URI, flavor and/or config)."""
    client = _client(target)
    method = client.update_deployment
    result = method(
        name,
        model_uri=model_uri,
        flavor=flavor,
        config=_user_args_to_dict(config),
        **_endpoint_kwargs(method, endpoint),
    )
    _echo_result(
        output_format,
        f"Deployment {name} is updated (with flavor {_field(result, 'flavor')})",
        result,
    )


@commands.command("delete")
@optional_endpoint_param
@parse_custom_arguments
@deployment_name
@target_details
@output_option
@_cli_errors
def delete_deployment(target, name, config, endpoint, output_format):
    """Delete the deployment --name."""
    client = _client(target)
    method = client.delete_deployment
    kwargs = _endpoint_kwargs(method, endpoint)
    if _accepts(method, "config"):
        kwargs["config"] = _user_args_to_dict(config)
    method(name, **kwargs)
    _echo_result(output_format, f"Deployment {name} is deleted", {"name": name, "deleted": True})


@commands.command("list")
@optional_endpoint_param
@target_details
@output_option
@_cli_errors
def list_deployment(target, endpoint, output_format):
    """List the deployments of the target."""
    client = _client(target)
    method = client.list_deployments
    ids = method(**_endpoint_kwargs(method, endpoint))
    _echo_result(output_format, f"List of all deployments:\n{ids}", ids)


@commands.command("get")
@optional_endpoint_param
@deployment_name
@target_details
@output_option
@_cli_errors
def get_deployment(target, name, endpoint, output_format):
    """Describe the deployment --name (key: value lines)."""
    client = _client(target)
    method = client.get_deployment
    _echo_description(output_format, method(name, **_endpoint_kwargs(method, endpoint)))


@commands.command("help")
@target_details
@_cli_errors
def target_help(target):
    """Show the target's help: its URI format and config options."""
    click.echo(interface._target_help(target or get_deployments_target()))


@commands.command("run-local")
@parse_custom_arguments
@deployment_name
@target_details
@click.option("--model-uri", "-m", required=True, metavar="URI", help="URI of the model")
@flavor_option
@_cli_errors
def run_local(flavor, model_uri, target, name, config):
    """Deploy the model locally, for testing."""
    interface.run_local(
        target or get_deployments_target(), name, model_uri, flavor, _user_args_to_dict(config)
    )


def _check_endpoint_exists(client, endpoint: str) -> None:
    """predict-batch: one look at the endpoint before any input is sent, so a missing endpoint
    fails once instead of once per input. Targets that cannot describe endpoints skip it."""
    try:
        client.get_endpoint(endpoint)
    except NotImplementedError:
        return
    except requests.HTTPError as e:
        if getattr(e.response, "status_code", None) == 404:
            raise click.ClickException(
                f"Endpoint {endpoint!r} was not found at the target (404): no input was sent. "
                "Check the name with 'mlflow deployments list-endpoints'."
            ) from None
    except MlflowException as e:
        if e.error_code in ("RESOURCE_DOES_NOT_EXIST", "ENDPOINT_NOT_FOUND", "NOT_FOUND"):
            raise click.ClickException(
                f"Endpoint {endpoint!r} was not found at the target: no input was sent. "
                f"({_one_line(e)[:300]})"
            ) from None
    except Exception:  # anything else: let the predictions report it, input by input
        return


def _check_name_or_endpoint(name, endpoint) -> None:
    if (name, endpoint).count(None) != 1:
        raise click.UsageError("Must specify exactly one of --name or --endpoint.")


def _query_options(func):
    """The options and error handling of ``predict`` and ``explain``."""
    for decorate in (
        _cli_errors,
        parse_output,
        parse_input,
        target_details,
        click.option("--endpoint", help="Name of the endpoint (or use --name)."),
        click.option("--name", "name", help="Name of the deployment (or use --endpoint)."),
    ):
        func = decorate(func)
    return func


def _query(method_name: str, target, name, input_path, output_path, endpoint) -> None:
    """Call the client's ``method_name`` on the JSON input of ``-I``; print its JSON result."""
    _check_name_or_endpoint(name, endpoint)
    inputs = _read_json_input(input_path)
    method = getattr(_client(target), method_name)
    _echo_json(method(name, inputs, **_endpoint_kwargs(method, endpoint)), output_path)


@commands.command("predict")
@_query_options
def predict(target, name, input_path, output_path, endpoint):
    """Query a deployment or an endpoint with the JSON input of -I; print the JSON result."""
    _query("predict", target, name, input_path, output_path, endpoint)


@commands.command("explain")
@_query_options
def explain(target, name, input_path, output_path, endpoint):
    """Explain the predictions of a deployment on the JSON input of -I."""
    _query("explain", target, name, input_path, output_path, endpoint)


@commands.command("create-endpoint")
@parse_custom_arguments
@required_endpoint_param
@target_details
@output_option
@_cli_errors
def create_endpoint(target, endpoint, config, output_format):
    """Create the endpoint --endpoint."""
    created = _client(target).create_endpoint(endpoint, config=_user_args_to_dict(config))
    _echo_result(output_format, f"\nEndpoint {_field(created, 'name')} is created", created)


@commands.command("update-endpoint")
@parse_custom_arguments
@required_endpoint_param
@target_details
@output_option
@_cli_errors
def update_endpoint(target, endpoint, config, output_format):
    """Update the endpoint --endpoint."""
    result = _client(target).update_endpoint(endpoint, config=_user_args_to_dict(config))
    _echo_result(
        output_format,
        f"\nEndpoint {endpoint} is updated",
        result if result is not None else {"name": endpoint, "updated": True},
    )


@commands.command("delete-endpoint")
@required_endpoint_param
@target_details
@output_option
@_cli_errors
def delete_endpoint(target, endpoint, output_format):
    """Delete the endpoint --endpoint."""
    _client(target).delete_endpoint(endpoint)
    _echo_result(
        output_format, f"\nEndpoint {endpoint} is deleted", {"name": endpoint, "deleted": True}
    )


@commands.command("list-endpoints")
@target_details
@click.option(
    "--output",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="json",
    show_default=True,
    help="json: the endpoints as JSON; text: MLflow's 'List of all endpoints:' and a Python repr.",
)
@_cli_errors
def list_endpoints(target, output_format):
    """List the endpoints of the target (JSON)."""
    endpoints = _client(target).list_endpoints()
    _echo_result(output_format, f"List of all endpoints:\n{endpoints}", endpoints)


@commands.command("get-endpoint")
@required_endpoint_param
@target_details
@output_option
@_cli_errors
def get_endpoint(target, endpoint, output_format):
    """Describe the endpoint --endpoint: key: value lines for a target that returns a mapping
    (as MLflow prints them), JSON for a gateway's Endpoint."""
    _echo_description(output_format, _client(target).get_endpoint(endpoint))


@commands.command("predict-batch")
@click.option("--endpoint", help="Name of the endpoint (or use --name).")
@click.option("--name", "name", help="Name of the deployment (or use --endpoint).")
@target_details
@click.option(
    "--input-path",
    "-I",
    required=True,
    help="JSON lines: one input per line, as for 'predict -I' ('-' for stdin).",
)
@click.option(
    "--output-path",
    "-O",
    required=True,
    help='JSON lines, appended as each input finishes: {"index": i, "result": ...} or '
    '{"index": i, "error": {...}}. Rerun with the same file to resume.',
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=DEFAULT_CONCURRENCY,
    show_default=True,
    help="The most predictions in flight at once (the endpoint's rate limit also applies).",
)
@click.option(
    "--retry-errors",
    is_flag=True,
    help="Run again the inputs whose earlier error is in the output file (their error lines "
    "are removed first).",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a progress bar (needs tqdm). Default: when stderr is a terminal.",
)
@click.option(
    "--throttle-storage",
    envvar="MLFLOW_DEPLOYMENTS_THROTTLE_STORAGE_URI",
    default=None,
    help="Keep the rate-limit window in this store, e.g. redis://host:6379/0 (rediss:// for "
    "TLS), so every worker naming it shares the endpoint's limit. Default: this process only.",
)
@_cli_errors
def predict_batch(
    target,
    name,
    endpoint,
    input_path,
    output_path,
    concurrency,
    retry_errors,
    progress,
    throttle_storage,
):
    """Predict on every input line of -I; write each result or error to -O.

    Inputs are numbered from 0 in file order (blank lines skipped). Output lines come in
    completion order, each with its input's index; each input gets exactly one line. A run
    that is stopped (even killed) resumes where it left off when rerun with the same files.
    The exit status is 1 if any input's prediction failed.
    """
    _check_name_or_endpoint(name, endpoint)
    storage = throttle_storage_block(throttle_storage)  # a bad URI stops before any work
    inputs = read_inputs(input_path)
    hashes = [input_hash(value) for value in inputs]
    output = OutputFile(output_path, target=endpoint if endpoint is not None else name)
    output.prepare(len(inputs), retry_errors, hashes)
    if output.dropped_tail:
        click.echo(
            f"Dropped a cut-short last line of {output_path}; its input runs again.", err=True
        )
    if output.unreadable_lines:
        click.echo(
            f"Ignored {output.unreadable_lines} unreadable line(s) of {output_path}.", err=True
        )
    todo = [i for i in range(len(inputs)) if i not in output.done]
    if todo:
        client = _client(target)
        if endpoint is not None:
            _check_endpoint_exists(client, endpoint)
        # Our own bar over every input, starting at the number already done.
        bar = _open_bar(len(inputs), progress, "predict-batch", initial=len(inputs) - len(todo))
        try:
            with storage, output.appending(todo.__getitem__, _dumps_line, hashes) as write:

                def on_result(result) -> None:
                    write(result)
                    if bar is not None:
                        bar.update(1)

                client.predict_batch(
                    endpoint,
                    [inputs[i] for i in todo],
                    concurrency,
                    progress=False,
                    on_result=on_result,
                    deployment_name=name,
                )
        except KeyboardInterrupt:
            click.echo(
                f"\nInterrupted: {len(output.done)} of {len(inputs)} inputs are done in "
                f"{output_path}. Run the same command again to resume where it stopped.",
                err=True,
            )
            sys.exit(130)  # the shell's code for Ctrl-C
        finally:
            if bar is not None:
                bar.close()
    failed = len(output.errors)
    click.echo(
        f"{len(inputs)} inputs: {len(todo)} predicted now, {len(inputs) - len(todo)} already in "
        f"{output_path}; {len(inputs) - failed} succeeded, {failed} failed.",
        err=True,
    )
    if failed:
        raise click.ClickException(
            f"{failed} of {len(inputs)} inputs failed; their errors are in {output_path} "
            "(rerun with --retry-errors to try them again)."
        )
