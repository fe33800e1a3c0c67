"""Request-header providers (initial version: the default provider only; plugins come next)."""

from __future__ import annotations

from mlflow.version import VERSION

_USER_AGENT = f"mlflow-python-client/{VERSION}"


def resolve_request_headers(request_headers=None) -> dict[str, str]:
    headers = {"User-Agent": _USER_AGENT, "X-MLflow-Client-Version": VERSION}
    if request_headers:
        headers.update(request_headers)
    return headers
