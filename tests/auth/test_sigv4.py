"""SigV4 (MlflowHostCreds(aws_sigv4=True)): a loopback server recomputes every signature with
botocore's SigV4Auth for the same request and timestamp; they must match."""

from __future__ import annotations

import datetime as real_datetime
from collections import deque

import pytest
from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from mlflow.exceptions import MlflowException
from mlflow.utils import aws_sigv4
from mlflow.utils.aws_sigv4 import _canonical_path, _RequestSigner, get_sigv4_auth
from mlflow.utils.credentials import get_default_host_creds
from mlflow.utils.rest_utils import MlflowHostCreds, ahttp_request, http_request
from tests.auth.helpers import LoopbackServer, Recorded, json_response
from tests.auth.sigv4_verify import expected_signature

pytestmark = pytest.mark.timeout(60)

ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYzz-sigv4-secret"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE-session-token"
REGION = "eu-central-1"


class SigV4Server(LoopbackServer):
    """An API-Gateway-like server: answers 403 unless the signature verifies; ``statuses`` can
    script answers (e.g. a 503 before the 200) for signed requests."""

    def __init__(self, token: str | None = None, region: str = REGION,
                 access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY) -> None:
        super().__init__()
        self.token, self.region = token, region
        self.access_key, self.secret_key = access_key, secret_key
        self.statuses: deque[int] = deque()

    async def handle(self, r: Recorded) -> web.StreamResponse:
        if "Authorization" not in r.headers:
            return json_response(403, {"message": "Missing Authentication Token"})
        expected, received = expected_signature(
            r, self.access_key, self.secret_key, self.token, self.region
        )
        if expected != received:
            return json_response(403, {"message": "signature mismatch"})
        status = self.statuses.popleft() if self.statuses else 200
        return json_response(status, {"verified": True, "path": r.path})


def _set_env_credentials(monkeypatch, token: str | None = None) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    if token:
        monkeypatch.setenv("AWS_SESSION_TOKEN", token)
    monkeypatch.setenv("AWS_REGION", REGION)


def _assert_verified(server: SigV4Server, r: Recorded) -> None:
    expected, received = expected_signature(
        r, server.access_key, server.secret_key, server.token, server.region
    )
    assert expected == received


