"""Two request-auth providers: one returns a requests AuthBase, the other a dict of headers.

Both read their secret from the environment when asked, so the tests choose the values.
"""

from __future__ import annotations

import itertools
import os

import requests

from mlflow.tracking.request_auth.abstract_request_auth_provider import RequestAuthProvider

SIGNER_SECRET_ENV = "MLFLOW_AIO_TEST_PLUGIN_SECRET"


class CountingSigner(requests.auth.AuthBase):
    """Sets a bearer token and a per-call sequence number (shows it runs once per attempt)."""

    def __init__(self, secret: str) -> None:
        self._secret = secret
        self._calls = itertools.count(1)

    def __call__(self, r):
        r.headers["Authorization"] = f"Bearer {self._secret}"
        r.headers["X-Test-Plugin-Attempt"] = str(next(self._calls))
        return r

    def __repr__(self) -> str:
        return "CountingSigner(secret='***')"


class SigningAuthProvider(RequestAuthProvider):
    def get_name(self):
        return "test_signer"

    def get_auth(self):
        return CountingSigner(os.environ.get(SIGNER_SECRET_ENV, "plugin-default-secret"))


class HeadersAuthProvider(RequestAuthProvider):
    def get_name(self):
        return "test_headers"

    def get_auth(self):
        return {"X-Api-Key": os.environ.get(SIGNER_SECRET_ENV, "plugin-default-secret")}
