"""Databricks credentials: ``get_databricks_host_creds`` and the ``databricks://`` URI helpers.

Resolution follows MLflow: with MLFLOW_ENABLE_DB_SDK (default true) the databricks-sdk ``Config``
decides (``DATABRICKS_HOST`` / ``DATABRICKS_TOKEN`` / OAuth variables, then the profile of
``~/.databrickscfg`` or ``DATABRICKS_CONFIG_FILE``) and the creds say ``use_databricks_sdk=True``
so requests go through the SDK. Without the SDK (or when it cannot be configured), the same
variables and file are read directly. ``databricks://scope:prefix`` URIs name a secret scope and a
key prefix, readable only inside a Databricks runtime (through ``dbutils``).
"""

from __future__ import annotations

import asyncio
import configparser
import hashlib
import logging
import os
import urllib.parse
from functools import lru_cache
from typing import Any, NamedTuple

from mlflow.environment_variables import MLFLOW_ENABLE_DB_SDK
from mlflow.exceptions import INVALID_PARAMETER_VALUE, MlflowException
from mlflow.utils.rest_utils import MlflowHostCreds

_logger = logging.getLogger(__name__)

_DATABRICKS_UNITY_CATALOG_SCHEME = "databricks-uc"
_CONFIG_PROFILE_ENV = "DATABRICKS_CONFIG_PROFILE"
_CONFIG_FILE_ENV = "DATABRICKS_CONFIG_FILE"
_DEFAULT_PROFILE = "DEFAULT"
# Retry budget of the SDK's probes while checking a configuration (its default is 300s of retries
# against an unreachable host): the check is best-effort, requests get their own budget.
_SDK_CHECK_RETRY_TIMEOUT_SECONDS = 10
# Field -> environment variable, as the Databricks CLI/SDK name them.
_ENV_FIELDS = {
    "host": "DATABRICKS_HOST",
    "token": "DATABRICKS_TOKEN",
    "username": "DATABRICKS_USERNAME",
    "password": "DATABRICKS_PASSWORD",
    "client_id": "DATABRICKS_CLIENT_ID",
    "client_secret": "DATABRICKS_CLIENT_SECRET",
    "insecure": "DATABRICKS_INSECURE",
    "auth_type": "DATABRICKS_AUTH_TYPE",
}
# Everything that changes what the SDK's Config resolves to (for the cache of Config checks).
_SDK_ENV = (*_ENV_FIELDS.values(), _CONFIG_PROFILE_ENV, _CONFIG_FILE_ENV, "HOME",
            "DATABRICKS_ACCOUNT_ID", "DATABRICKS_WORKSPACE_ID", "DATABRICKS_DISCOVERY_URL")


# ---------------------------------------------------------------------------------------------
# URIs
# ---------------------------------------------------------------------------------------------
def is_databricks_uri(uri) -> bool:
    """'databricks' (default profile), 'databricks://profile' or 'databricks://scope:prefix'."""
    if uri is None:
        return False
    return urllib.parse.urlparse(uri).scheme == "databricks" or uri == "databricks"


def construct_db_uri_from_profile(profile) -> str | None:
    return f"databricks://{profile}" if profile else None


def validate_db_scope_prefix_info(scope, prefix) -> None:
    for c in ("/", ":", " "):
        if c in scope:
            raise MlflowException(
                f"Unsupported Databricks profile name: {scope}. Profile names cannot contain '{c}'."
            )
        if prefix and c in prefix:
            raise MlflowException(
                f"Unsupported Databricks profile key prefix: {prefix}. "
                f"Key prefixes cannot contain '{c}'."
            )
    if prefix is not None and prefix.strip() == "":
        raise MlflowException(
            f"Unsupported Databricks profile key prefix: '{prefix}'. Key prefixes cannot be empty."
        )


def get_db_info_from_uri(uri) -> tuple[str | None, str | None]:
    """(profile or secret scope, key prefix or None) of a ``databricks://`` URI; (None, None)
    for anything else. Text after the first ':' of the netloc is the key prefix."""
    if uri is None:
        return None, None
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme not in ("databricks", _DATABRICKS_UNITY_CATALOG_SCHEME):
        return None, None
    if parsed.netloc == "":
        raise MlflowException(
            f"URI is formatted incorrectly: no netloc in URI '{uri}'. "
            "This may be the case if there is only one slash in the URI."
        )
    scope, sep, prefix = parsed.netloc.partition(":")
    key_prefix = prefix if sep else None
    validate_db_scope_prefix_info(scope, key_prefix)
    return scope, key_prefix


