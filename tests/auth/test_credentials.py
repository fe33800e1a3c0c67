"""Default credentials (MLFLOW_TRACKING_*, ~/.mlflow/credentials) and Databricks credentials
(databricks-sdk Config, ~/.databrickscfg, databricks:// URIs)."""

from __future__ import annotations

import base64

import pytest
from aiohttp import web

from mlflow.exceptions import MlflowException
from mlflow.utils import databricks_utils
from mlflow.utils.credentials import get_default_host_creds, read_mlflow_creds
from mlflow.utils.databricks_utils import (
    aget_databricks_host_creds,
    get_databricks_host_creds,
    get_db_info_from_uri,
    is_databricks_uri,
)
from mlflow.utils.rest_utils import MlflowHostCreds, http_request
from tests.auth.helpers import FakeWorkspace, LoopbackServer, Recorded, json_response

pytestmark = pytest.mark.timeout(60)

PAT = "dapi-credentials-test-token"


def _write_mlflow_credentials(home, text: str) -> None:
    (home / ".mlflow").mkdir(exist_ok=True)
    (home / ".mlflow" / "credentials").write_text(text)


class EchoServer(LoopbackServer):
    async def handle(self, r: Recorded) -> web.StreamResponse:
        return json_response(200, {"ok": True})


# --- MLflow tracking credentials -------------------------------------------------------------
def test_default_host_creds_from_environment(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "alice")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "s3cret")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok")
    monkeypatch.setenv("MLFLOW_TRACKING_INSECURE_TLS", "true")
    monkeypatch.setenv("MLFLOW_TRACKING_CLIENT_CERT_PATH", "/certs/client.pem")
    monkeypatch.setenv("MLFLOW_TRACKING_AWS_SIGV4", "TRUE")
    monkeypatch.setenv("MLFLOW_TRACKING_AUTH", "my_plugin")
    creds = get_default_host_creds("https://mlflow.example.com")
    assert creds == MlflowHostCreds(
        "https://mlflow.example.com", username="alice", password="s3cret", token="tok",
        aws_sigv4=True, auth="my_plugin", ignore_tls_verification=True,
        client_cert_path="/certs/client.pem",
    )


def test_default_host_creds_server_cert(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", "/certs/ca.pem")
    creds = get_default_host_creds("https://h")
    assert creds.server_cert_path == "/certs/ca.pem" and creds.verify == "/certs/ca.pem"
    monkeypatch.setenv("MLFLOW_TRACKING_INSECURE_TLS", "true")
    with pytest.raises(MlflowException, match="'ignore_tls_verification' is true"):
        get_default_host_creds("https://h")


def test_no_credentials_at_all():
    creds = get_default_host_creds("http://h")
    assert (creds.username, creds.password, creds.token, creds.auth) == (None, None, None, None)
    assert creds.aws_sigv4 is False and creds.ignore_tls_verification is False


def test_credentials_file_fills_in_what_the_environment_lacks(isolated_environment, monkeypatch):
    _write_mlflow_credentials(
        isolated_environment,
        "[mlflow]\nmlflow_tracking_username = file-user\nmlflow_tracking_password = file-pass\n",
    )
    assert read_mlflow_creds() == ("file-user", "file-pass")
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "env-user")
    assert read_mlflow_creds() == ("env-user", "file-pass")
    assert "file-pass" not in repr(read_mlflow_creds())


def test_credentials_file_without_mlflow_section(isolated_environment):
    _write_mlflow_credentials(isolated_environment, "[other]\nmlflow_tracking_username = x\n")
    assert read_mlflow_creds() == (None, None)


def test_basic_auth_from_the_credentials_file_reaches_the_server(isolated_environment):
    _write_mlflow_credentials(
        isolated_environment,
        "[mlflow]\nmlflow_tracking_username = bob\nmlflow_tracking_password = pa:ss\n",
    )
    with EchoServer() as server:
        http_request(get_default_host_creds(server.url), "/api/x", "GET")
    expected = base64.b64encode(b"bob:pa:ss").decode()
    assert server.requests[0].headers["Authorization"] == f"Basic {expected}"


