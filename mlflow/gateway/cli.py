"""``mlflow gateway``: start the AI gateway server (``mlflow gateway start``).

Options and defaults are MLflow's (``--config-path`` or ``MLFLOW_GATEWAY_CONFIG``, ``--host
127.0.0.1``, ``--port 5000``, ``--workers 2``), plus the security layer's flags (with the
``MLFLOW_SERVER_*`` variables) and the server's own settings."""

from __future__ import annotations

import math
import os

import click

from mlflow.exceptions import MlflowException


def _split(value: str | None) -> tuple[str, ...] | None:
    if value is None or not value.strip():
        return None
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _validate_config_path(ctx, param, value):
    if value is None:
        return value
    from mlflow.gateway.config import _load_gateway_config
    from mlflow.gateway.server.serve import enable_key_resolution

    enable_key_resolution()
    try:
        _load_gateway_config(value)
    except MlflowException as e:
        raise click.BadParameter(e.message) from None
    return value


def _positive_seconds(ctx, param, value):
    if value is not None and (not math.isfinite(value) or value < 0):
        raise click.BadParameter(f"must be a finite number of seconds >= 0, got {value}")
    return value


@click.group("gateway", help="Manage the MLflow Gateway service")
def commands():
    pass


@commands.command("start", help="Start the MLflow Gateway service")
@click.option(
    "--config-path",
    envvar="MLFLOW_GATEWAY_CONFIG",
    callback=_validate_config_path,
    default=None,
    help="The path to the gateway configuration file (required unless --backend-store-uri "
    "serves database-backed endpoints).",
)
@click.option("--host", default="127.0.0.1", help="The network address to listen on "
              "(default: 127.0.0.1).")
@click.option("--port", default=5000, type=int, help="The port to listen on (default: 5000).")
@click.option("--workers", default=2, type=click.IntRange(min=1), help="The number of workers.")
@click.option("--allowed-hosts", envvar="MLFLOW_SERVER_ALLOWED_HOSTS", default=None,
              help="Comma-separated Host header patterns to accept (fnmatch wildcards). "
              "Default: localhost on any port and the private address ranges.")
@click.option("--cors-allowed-origins", envvar="MLFLOW_SERVER_CORS_ALLOWED_ORIGINS",
              default=None, help="Comma-separated origins allowed to call the gateway from a "
              "browser ('*' allows every origin).")
@click.option("--x-frame-options", envvar="MLFLOW_SERVER_X_FRAME_OPTIONS", default="SAMEORIGIN",
              type=click.Choice(["SAMEORIGIN", "DENY", "NONE"], case_sensitive=False),
              help="X-Frame-Options header value (default: SAMEORIGIN).")
@click.option("--disable-security-middleware", envvar="MLFLOW_SERVER_DISABLE_SECURITY_MIDDLEWARE",
              is_flag=True, default=False, help="DANGEROUS: disable Host, CORS and header "
              "protections.")
@click.option("--backend-store-uri", default=None,
              help="Serve database-backed endpoints from this store (e.g. sqlite:///gateway.db).")
@click.option("--grace-period", default=30.0, type=float, callback=_positive_seconds,
              help="Seconds in-flight requests get to finish after SIGTERM (default: 30).")
@click.option("--reload-interval", default=1.0, type=float, callback=_positive_seconds,
              help="Seconds between checks of the config file for changes; 0 disables hot "
              "reload (default: 1).")
@click.option("--retry-budget-seconds", default=10.0, type=float, callback=_positive_seconds,
              help="Default upstream retry budget per request, in seconds (default: 10).")
@click.option("--max-body-bytes", default=10 * 1024 * 1024, type=click.IntRange(min=1),
              help="Largest request body accepted (default: 10 MB); larger gets 413.")
@click.option("--api-keys-file", default=None, help="A file of caller API keys, one per line: "
              "callers must send one as a bearer token.")
@click.option("--api-keys-env", default=None, help="The name of an environment variable holding "
              "comma-separated caller API keys.")
@click.option("--ssrf-guard", is_flag=True, default=False,
              help="Refuse provider api_base URLs that resolve to private or loopback addresses.")
@click.option("--access-log/--no-access-log", default=True, show_default=True,
              help="Write one INFO line per request on the 'mlflow.gateway.access' logger.")
def start(config_path, host, port, workers, allowed_hosts, cors_allowed_origins,
          x_frame_options, disable_security_middleware, backend_store_uri, grace_period,
          reload_interval, retry_budget_seconds, max_body_bytes, api_keys_file, api_keys_env,
          ssrf_guard, access_log):
    from mlflow.gateway.server.options import ServerOptions
    from mlflow.gateway.server.serve import run

    if config_path is None and backend_store_uri is None:
        raise click.MissingParameter(param_type="option", param_hint="'--config-path'")

    options = ServerOptions(
        config_path=config_path,
        host=host,
        port=port,
        workers=workers,
        max_body_bytes=max_body_bytes,
        retry_budget_seconds=retry_budget_seconds,
        reload_interval=reload_interval,
        grace_period=grace_period,
        allowed_hosts=_split(allowed_hosts),
        cors_allowed_origins=_split(cors_allowed_origins),
        x_frame_options=x_frame_options.upper(),
        disable_security_middleware=disable_security_middleware,
        api_keys_env=api_keys_env,
        api_keys_file=api_keys_file,
        ssrf_guard=ssrf_guard,
        rate_limits_storage_uri=os.environ.get("MLFLOW_GATEWAY_RATE_LIMITS_STORAGE_URI") or None,
        backend_store_uri=backend_store_uri,
        access_log=access_log,
    )
    try:
        code = run(options)
    except MlflowException as e:  # a configuration the server cannot serve: its message only
        raise click.ClickException(e.message) from None
    raise SystemExit(code)
