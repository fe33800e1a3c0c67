"""``ignore_tls_verification=True`` (or ``verify=False``) warns as MLflow's requests path does:
urllib3's ``InsecureRequestWarning`` with urllib3's text, once per request."""

from __future__ import annotations

import warnings
from urllib.parse import urlsplit

from urllib3.exceptions import InsecureRequestWarning

from mlflow.utils.rest_utils import MlflowHostCreds


def _expected(host: str) -> str:
    # urllib3 2.x, connectionpool.HTTPSConnectionPool._validate_conn
    return (
        f"Unverified HTTPS request is being made to host '{host}'. "
        "Adding certificate verification is strongly advised. See: "
        "https://urllib3.readthedocs.io/en/latest/advanced-usage.html#tls-warnings"
    )


def _insecure(caught) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, InsecureRequestWarning)]


async def test_ignore_tls_verification_warns_once_per_request(call, tls_server):
    creds = MlflowHostCreds(tls_server.url, ignore_tls_verification=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert (await call(creds, "/x", "GET")).status_code == 200
        assert (await call(creds, "/y", "POST", json={"a": 1})).status_code == 200
    host = urlsplit(tls_server.url).hostname
    assert _insecure(caught) == [_expected(host), _expected(host)]


async def test_verify_false_kwarg_warns_too(call, tls_server):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        response = await call(MlflowHostCreds(tls_server.url), "/x", "GET", verify=False)
    assert response.status_code == 200
    assert _insecure(caught) == [_expected(urlsplit(tls_server.url).hostname)]


async def test_verified_requests_do_not_warn(call, tls_server, tls_files):
    creds = MlflowHostCreds(tls_server.url, server_cert_path=tls_files.ca_bundle)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert (await call(creds, "/x", "GET")).status_code == 200
    assert _insecure(caught) == []