# ---------------------------------------------------------------------------------------------
# Reading the configuration
# ---------------------------------------------------------------------------------------------
class _DatabricksConfigValues(NamedTuple):
    host: str | None = None
    token: str | None = None
    username: str | None = None
    password: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    insecure: bool = False
    auth_type: str | None = None

    @property
    def is_valid(self) -> bool:
        return bool(self.host) and bool(
            self.token
            or (self.username and self.password)
            or (self.client_id and self.client_secret)
            or self.auth_type
        )

    def __repr__(self) -> str:
        return f"_DatabricksConfigValues(host={self.host!r}, auth_type={self.auth_type!r}, ...)"


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes") if value is not None else False


def _config_file_path() -> str:
    return os.path.expanduser(os.environ.get(_CONFIG_FILE_ENV) or "~/.databrickscfg")


def _values_from_env() -> _DatabricksConfigValues | None:
    raw = {field: os.environ.get(env) or None for field, env in _ENV_FIELDS.items()}
    if not raw["host"]:
        return None
    raw["insecure"] = _truthy(raw["insecure"])
    return _DatabricksConfigValues(**raw)


def _values_from_profile(profile: str) -> _DatabricksConfigValues | None:
    path = _config_file_path()
    if not os.path.exists(path):
        return None
    # No default section: [DEFAULT] is a profile like the others and is not merged into them.
    parser = configparser.ConfigParser(default_section="\0none", interpolation=None)
    try:
        parser.read(path)
    except configparser.Error as e:
        raise MlflowException(
            f"Could not parse the Databricks config file {path}: {type(e).__name__}. "
            "Fix its syntax (INI sections of key = value lines)."
        ) from None
    if not parser.has_section(profile):
        return None
    section = parser[profile]
    return _DatabricksConfigValues(
        host=section.get("host") or None,
        token=section.get("token") or None,
        username=section.get("username") or None,
        password=section.get("password") or None,
        client_id=section.get("client_id") or None,
        client_secret=section.get("client_secret") or None,
        insecure=_truthy(section.get("insecure")),
        auth_type=section.get("auth_type") or None,
    )


def _read_config_values(profile: str | None, from_uri: bool) -> _DatabricksConfigValues | None:
    """A profile named in the URI is the only source; otherwise environment, then the profile
    (DATABRICKS_CONFIG_PROFILE or DEFAULT) of the config file."""
    sources = (
        [lambda: _values_from_profile(profile)]
        if from_uri
        else [_values_from_env, lambda: _values_from_profile(profile or _DEFAULT_PROFILE)]
    )
    for source in sources:
        values = source()
        if values is not None and values.is_valid:
            return values
    return None


def _fingerprint() -> bytes:
    """A digest of the SDK-relevant environment and config file, so the cache below notices
    changes without holding a second copy of secrets."""
    path = _config_file_path()
    try:
        stat = os.stat(path)
        file_state = f"{path}:{stat.st_mtime_ns}:{stat.st_size}"
    except OSError:
        file_state = f"{path}:missing"
    raw = "\0".join([file_state, *(os.environ.get(name, "\1") for name in _SDK_ENV)])
    return hashlib.sha256(raw.encode("utf-8", "surrogateescape")).digest()


@lru_cache(maxsize=16)
def _sdk_config_values(profile: str | None, fingerprint: bytes) -> _DatabricksConfigValues:
    """Build the SDK's Config for ``profile`` (it validates the auth and may call the host), and
    read back what it resolved. Cached per configuration: it can cost network round trips."""
    from databricks.sdk.config import Config

    config = Config(profile=profile, retry_timeout_seconds=_SDK_CHECK_RETRY_TIMEOUT_SECONDS)
    return _DatabricksConfigValues(
        host=config.host,
        token=config.token,
        username=config.username,
        password=config.password,
        client_id=config.client_id,
        client_secret=config.client_secret,
        insecure=bool(config.skip_verify),
        auth_type=config.auth_type,
    )


