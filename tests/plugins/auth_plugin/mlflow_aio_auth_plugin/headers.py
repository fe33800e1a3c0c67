"""A request-header provider, in context only when MLFLOW_AIO_TEST_PLUGIN_HEADERS=1, so it does
not touch the requests of other test suites sharing the environment."""

from __future__ import annotations

import os

from mlflow.tracking.request_header.abstract_request_header_provider import RequestHeaderProvider

ENABLE_ENV = "MLFLOW_AIO_TEST_PLUGIN_HEADERS"


class PluginHeaderProvider(RequestHeaderProvider):
    def in_context(self):
        return os.environ.get(ENABLE_ENV) == "1"

    def request_headers(self):
        return {"user-agent": "test-plugin/1.0", "X-Test-Plugin": "on"}
