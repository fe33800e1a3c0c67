"""Fixtures for the http_request tests: a clean environment, and the blocking call and its
awaitable twin behind one async interface so each test runs against both."""

from __future__ import annotations

import pytest

from mlflow.utils.rest_utils import ahttp_request, http_request

_ISOLATED_ENV = (
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER",
    "MLFLOW_HTTP_REQUEST_TIMEOUT",
    "MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER",
    "_MLFLOW_HTTP_REQUEST_MAX_RETRIES_LIMIT",
    "_MLFLOW_HTTP_REQUEST_MAX_BACKOFF_FACTOR_LIMIT",
    "MLFLOW_ALLOW_HTTP_REDIRECTS",
    "MLFLOW_DATABRICKS_TRAFFIC_ID",
    "_MLFLOW_DATABRICKS_TRAFFIC_ID",
    "MLFLOW_ENABLE_DB_SDK",
    "MLFLOW_TRACKING_INSECURE_TLS",
    "MLFLOW_TRACKING_SERVER_CERT_PATH",
    "MLFLOW_TRACKING_CLIENT_CERT_PATH",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in _ISOLATED_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server(recording_server):
    return recording_server


async def _blocking(*args, **kwargs):
    # Called straight from the test's running loop: the blocking facade must cope with that.
    return http_request(*args, **kwargs)


@pytest.fixture(params=["sync", "async"])
def call(request):
    """``await call(host_creds, endpoint, method, **kw)`` runs http_request or ahttp_request."""
    return _blocking if request.param == "sync" else ahttp_request


