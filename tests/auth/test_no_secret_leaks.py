"""No secret appears in logs (DEBUG, every logger), reprs or error texts, across every auth mode,
on success and on failure."""

from __future__ import annotations

import logging
import traceback

import pytest
from aiohttp import web

from mlflow.exceptions import MlflowException
from mlflow.tracking.request_auth.registry import fetch_auth
from mlflow.utils.aws_sigv4 import get_sigv4_auth
from mlflow.utils.credentials import get_default_host_creds, read_mlflow_creds
from mlflow.utils.databricks_sdk_transport import get_databricks_sdk_transport
from mlflow.utils.databricks_utils import get_databricks_host_creds
from mlflow.utils.rest_utils import MlflowHostCreds, http_request
from tests.auth.helpers import FakeWorkspace, LoopbackServer, Recorded, json_response
from tests.auth.test_plugins import requires_plugin

pytestmark = pytest.mark.timeout(90)

PAT = "dapi-LEAKCHECK-pat-0001"
WRONG_PAT = "dapi-LEAKCHECK-wrong-0002"
CLIENT_SECRET = "LEAKCHECK-client-secret-0003"
PASSWORD = "LEAKCHECK-password-0004"
AWS_SECRET = "LEAKCHECK/aws+secret-0005"
AWS_TOKEN = "LEAKCHECK-aws-session-0006"
PLUGIN_SECRET = "LEAKCHECK-plugin-0007"
TRACKING_TOKEN = "LEAKCHECK-tracking-token-0008"
SECRETS = (PAT, WRONG_PAT, CLIENT_SECRET, PASSWORD, AWS_SECRET, AWS_TOKEN, PLUGIN_SECRET,
           TRACKING_TOKEN)


class Failing(LoopbackServer):
    async def handle(self, r: Recorded) -> web.StreamResponse:
        return json_response(500, {"error_code": "INTERNAL_ERROR", "message": "server broke"})


def _texts_of(error: BaseException) -> list[str]:
    """The message, repr and full formatted traceback (with chained causes) of an error."""
    return [str(error), repr(error), "".join(traceback.format_exception(error))]


def _assert_clean(texts, where: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"secret {secret!r} leaked in {where}: {text[:300]!r}"


@pytest.fixture
def debug_logs(caplog):
    caplog.set_level(logging.DEBUG)
    names = ("databricks", "urllib3", "aiohttp", "botocore", "mlflow", "async_core")
    previous = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield caplog
    for name, level in previous.items():
        logging.getLogger(name).setLevel(level)
    records = caplog.get_records("call")
    assert records, "DEBUG logging captured nothing: the scan would prove nothing"
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    _assert_clean([formatter.format(r) for r in records], "logs")


def test_databricks_flows(monkeypatch, debug_logs):
    texts, errors = [], []
    with FakeWorkspace(pat=PAT, client_id="cid", client_secret=CLIENT_SECRET) as ws:
        pat = MlflowHostCreds(ws.url, token=PAT, use_databricks_sdk=True)
        m2m = MlflowHostCreds(
            ws.url, client_id="cid", client_secret=CLIENT_SECRET, use_databricks_sdk=True
        )
        wrong = MlflowHostCreds(ws.url, token=WRONG_PAT, use_databricks_sdk=True)
        texts += [repr(pat), repr(m2m), str(wrong), repr(get_databricks_sdk_transport(m2m, 5, 9))]
        assert http_request(pat, "/api/2.0/x", "GET").status_code == 200
        assert http_request(m2m, "/api/2.0/x", "POST", json={"q": 1}).status_code == 200
        denied = http_request(wrong, "/api/2.0/x", "GET")
        assert denied.status_code == 401
        texts += [denied.text, denied.reason]

        ws.fallback = (500, {"error_code": "INTERNAL_ERROR", "message": "boom"}, None)
        failed = http_request(pat, "/api/2.0/x", "GET", max_retries=1, backoff_factor=0,
                              backoff_jitter=0)
        texts += [failed.text, failed.reason]

        # A configuration the SDK rejects while secrets sit in the environment.
        monkeypatch.setenv("DATABRICKS_TOKEN", PAT)
        monkeypatch.setenv("DATABRICKS_CLIENT_SECRET", CLIENT_SECRET)
        bad = MlflowHostCreds(ws.url, databricks_auth_profile="absent", use_databricks_sdk=True)
        with pytest.raises(MlflowException) as info:
            http_request(bad, "/api/2.0/x", "GET")
        errors.append(info.value)

        monkeypatch.setenv("DATABRICKS_HOST", ws.url)
        monkeypatch.delenv("DATABRICKS_TOKEN")
        monkeypatch.setenv("DATABRICKS_CLIENT_ID", "cid")
        texts.append(repr(get_databricks_host_creds()))

        monkeypatch.setenv("MLFLOW_ENABLE_DB_SDK", "false")
        with pytest.raises(MlflowException) as info:
            http_request(get_databricks_host_creds(), "/api/2.0/x", "GET")
        errors.append(info.value)
    _assert_clean(texts, "reprs and responses")
    for error in errors:
        _assert_clean(_texts_of(error), "errors")


def test_sigv4_and_basic_flows(monkeypatch, debug_logs):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIALEAKCHECK")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", AWS_TOKEN)
    errors, texts = [], [repr(get_sigv4_auth())]
    with Failing() as server:
        # Signed, answered 500 until the retries run out.
        monkeypatch.setenv("AWS_REGION", "us-east-1")
        with pytest.raises(MlflowException) as info:
            http_request(MlflowHostCreds(server.url, aws_sigv4=True), "/api/x", "GET",
                         max_retries=1, backoff_factor=0, backoff_jitter=0)
        errors.append(info.value)
        monkeypatch.delenv("AWS_REGION")
        with pytest.raises(MlflowException) as info:
            http_request(MlflowHostCreds(server.url, aws_sigv4=True), "/api/x", "GET")
        errors.append(info.value)

        basic = MlflowHostCreds(server.url, username="u", password=PASSWORD)
        texts.append(repr(basic))
        with pytest.raises(MlflowException) as info:
            http_request(basic, "/api/x", "GET", max_retries=0)
        errors.append(info.value)

        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", PASSWORD)
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", TRACKING_TOKEN)
        texts += [repr(get_default_host_creds(server.url)), repr(read_mlflow_creds())]
        port = server.url.rsplit(":", 1)[1]
    # Nothing listens any more: a connection error, with credentials in the URL.
    with pytest.raises(MlflowException) as info:
        http_request(MlflowHostCreds(f"http://u:{PASSWORD}@127.0.0.1:{port}"), "/api/x", "GET",
                     max_retries=0)
    errors.append(info.value)
    _assert_clean(texts, "reprs")
    for error in errors:
        _assert_clean(_texts_of(error), "errors")


@requires_plugin
def test_plugin_flows(monkeypatch, debug_logs):
    monkeypatch.setenv("MLFLOW_AIO_TEST_PLUGIN_SECRET", PLUGIN_SECRET)
    texts = [repr(fetch_auth("test_signer")), repr(fetch_auth("test_headers"))]
    with Failing() as server, pytest.raises(MlflowException) as info:
        http_request(MlflowHostCreds(server.url, auth="test_headers"), "/api/x", "GET",
                     max_retries=0)
    _assert_clean(texts, "reprs")
    _assert_clean(_texts_of(info.value), "errors")
