"""Apply a ``requests`` auth object (``AuthBase`` or any callable taking a PreparedRequest) to
an engine request, once per attempt, so signatures with timestamps are fresh on every retry."""

from __future__ import annotations

import asyncio
from typing import Any

import requests

from async_core import Request


# Signers that do real work (SigV4 with botocore credential lookups, token refresh) run in a
# worker thread; plain header setters are cheap enough to run inline.
def _inline_auth_types() -> tuple[type, ...]:
    from mlflow.tracking.request_auth.registry import HeadersAuth

    return (requests.auth.HTTPBasicAuth, HeadersAuth)


def _apply(auth: Any, request: Request) -> Request:
    prepared = requests.PreparedRequest()
    prepared.method = request.method
    prepared.url = request.url
    prepared.headers = requests.structures.CaseInsensitiveDict(request.headers)
    prepared.body = request.body
    prepared._cookies = None
    prepared.hooks = {"response": []}
    signed = auth(prepared) or prepared
    return request.copy_with_headers(dict(signed.headers), url=signed.url)


def requests_auth_hook(auth: Any):
    """An ``async_core.Auth`` hook from a requests auth object or a (user, password) tuple."""
    if isinstance(auth, tuple) and len(auth) == 2:
        auth = requests.auth.HTTPBasicAuth(*auth)
    if not callable(auth):
        raise TypeError(f"Unsupported auth object of type {type(auth).__name__}")
    inline = isinstance(auth, _inline_auth_types())

    async def hook(request: Request) -> Request:
        if inline:
            return _apply(auth, request)
        return await asyncio.to_thread(_apply, auth, request)

    return hook
