"""Request-header and request-auth providers, through the installed test plugin
(tests/plugins/auth_plugin: `pip install -e tests/plugins/auth_plugin`)."""

from __future__ import annotations

import logging
from collections import deque
from importlib.metadata import EntryPoint

import pytest
import requests
from aiohttp import web

from mlflow.exceptions import INVALID_PARAMETER_VALUE, MlflowException
from mlflow.tracking.request_auth import registry as auth_registry
from mlflow.tracking.request_auth.registry import (
    HeadersAuth,
    RequestAuthProviderRegistry,
    fetch_auth,
)
from mlflow.tracking.request_header import registry as header_registry
from mlflow.tracking.request_header.abstract_request_header_provider import RequestHeaderProvider
from mlflow.tracking.request_header.registry import (
    RequestHeaderProviderRegistry,
    resolve_request_headers,
)
from mlflow.utils.credentials import get_default_host_creds
from mlflow.utils.rest_utils import MlflowHostCreds, ahttp_request, http_request
from mlflow.version import VERSION
from tests.auth.helpers import LoopbackServer, Recorded, json_response

pytestmark = pytest.mark.timeout(60)

PLUGIN_SECRET = "plugin-secret-7f3a9c"
DEFAULT_UA = f"mlflow-python-client/{VERSION}"


class ScriptedServer(LoopbackServer):
    """Answers each request with the next scripted status (200 when the script is empty)."""

    def __init__(self) -> None:
        super().__init__()
        self.statuses: deque[int] = deque()

    async def handle(self, r: Recorded) -> web.StreamResponse:
        status = self.statuses.popleft() if self.statuses else 200
        return json_response(status, {"status": status})


def _plugin_installed() -> bool:
    return "test_signer" in auth_registry._request_auth_provider_registry.names()


requires_plugin = pytest.mark.skipif(
    not _plugin_installed(),
    reason="install the test plugin: .venv/bin/pip install -e tests/plugins/auth_plugin",
)


# --- request headers -------------------------------------------------------------------------
def test_default_headers_in_a_new_dict_each_call():
    first = resolve_request_headers()
    assert first == {"User-Agent": DEFAULT_UA, "X-MLflow-Client-Version": VERSION}
    first["User-Agent"] = "changed"
    assert resolve_request_headers()["User-Agent"] == DEFAULT_UA


def test_argument_headers_replace_merged_ones_case_insensitively():
    headers = resolve_request_headers({"user-agent": "mine/1", "X-Extra": "1"})
    assert headers == {"user-agent": "mine/1", "X-MLflow-Client-Version": VERSION, "X-Extra": "1"}


@requires_plugin
def test_plugin_header_provider_merges_with_a_space(monkeypatch):
    monkeypatch.setenv("MLFLOW_AIO_TEST_PLUGIN_HEADERS", "1")
    headers = resolve_request_headers()
    # The plugin spells it 'user-agent': merged into the first spelling, values space-joined.
    assert headers["User-Agent"] == f"{DEFAULT_UA} test-plugin/1.0"
    assert headers["X-Test-Plugin"] == "on"
    assert "user-agent" not in headers


@requires_plugin
def test_plugin_header_provider_out_of_context_adds_nothing():
    assert "X-Test-Plugin" not in resolve_request_headers()


@requires_plugin
def test_plugin_headers_reach_the_server(monkeypatch):
    monkeypatch.setenv("MLFLOW_AIO_TEST_PLUGIN_HEADERS", "1")
    with ScriptedServer() as server:
        http_request(MlflowHostCreds(server.url), "/api/x", "GET", extra_headers={"X-Call": "7"})
    (recorded,) = server.requests
    assert recorded.headers.getall("User-Agent") == [f"{DEFAULT_UA} test-plugin/1.0"]
    assert recorded.headers["X-Test-Plugin"] == "on"
    assert recorded.headers["X-MLflow-Client-Version"] == VERSION
    assert recorded.headers["X-Call"] == "7"


class _Broken(RequestHeaderProvider):
    def in_context(self):
        return True

    def request_headers(self):
        raise RuntimeError("provider exploded")


class _Extra(RequestHeaderProvider):
    def in_context(self):
        return True

    def request_headers(self):
        return {"X-Extra": "yes", "X-MLflow-Client-Version": "extra"}


def test_failing_provider_is_logged_and_skipped(monkeypatch, caplog):
    registry = RequestHeaderProviderRegistry()
    for provider in (*header_registry._request_header_provider_registry, _Broken(), _Extra()):
        registry._registry.append(provider)
    monkeypatch.setattr(header_registry, "_request_header_provider_registry", registry)
    with caplog.at_level(logging.WARNING):
        headers = resolve_request_headers()
    assert headers["X-Extra"] == "yes"
    assert headers["X-MLflow-Client-Version"] == f"{VERSION} extra"
    assert "provider exploded" in caplog.text


