"""A clean, isolated environment for every auth test: no ambient AWS/Databricks/MLflow credentials,
HOME and the config files pointing into the test's tmp dir, no instance-metadata lookups, and
fresh caches."""

from __future__ import annotations

import os

import pytest

from mlflow.utils import databricks_sdk_transport, databricks_utils

_PREFIXES = ("AWS_", "DATABRICKS_", "MLFLOW_TRACKING_", "MLFLOW_HTTP_", "MLFLOW_DATABRICKS_",
             "ARM_", "GOOGLE_")


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith(_PREFIXES) or name in ("MLFLOW_ENABLE_DB_SDK",):
            monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(home / ".databrickscfg"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / ".aws" / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / ".aws" / "credentials"))
    # botocore's chain would otherwise try the EC2 metadata service (no network here).
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("MLFLOW_AIO_TEST_PLUGIN_HEADERS", raising=False)
    monkeypatch.delenv("MLFLOW_AIO_TEST_PLUGIN_SECRET", raising=False)
    databricks_sdk_transport.clear_client_cache()
    databricks_utils._sdk_config_values.cache_clear()
    yield home
    databricks_sdk_transport.clear_client_cache()
    databricks_utils._sdk_config_values.cache_clear()