def _get_dbutils():
    """``dbutils`` of a Databricks notebook (through IPython), or None elsewhere."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    if shell is None:
        return None
    return shell.user_ns.get("dbutils")


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------
def _fail_malformed_databricks_auth(uri):
    if uri and str(uri).startswith(_DATABRICKS_UNITY_CATALOG_SCHEME):
        uri_name, uri_scheme = "registry URI", _DATABRICKS_UNITY_CATALOG_SCHEME
    else:
        uri_name, uri_scheme = "tracking URI", "databricks"
    raise MlflowException(
        f"Reading Databricks credential configuration failed with MLflow {uri_name} '{uri}'. "
        "Please ensure that the 'databricks-sdk' PyPI library is installed, the tracking "
        "URI is set correctly, and Databricks authentication is properly configured. "
        f"The {uri_name} can be either '{uri_scheme}' "
        f"(using profile name specified by '{_CONFIG_PROFILE_ENV}' environment variable "
        f"or using 'DEFAULT' authentication profile if '{_CONFIG_PROFILE_ENV}' environment "
        f"variable does not exist) or '{uri_scheme}://{{profile}}'. "
        "You can configure Databricks authentication in several ways, for example by "
        "specifying environment variables (e.g. DATABRICKS_HOST + DATABRICKS_TOKEN) or "
        "logging in using 'databricks auth login'. \n"
        "For details on configuring Databricks authentication, please refer to "
        "'https://docs.databricks.com/en/dev-tools/auth/index.html#unified-auth'.",
        error_code=INVALID_PARAMETER_VALUE,
    )


def _creds_from_secret_scope(server_uri, scope: str, key_prefix: str, use_sdk: bool):
    message = (
        f"The hostname and credentials configured by {server_uri} is invalid. "
        "Please create valid hostname secret by command "
        f"'databricks secrets put-secret {scope} {key_prefix}-host' and "
        "create valid token secret by command "
        f"'databricks secrets put-secret {scope} {key_prefix}-token'."
    )
    dbutils = _get_dbutils()
    if dbutils is None:
        raise MlflowException(
            f"{message} Secret-scope URIs ('databricks://scope:prefix') are read with dbutils, "
            "which only a Databricks runtime provides; elsewhere use 'databricks://<profile>' "
            "or DATABRICKS_HOST and DATABRICKS_TOKEN.",
            error_code=INVALID_PARAMETER_VALUE,
        )
    try:
        host = dbutils.secrets.get(scope=scope, key=f"{key_prefix}-host")
        token = dbutils.secrets.get(scope=scope, key=f"{key_prefix}-token")
    except Exception as e:
        raise MlflowException(message, error_code=INVALID_PARAMETER_VALUE) from e
    if not host or not token:
        raise MlflowException(message, error_code=INVALID_PARAMETER_VALUE)
    return MlflowHostCreds(
        host, token=token, use_databricks_sdk=use_sdk, use_secret_scope_token=use_sdk
    )


def get_databricks_host_creds(server_uri=None) -> MlflowHostCreds:
    """``MlflowHostCreds`` for a Databricks workspace.

    ``server_uri``: None or 'databricks' (environment, then DATABRICKS_CONFIG_PROFILE or the
    DEFAULT profile), 'databricks://<profile>' (that profile only), or
    'databricks://<scope>:<prefix>' (secrets '<prefix>-host' and '<prefix>-token' of a secret
    scope, inside a Databricks runtime). Blocking (file reads, and the SDK may call the host
    once per configuration): from async code use :func:`aget_databricks_host_creds`.
    """
    uri_profile, key_prefix = get_db_info_from_uri(server_uri)
    profile = uri_profile or os.environ.get(_CONFIG_PROFILE_ENV) or None
    use_sdk = MLFLOW_ENABLE_DB_SDK.get()
    if key_prefix is not None:
        return _creds_from_secret_scope(server_uri, uri_profile, key_prefix, use_sdk)

    values = None
    use_databricks_sdk = False
    sdk_error: Exception | None = None
    if use_sdk:
        try:
            values = _sdk_config_values(profile, _fingerprint())
            use_databricks_sdk = True
        except ImportError as e:
            _logger.debug("databricks-sdk is not importable: %r", e)
        except Exception as e:
            # The SDK's messages mask secrets ('***'); keep the reason for debugging.
            _logger.debug("Failed to create databricks SDK workspace client, error: %r", e)
            sdk_error = e
    if values is None or not values.host:
        values = _read_config_values(profile, from_uri=uri_profile is not None)
    if values is None or not values.host:
        _fail_malformed_databricks_auth(server_uri)
    if sdk_error is not None and values.client_secret:
        # OAuth needs the SDK: without this, the request would fail later with advice to enable
        # MLFLOW_ENABLE_DB_SDK, which is already enabled; say what really went wrong.
        raise MlflowException(
            "Databricks OAuth credentials (client ID and secret) were found, but the "
            f"databricks-sdk could not be configured with them: {sdk_error}"
        ) from sdk_error

    return MlflowHostCreds(
        values.host,
        username=values.username,
        password=values.password,
        ignore_tls_verification=values.insecure,
        token=values.token,
        client_id=values.client_id,
        client_secret=values.client_secret,
        use_databricks_sdk=use_databricks_sdk,
        databricks_auth_profile=profile if use_databricks_sdk else None,
    )


async def aget_databricks_host_creds(server_uri=None) -> MlflowHostCreds:
    """:func:`get_databricks_host_creds` in a worker thread, so the event loop keeps running."""
    return await asyncio.to_thread(get_databricks_host_creds, server_uri)