def test_broken_entry_points_are_warned_not_raised(caplog):
    group = "mlflow.request_header_provider"
    broken = [
        EntryPoint("missing_module", "no_such_module_xyz:Provider", group),
        EntryPoint("missing_attr", "mlflow.version:NoSuchProvider", group),
    ]
    registry = RequestHeaderProviderRegistry()
    with caplog.at_level(logging.WARNING):
        registry.register_entrypoints(broken)
    assert len(registry) == 0
    assert 'request header provider "missing_module"' in caplog.text
    assert 'request header provider "missing_attr"' in caplog.text


def test_entry_points_are_discovered_once(monkeypatch):
    calls = []
    monkeypatch.setattr(
        "mlflow.tracking._entry_points.entry_points", lambda **kw: calls.append(kw) or []
    )
    for _ in range(3):
        resolve_request_headers()
        with pytest.raises(MlflowException):
            fetch_auth("not-installed")
    assert calls == []


# --- request auth ----------------------------------------------------------------------------
@requires_plugin
def test_fetch_auth_returns_the_provider_auth():
    auth = fetch_auth("test_signer")
    assert isinstance(auth, requests.auth.AuthBase)


@requires_plugin
def test_headers_from_a_provider_become_an_authbase(monkeypatch):
    monkeypatch.setenv("MLFLOW_AIO_TEST_PLUGIN_SECRET", PLUGIN_SECRET)
    auth = fetch_auth("test_headers")
    assert auth == HeadersAuth({"X-Api-Key": PLUGIN_SECRET})
    assert PLUGIN_SECRET not in repr(auth)
    prepared = requests.Request("GET", "http://h/x").prepare()
    assert auth(prepared).headers["X-Api-Key"] == PLUGIN_SECRET


@requires_plugin
def test_unknown_provider_lists_installed_ones():
    with pytest.raises(MlflowException) as info:
        fetch_auth("tset_signer")
    message = str(info.value)
    assert "'tset_signer'" in message
    assert "test_signer" in message and "test_headers" in message
    assert info.value.error_code == INVALID_PARAMETER_VALUE


def test_unknown_provider_with_no_plugins(monkeypatch):
    monkeypatch.setattr(
        auth_registry, "_request_auth_provider_registry", RequestAuthProviderRegistry()
    )
    with pytest.raises(MlflowException, match="Installed providers: none"):
        fetch_auth("anything")


def test_provider_returning_nonsense_is_a_clear_error(monkeypatch):
    class Bad:
        def get_name(self):
            return "bad"

        def get_auth(self):
            return 42

    registry = RequestAuthProviderRegistry()
    registry.register(Bad)
    monkeypatch.setattr(auth_registry, "_request_auth_provider_registry", registry)
    with pytest.raises(MlflowException, match="provider 'bad' returned an object of type int"):
        fetch_auth("bad")


@requires_plugin
def test_plugin_auth_is_applied_on_every_attempt(monkeypatch):
    monkeypatch.setenv("MLFLOW_AIO_TEST_PLUGIN_SECRET", PLUGIN_SECRET)
    with ScriptedServer() as server:
        server.statuses.extend([503, 500])
        response = http_request(
            MlflowHostCreds(server.url, auth="test_signer"), "/api/x", "POST", json={"a": 1},
            max_retries=3, backoff_factor=0, backoff_jitter=0,
        )
    assert response.status_code == 200
    assert [r.headers["Authorization"] for r in server.requests] == [f"Bearer {PLUGIN_SECRET}"] * 3
    assert [r.headers["X-Test-Plugin-Attempt"] for r in server.requests] == ["1", "2", "3"]


@requires_plugin
async def test_plugin_header_auth_from_tracking_env(monkeypatch):
    monkeypatch.setenv("MLFLOW_AIO_TEST_PLUGIN_SECRET", PLUGIN_SECRET)
    monkeypatch.setenv("MLFLOW_TRACKING_AUTH", "test_headers")
    with ScriptedServer() as server:
        response = await ahttp_request(get_default_host_creds(server.url), "/api/x", "GET")
    assert response.status_code == 200
    assert server.requests[0].headers["X-Api-Key"] == PLUGIN_SECRET


@requires_plugin
def test_unknown_auth_name_fails_before_sending():
    with ScriptedServer() as server, pytest.raises(MlflowException, match="Installed providers"):
        http_request(MlflowHostCreds(server.url, auth="nope"), "/api/x", "GET")
    assert server.requests == []