def test_token_from_the_environment_reaches_the_server(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "bearer-xyz")
    with EchoServer() as server:
        http_request(get_default_host_creds(server.url), "/api/x", "GET")
    assert server.requests[0].headers["Authorization"] == "Bearer bearer-xyz"


# --- databricks:// URIs ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("databricks", (None, None)),
        (None, (None, None)),
        ("http://localhost:5000", (None, None)),
        ("databricks://prod", ("prod", None)),
        ("databricks://scope:prefix", ("scope", "prefix")),
        ("databricks-uc://prod", ("prod", None)),
    ],
)
def test_get_db_info_from_uri(uri, expected):
    assert get_db_info_from_uri(uri) == expected


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("databricks:/prod", "no netloc in URI"),
        ("databricks://scope:a:b", "Key prefixes cannot contain ':'"),
        ("databricks://scope:", "Key prefixes cannot be empty"),
    ],
)
def test_bad_databricks_uris(uri, message):
    with pytest.raises(MlflowException, match=message):
        get_db_info_from_uri(uri)


def test_is_databricks_uri():
    assert is_databricks_uri("databricks") and is_databricks_uri("databricks://p")
    assert not is_databricks_uri("http://h") and not is_databricks_uri(None)


# --- Databricks credentials ------------------------------------------------------------------
def test_nothing_configured_gives_mlflows_message():
    with pytest.raises(MlflowException) as info:
        get_databricks_host_creds("databricks")
    message = str(info.value)
    assert message.startswith(
        "Reading Databricks credential configuration failed with MLflow tracking URI 'databricks'."
    )
    assert "DATABRICKS_HOST + DATABRICKS_TOKEN" in message


def test_missing_named_profile(isolated_environment):
    (isolated_environment / ".databrickscfg").write_text("[DEFAULT]\nhost = h\ntoken = t\n")
    with pytest.raises(MlflowException, match="tracking URI 'databricks://absent'"):
        get_databricks_host_creds("databricks://absent")


def test_config_profile_variable_selects_the_profile(isolated_environment, monkeypatch):
    with FakeWorkspace(pat=PAT) as ws:
        (isolated_environment / ".databrickscfg").write_text(
            f"[DEFAULT]\nhost = https://default.example.com\ntoken = other\n\n"
            f"[dev]\nhost = {ws.url}\ntoken = {PAT}\n"
        )
        monkeypatch.setenv("DATABRICKS_CONFIG_PROFILE", "dev")
        creds = get_databricks_host_creds()
        assert (creds.host, creds.token, creds.databricks_auth_profile) == (ws.url, PAT, "dev")
        assert http_request(creds, "/api/2.0/x", "GET").status_code == 200


async def test_async_variant_runs_in_a_thread(monkeypatch):
    with FakeWorkspace(pat=PAT) as ws:
        monkeypatch.setenv("DATABRICKS_HOST", ws.url)
        monkeypatch.setenv("DATABRICKS_TOKEN", PAT)
        creds = await aget_databricks_host_creds("databricks")
    assert creds.host == ws.url and creds.use_databricks_sdk is True


def test_without_the_sdk_the_file_is_read_directly(isolated_environment, monkeypatch):
    monkeypatch.setenv("MLFLOW_ENABLE_DB_SDK", "false")
    (isolated_environment / ".databrickscfg").write_text(
        "[DEFAULT]\nhost = https://adb-1.azuredatabricks.net\ntoken = file-token\ninsecure = true\n"
        "\n[basic]\nhost = https://basic.example.com\nusername = u\npassword = p\n"
    )
    creds = get_databricks_host_creds()
    assert creds == MlflowHostCreds(
        "https://adb-1.azuredatabricks.net", token="file-token", ignore_tls_verification=True
    )
    basic = get_databricks_host_creds("databricks://basic")
    assert (basic.username, basic.password, basic.use_databricks_sdk) == ("u", "p", False)


