"""Default credentials for an MLflow tracking/deployments server, from MLflow's environment
variables and the ``[mlflow]`` section of ``~/.mlflow/credentials``."""

from __future__ import annotations

import configparser
import os
from functools import lru_cache
from typing import NamedTuple

from mlflow.environment_variables import (
    MLFLOW_TRACKING_AUTH,
    MLFLOW_TRACKING_AWS_SIGV4,
    MLFLOW_TRACKING_CLIENT_CERT_PATH,
    MLFLOW_TRACKING_INSECURE_TLS,
    MLFLOW_TRACKING_PASSWORD,
    MLFLOW_TRACKING_SERVER_CERT_PATH,
    MLFLOW_TRACKING_TOKEN,
    MLFLOW_TRACKING_USERNAME,
)
from mlflow.utils.rest_utils import MlflowHostCreds


class MlflowCreds(NamedTuple):
    username: str | None
    password: str | None

    def __repr__(self) -> str:
        password = "'***'" if self.password else None
        return f"MlflowCreds(username={self.username!r}, password={password})"


def _get_credentials_path() -> str:
    return os.path.expanduser("~/.mlflow/credentials")


def _read_mlflow_creds_from_file() -> tuple[str | None, str | None]:
    """``mlflow_tracking_username`` / ``mlflow_tracking_password`` of the ``[mlflow]`` section."""
    path = _get_credentials_path()
    try:
        stat = os.stat(path)
    except OSError:
        return None, None
    # Deployment clients resolve credentials per request: parse the file once per version of it.
    return _parse_credentials_file(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _parse_credentials_file(path: str, mtime_ns: int, size: int) -> tuple[str | None, str | None]:
    config = configparser.ConfigParser()
    config.read(path)
    if "mlflow" not in config:
        return None, None
    section = config["mlflow"]
    return (
        section.get(MLFLOW_TRACKING_USERNAME.name.lower()),
        section.get(MLFLOW_TRACKING_PASSWORD.name.lower()),
    )


def _read_mlflow_creds_from_env() -> tuple[str | None, str | None]:
    return MLFLOW_TRACKING_USERNAME.get(), MLFLOW_TRACKING_PASSWORD.get()


def read_mlflow_creds() -> MlflowCreds:
    """Username and password; each environment variable wins over the file's value."""
    username_file, password_file = _read_mlflow_creds_from_file()
    username_env, password_env = _read_mlflow_creds_from_env()
    return MlflowCreds(
        username=username_env or username_file,
        password=password_env or password_file,
    )


def get_default_host_creds(store_uri) -> MlflowHostCreds:
    """``MlflowHostCreds`` for ``store_uri`` from the MLFLOW_TRACKING_* environment variables."""
    creds = read_mlflow_creds()
    return MlflowHostCreds(
        host=store_uri,
        username=creds.username,
        password=creds.password,
        token=MLFLOW_TRACKING_TOKEN.get(),
        aws_sigv4=MLFLOW_TRACKING_AWS_SIGV4.get(),
        auth=MLFLOW_TRACKING_AUTH.get(),
        ignore_tls_verification=MLFLOW_TRACKING_INSECURE_TLS.get(),
        client_cert_path=MLFLOW_TRACKING_CLIENT_CERT_PATH.get(),
        server_cert_path=MLFLOW_TRACKING_SERVER_CERT_PATH.get(),
    )
