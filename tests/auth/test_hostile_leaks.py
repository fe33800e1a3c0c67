"""No secret leaks on any failure path: every auth mode against a raw server that misbehaves byte
by byte (redirect loop, 10,000 headers, an 8 KB header line, a malformed status line, a TLS
failure, a timeout, a truncated body, 4xx/5xx bodies echoing the request's headers).

Scanned: the exception text with its chained causes (``traceback.format_exception``), DEBUG logs
of every logger (aiohttp's included), the CLI's stderr and ``predict-batch``'s output file.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

from mlflow.exceptions import MlflowException
from mlflow.utils.rest_utils import MlflowHostCreds, http_request, verify_rest_response
from tests.auth.hostile import MODES, HostileServer

pytestmark = pytest.mark.timeout(120)
ROOT = Path(__file__).resolve().parents[2]

TOKEN = "LEAK-bearer-token-9f2c"
USER, PASSWORD = "alice", "LEAK-basic-password-77aa"
URL_PASSWORD = "LEAK-url-password-31bd"
AWS_SECRET, AWS_TOKEN = "LEAK/aws+secret-key-0c0c", "LEAK-aws-session-token-5e5e"
CLIENT_SECRET = "LEAK-oauth-client-secret-4b4b"


def _forms(secret: str) -> list[str]:
    return [secret, base64.b64encode(secret.encode()).decode()]


SECRETS = [
    *_forms(TOKEN), *_forms(PASSWORD), *_forms(f"{USER}:{PASSWORD}"), *_forms(URL_PASSWORD),
    *_forms(f"{USER}:{URL_PASSWORD}"), *_forms(AWS_SECRET), *_forms(AWS_TOKEN),
    *_forms(CLIENT_SECRET),
]


def _creds(mode: str, url: str, monkeypatch) -> MlflowHostCreds:
    if mode == "bearer":
        return MlflowHostCreds(url, token=TOKEN)
    if mode == "basic":
        return MlflowHostCreds(url, username=USER, password=PASSWORD)
    if mode == "url_password":
        scheme, rest = url.split("://")
        return MlflowHostCreds(f"{scheme}://{USER}:{URL_PASSWORD}@{rest}")
    if mode == "sigv4":
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIALEAKCHECK")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
        monkeypatch.setenv("AWS_SESSION_TOKEN", AWS_TOKEN)
        monkeypatch.setenv("AWS_REGION", "us-east-1")
        return MlflowHostCreds(url, aws_sigv4=True)
    assert mode == "oauth"
    return MlflowHostCreds(url, client_id="cid", client_secret=CLIENT_SECRET,
                           use_databricks_sdk=True)


def _assert_clean(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked in {where}: {text[:400]!r}"


AUTH_MODES = ["bearer", "basic", "url_password", "sigv4", "oauth"]


@pytest.mark.parametrize("failure", MODES)
@pytest.mark.parametrize("auth", AUTH_MODES)
def test_no_secret_in_errors_or_logs(auth, failure, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)  # the root: every logger, aiohttp's included
    for name in ("aiohttp", "asyncio", "databricks", "urllib3", "mlflow", "async_core"):
        monkeypatch.setattr(logging.getLogger(name), "level", logging.DEBUG)
    with HostileServer(failure) as server:
        url = server.url.replace("http://", "https://") if failure == "not_tls" else server.url
        creds = _creds(auth, url, monkeypatch)
        texts = []
        try:
            response = http_request(
                creds, "/api/2.0/x", "POST", json={"q": 1}, max_retries=1, backoff_factor=0,
                backoff_jitter=0, timeout=0.5, retry_timeout_seconds=1.5,
            )
            # The body is the caller's own data; what MLflow copies into an error must be clean.
            verify_rest_response(response, "/api/2.0/x")  # MLflow copies the body into errors
        except MlflowException as error:
            texts.append("".join(traceback.format_exception(error)))
            texts.append(repr(error))
        else:
            pytest.fail(f"{failure} did not fail")
        if auth != "oauth" and failure != "not_tls":
            assert server.requests, "the request never reached the hostile server"
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s %(exc_text)s")
    records = caplog.get_records("call")
    assert any(r.levelno == logging.WARNING and "Retrying" in r.getMessage() for r in records) or (
        failure in ("echo_400", "not_tls", "redirect_loop", "many_headers", "long_header",
                    "bad_status") or auth == "oauth"
    ), "a retried failure logs its retry"
    for record in records:
        if record.exc_info:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info))
        texts.append(formatter.format(record))
    for text in texts:
        _assert_clean(text, f"{auth}/{failure}")


def _cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from mlflow.cli import cli; cli()", "deployments", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=90,
    )


@pytest.mark.parametrize("failure", ["bad_status", "echo_500", "echo_400", "redirect_loop",
                                     "long_header", "truncated"])
def test_no_secret_in_cli_stderr_or_batch_output(failure, tmp_path):
    with HostileServer(failure) as server:
        target = server.url.replace("http://", f"http://{USER}:{URL_PASSWORD}@")
        env = {**os.environ, "PYTHONPATH": str(ROOT), "MLFLOW_TRACKING_TOKEN": TOKEN,
               "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "0",
               "MLFLOW_DEPLOYMENT_PREDICT_TIMEOUT": "2", "MLFLOW_DEPLOYMENTS_CLIENT_THROTTLE":
               "false"}
        inputs = tmp_path / "in.json"
        inputs.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}]}))
        single = _cli("predict", "-t", target, "--endpoint", "chat", "-I", str(inputs), env=env)
        batch_in, batch_out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
        batch_in.write_text(inputs.read_text() + "\n" + inputs.read_text() + "\n")
        batch = _cli("predict-batch", "-t", target, "--endpoint", "chat", "-I", str(batch_in),
                     "-O", str(batch_out), env=env)
        assert server.requests, f"the CLI never reached the server: {single.stderr[-800:]}"
    assert single.returncode != 0
    for where, text in [("predict stderr", single.stderr), ("predict stdout", single.stdout),
                        ("batch stderr", batch.stderr), ("batch stdout", batch.stdout),
                        ("batch file", batch_out.read_text() if batch_out.exists() else "")]:
        _assert_clean(text, f"{failure}: {where}")
