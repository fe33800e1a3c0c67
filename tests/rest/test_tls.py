"""TLS against a loopback HTTPS server whose certificate comes from a trustme CA."""

from __future__ import annotations

import socket
import ssl
import struct
import threading
import time

import pytest

from async_core import TLSError
from mlflow.exceptions import MlflowException
from mlflow.utils.rest_utils import MlflowHostCreds

RETRYING = {"max_retries": 3, "backoff_factor": 0, "backoff_jitter": 0}


async def test_verified_by_default_an_unknown_ca_fails_without_retrying(call, tls_server):
    with pytest.raises(MlflowException) as info:
        await call(MlflowHostCreds(tls_server.url), "/x", "GET", **RETRYING)
    message = str(info.value)
    assert message.startswith(f"API request to {tls_server.url}/x failed with exception")
    assert "CERTIFICATE_VERIFY_FAILED" in message or "certificate verify failed" in message
    assert tls_server.attempts == []
    assert tls_server.connections == 1  # a certificate failure is deterministic: no retry


async def test_server_cert_path_is_a_ca_bundle(call, tls_server, tls_files):
    creds = MlflowHostCreds(tls_server.url, server_cert_path=tls_files.ca_bundle)
    response = await call(creds, "/x", "POST", json={"a": 1})
    assert response.status_code == 200
    assert tls_server.attempts[-1].json() == {"a": 1}


async def test_localhost_name_is_verified_too(call, tls_server, tls_files):
    creds = MlflowHostCreds(tls_server.url.replace("127.0.0.1", "localhost"),
                            server_cert_path=tls_files.ca_bundle)
    assert (await call(creds, "/x", "GET")).status_code == 200


async def test_ignore_tls_verification(call, tls_server):
    creds = MlflowHostCreds(tls_server.url, ignore_tls_verification=True)
    with pytest.warns(Warning, match="Unverified HTTPS request"):  # as requests warns
        response = await call(creds, "/x", "GET")
    assert response.status_code == 200 and len(tls_server.attempts) == 1


async def test_requests_ca_bundle_env_is_honoured_like_requests(call, tls_server, tls_files,
                                                                 monkeypatch):
    # First a default-verified call with no bundle configured (it fails: unknown CA)...
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    with pytest.raises(MlflowException):
        await call(MlflowHostCreds(tls_server.url), "/x", "GET", max_retries=0)
    # ...then requests would pick up REQUESTS_CA_BUNDLE on the very next request.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls_files.ca_bundle)
    response = await call(MlflowHostCreds(tls_server.url), "/x", "GET", max_retries=0)
    assert response.status_code == 200


async def test_mtls_with_client_cert(call, mtls_server, tls_files):
    creds = MlflowHostCreds(
        mtls_server.url, server_cert_path=tls_files.ca_bundle,
        client_cert_path=tls_files.client_cert,
    )
    response = await call(creds, "/secure", "GET")
    assert response.status_code == 200
    assert mtls_server.paths() == ["/secure"]


@pytest.mark.parametrize("which", ["none", "untrusted"])
async def test_mtls_server_rejects_missing_or_untrusted_client_cert(call, mtls_server, tls_files,
                                                                    which):
    creds = MlflowHostCreds(
        mtls_server.url, server_cert_path=tls_files.ca_bundle,
        client_cert_path=None if which == "none" else tls_files.other_client_cert,
    )
    with pytest.raises(MlflowException, match=f"API request to {mtls_server.url}/secure failed"):
        await call(creds, "/secure", "GET", max_retries=0)
    assert mtls_server.attempts == []


async def test_mtls_missing_client_cert_is_not_retried(call, mtls_server, tls_files):
    creds = MlflowHostCreds(mtls_server.url, server_cert_path=tls_files.ca_bundle)
    with pytest.raises(MlflowException) as info:
        await call(creds, "/secure", "GET", **RETRYING)
    # aiohttp itself may reconnect once; a retried request would show 8 connections.
    assert mtls_server.connections <= 2
    assert isinstance(info.value.__cause__, TLSError)
    assert "client certificate" in str(info.value)


class _ResettingTLS13Server:
    """Finishes a TLS 1.3 handshake, reads the request, then resets the connection without an
    alert: what a client sees when a server's refusal of its certificate loses the race with the
    reset (the server dropped the client's unread request). Runs on its own thread, so the
    blocking call can reach it."""

    def __init__(self, context: ssl.SSLContext) -> None:
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        self._context = context
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.url = f"https://127.0.0.1:{self._listener.getsockname()[1]}"
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        deadline = time.monotonic() + 60
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                raw, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            raw.settimeout(10)
            try:
                with self._context.wrap_socket(raw, server_side=True) as conn:
                    conn.recv(1)
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()


async def test_a_fresh_tls13_connection_reset_before_any_answer_is_a_tls_failure(call, tls_files):
    server = _ResettingTLS13Server(tls_files.server_context())
    try:
        creds = MlflowHostCreds(server.url, server_cert_path=tls_files.ca_bundle)
        with pytest.raises(MlflowException) as info:
            await call(creds, "/secure", "GET", **RETRYING)
    finally:
        server.close()
    assert isinstance(info.value.__cause__, TLSError)
    assert "client certificate" in str(info.value)
    assert server.connections <= 2  # aiohttp itself may reconnect once; a retry would show 8


async def test_plain_http_ignores_tls_settings(call, server, tls_files):
    creds = MlflowHostCreds(server.url, server_cert_path=tls_files.ca_bundle,
                            client_cert_path=tls_files.client_cert)
    assert (await call(creds, "/x", "GET")).status_code == 200