def test_get_with_query_matches_botocore(monkeypatch):
    _set_env_credentials(monkeypatch)
    with SigV4Server() as server:
        creds = MlflowHostCreds(server.url, aws_sigv4=True)
        # 'a' and 'a-b': the spec sorts by name, a plain string sort would put 'a-b' first.
        params = {"b": "2", "a-b": "z", "a": "x y", "tilde~": "é"}
        response = http_request(creds, "/prod/api/2.0/endpoints/", "GET", params=params)
    assert response.status_code == 200, response.text
    (recorded,) = server.requests
    _assert_verified(server, recorded)
    assert recorded.headers["X-Amz-Date"]
    authorization = recorded.headers["Authorization"]
    assert authorization.startswith(f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/")
    assert dict(recorded.query) == params


async def test_post_json_with_session_token_matches_botocore(monkeypatch):
    _set_env_credentials(monkeypatch, token=SESSION_TOKEN)
    with SigV4Server(token=SESSION_TOKEN) as server:
        creds = MlflowHostCreds(server.url, aws_sigv4=True)
        payload = {"inputs": [1, 2, 3], "text": "ünïcode"}
        response = await ahttp_request(creds, "/api/2.0/predict", "POST", json=payload)
    assert response.status_code == 200, response.text
    (recorded,) = server.requests
    _assert_verified(server, recorded)
    assert recorded.json() == payload
    assert recorded.headers["X-Amz-Security-Token"] == SESSION_TOKEN
    assert "x-amz-security-token" in recorded.headers["Authorization"]


class _MovingClock:
    """The signer's clock: each reading returns the next time (the last one repeats)."""

    def __init__(self, *times: real_datetime.datetime) -> None:
        self._times = list(times)

    def __call__(self) -> real_datetime.datetime:
        return self._times.pop(0) if len(self._times) > 1 else self._times[0]


def test_each_retry_is_signed_again(monkeypatch):
    _set_env_credentials(monkeypatch)
    t0 = real_datetime.datetime(2024, 5, 17, 23, 59, 58, tzinfo=real_datetime.timezone.utc)
    # The second attempt is signed on the next day: date, scope and signature all change.
    clock = _MovingClock(t0, t0 + real_datetime.timedelta(seconds=7))
    monkeypatch.setattr(aws_sigv4, "_utcnow", clock)
    with SigV4Server() as server:
        server.statuses.append(503)
        creds = MlflowHostCreds(server.url, aws_sigv4=True)
        response = http_request(
            creds, "/api/2.0/x", "POST", json={"a": 1}, max_retries=2, backoff_factor=0,
            backoff_jitter=0,
        )
    assert response.status_code == 200, response.text
    first, second = server.requests
    assert first.headers["X-Amz-Date"] == "20240517T235958Z"
    assert second.headers["X-Amz-Date"] == "20240518T000005Z"
    signature = lambda r: r.headers["Authorization"].rsplit("Signature=", 1)[1]  # noqa: E731
    assert signature(first) != signature(second)
    _assert_verified(server, first)
    _assert_verified(server, second)


def test_path_with_repeated_slashes_and_dot_segments(monkeypatch):
    _set_env_credentials(monkeypatch)
    with SigV4Server() as server:
        creds = MlflowHostCreds(f"{server.url}/stage/", aws_sigv4=True)
        response = http_request(creds, "//api/2.0/./a%20b/", "GET")
    assert response.status_code == 200, response.text
    _assert_verified(server, server.requests[0])


def test_credentials_and_region_from_botocore_profile_files(isolated_environment):
    aws_dir = isolated_environment / ".aws"
    aws_dir.mkdir()
    (aws_dir / "credentials").write_text(
        f"[default]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n"
    )
    (aws_dir / "config").write_text("[default]\nregion = ap-south-1\n")
    with SigV4Server(region="ap-south-1") as server:
        response = http_request(MlflowHostCreds(server.url, aws_sigv4=True), "/api/x", "GET")
    assert response.status_code == 200, response.text
    _assert_verified(server, server.requests[0])


def test_env_credentials_without_botocore(monkeypatch):
    _set_env_credentials(monkeypatch, token=SESSION_TOKEN)
    monkeypatch.setattr(aws_sigv4, "_botocore_session_module", lambda: None)
    with SigV4Server(token=SESSION_TOKEN) as server:
        response = http_request(
            MlflowHostCreds(server.url, aws_sigv4=True), "/api/x", "PUT", data=b"raw-bytes"
        )
    assert response.status_code == 200, response.text
    assert server.requests[0].body == b"raw-bytes"


def test_tracking_env_var_turns_sigv4_on(monkeypatch):
    _set_env_credentials(monkeypatch)
    monkeypatch.setenv("MLFLOW_TRACKING_AWS_SIGV4", "true")
    with SigV4Server() as server:
        response = http_request(get_default_host_creds(server.url), "/api/x", "GET")
    assert response.status_code == 200, response.text


def test_missing_credentials_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("AWS_REGION", REGION)
    missing = pytest.raises(MlflowException, match="AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
    with SigV4Server() as server, missing:
        http_request(MlflowHostCreds(server.url, aws_sigv4=True), "/api/x", "GET")
    assert server.requests == []


def test_missing_region_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    missing = pytest.raises(MlflowException, match="Set AWS_REGION or AWS_DEFAULT_REGION")
    with SigV4Server() as server, missing as info:
        http_request(MlflowHostCreds(server.url, aws_sigv4=True), "/api/x", "GET")
    assert server.requests == []
    assert SECRET_KEY not in str(info.value)


def test_default_region_variable_is_used(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    with SigV4Server(region="us-west-2") as server:
        response = http_request(MlflowHostCreds(server.url, aws_sigv4=True), "/api/x", "GET")
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "query",
    ["a-b=z&a=x+y&b=2", "b=2&b=1&a=", "z=%2F&y=%20&x", "list=1&list=0&List=2"],
)
def test_canonical_query_string_is_botocore_s(query):
    class Prepared:
        url = f"https://api.example.com/p?{query}"

    request = AWSRequest(method="GET", url=Prepared.url)
    botocore_form = SigV4Auth(Credentials("a", "b"), "execute-api", REGION).canonical_query_string(
        request
    )
    assert _RequestSigner.get_canonical_querystring(Prepared) == botocore_form


@pytest.mark.parametrize("path", ["/", "", "/a//b/", "/a/./b/../c", "/a%2Fb/c~d", "/x y/é"])
def test_canonical_path_is_botocore_s(path):
    url = f"https://api.example.com{path}"
    signer = SigV4Auth(Credentials("a", "b"), "execute-api", REGION)
    assert _canonical_path(url) == signer._normalize_url_path(path)


def test_get_sigv4_auth_is_cheap_and_reprs_no_secret(monkeypatch):
    _set_env_credentials(monkeypatch, token=SESSION_TOKEN)
    auth = get_sigv4_auth()
    assert auth.service == "execute-api"
    assert SECRET_KEY not in repr(auth) and SESSION_TOKEN not in repr(auth)