def test_without_the_sdk_the_environment_wins_over_the_file(isolated_environment, monkeypatch):
    monkeypatch.setenv("MLFLOW_ENABLE_DB_SDK", "false")
    (isolated_environment / ".databrickscfg").write_text("[DEFAULT]\nhost = f\ntoken = t\n")
    monkeypatch.setenv("DATABRICKS_HOST", "https://env.example.com")
    monkeypatch.setenv("DATABRICKS_TOKEN", "env-token")
    creds = get_databricks_host_creds()
    assert (creds.host, creds.token) == ("https://env.example.com", "env-token")


def test_secret_scope_uri_outside_a_databricks_runtime():
    with pytest.raises(MlflowException) as info:
        get_databricks_host_creds("databricks://my-scope:my-prefix")
    message = str(info.value)
    assert "'databricks secrets put-secret my-scope my-prefix-host'" in message
    assert "only a Databricks runtime provides" in message


class _Secrets:
    def __init__(self, values):
        self._values = values

    def get(self, scope, key):
        return self._values[(scope, key)]


class _DbUtils:
    def __init__(self, values):
        self.secrets = _Secrets(values)


def test_secret_scope_uri_in_a_runtime_goes_through_the_sdk(monkeypatch):
    with FakeWorkspace(pat=PAT) as ws:
        dbutils = _DbUtils({("scope", "pfx-host"): ws.url, ("scope", "pfx-token"): PAT})
        monkeypatch.setattr(databricks_utils, "_get_dbutils", lambda: dbutils)
        creds = get_databricks_host_creds("databricks://scope:pfx")
        assert creds == MlflowHostCreds(
            ws.url, token=PAT, use_databricks_sdk=True, use_secret_scope_token=True
        )
        assert http_request(creds, "/api/2.0/x", "GET").status_code == 200
    assert ws.api_requests()[0].headers["Authorization"] == f"Bearer {PAT}"


def test_unreachable_host_does_not_hang_the_sdk_check(monkeypatch):
    with LoopbackServer() as closed:
        url = closed.url  # nothing listens on this port once the server is gone
    monkeypatch.setattr(databricks_utils, "_SDK_CHECK_RETRY_TIMEOUT_SECONDS", 1)
    monkeypatch.setenv("DATABRICKS_HOST", url)
    monkeypatch.setenv("DATABRICKS_TOKEN", PAT)
    creds = get_databricks_host_creds()
    assert (creds.host, creds.token, creds.use_databricks_sdk) == (url, PAT, True)


def test_oauth_creds_with_a_failing_sdk_config_report_the_sdk_error(monkeypatch, tmp_path):
    """Without this, the request would later advise enabling MLFLOW_ENABLE_DB_SDK, already on."""
    secret = "oauth-client-secret-value"
    monkeypatch.setenv("DATABRICKS_HOST", "https://adb-1.2.azuredatabricks.net")
    monkeypatch.setenv("DATABRICKS_CLIENT_ID", "client-id")
    monkeypatch.setenv("DATABRICKS_CLIENT_SECRET", secret)
    monkeypatch.delenv("DATABRICKS_TOKEN", raising=False)
    monkeypatch.delenv("DATABRICKS_CONFIG_PROFILE", raising=False)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "missing.cfg"))
    monkeypatch.setenv("MLFLOW_ENABLE_DB_SDK", "true")

    def failing_config(*args, **kwargs):
        raise ValueError("default auth: oauth-m2m: token endpoint unreachable, client_secret=***")

    failing_config.cache_clear = lambda: None  # the suite's autouse fixture clears the cache
    monkeypatch.setattr(databricks_utils, "_sdk_config_values", failing_config)
    with pytest.raises(MlflowException) as info:
        databricks_utils.get_databricks_host_creds("databricks")
    message = str(info.value)
    assert "databricks-sdk could not be configured" in message
    assert "token endpoint unreachable" in message
    assert "MLFLOW_ENABLE_DB_SDK" not in message
    assert secret not in message
