"""Deployment-target helpers: the process-wide target, URI parsing and URL assembly."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from typing import Generic, TypeVar
from urllib.parse import urlparse

from mlflow.environment_variables import MLFLOW_DEPLOYMENTS_TARGET
from mlflow.exceptions import MlflowException

_deployments_target: str | None = None

T = TypeVar("T")


class PagedList(list, Generic[T]):
    """A page of results plus the ``token`` of the next page (``None`` on the last page)."""

    def __init__(self, items: Iterable[T], token: str | None) -> None:
        super().__init__(items)
        self.token = token


def parse_target_uri(target_uri: str) -> str:
    """Return the target name of a deployment URI: its scheme, or the bare word itself."""
    parsed = urlparse(target_uri)
    if not parsed.scheme:
        if parsed.path:
            # A bare target name such as "databricks" or "faketarget".
            return parsed.path
        raise MlflowException(
            f"Not a proper deployment URI: {target_uri}. "
            "Deployment URIs must be of the form 'target' or 'target:/suffix'"
        )
    return parsed.scheme


def _is_valid_uri(uri: str) -> bool:
    """True if ``uri`` has both a scheme and a network location."""
    try:
        parsed = urlparse(uri)
    except (TypeError, ValueError):
        return False
    return bool(parsed.scheme and parsed.netloc)


def _is_valid_target(target: str) -> bool:
    return target == "databricks" or _is_valid_uri(target)


def append_to_uri_path(base: str, *paths: str) -> str:
    """Join URL path segments onto ``base`` with exactly one slash between parts."""
    parsed = urlparse(base)
    path = parsed.path
    for part in paths:
        if not part:
            continue
        path = path.rstrip("/") + "/" + part.lstrip("/")
    return parsed._replace(path=path).geturl()


def join_paths(*paths: str) -> str:
    """``join_paths("/endpoints/", "chat", "/invocations") == "/endpoints/chat/invocations"``."""
    stripped = [p.strip("/") for p in paths if p and p.strip("/")]
    return "/" + posixpath.join(*stripped) if stripped else "/"


def resolve_endpoint_url(base_url: str, endpoint: str) -> str:
    """Return ``endpoint`` if it is already absolute, else ``endpoint`` joined onto ``base_url``."""
    return endpoint if _is_valid_uri(endpoint) else append_to_uri_path(base_url, endpoint)


def set_deployments_target(target: str) -> None:
    """Set the process-wide deployments target.

    Args:
        target: The full URI of a running MLflow deployments server (AI gateway) or, on
            Databricks, ``"databricks"``.
    """
    if not isinstance(target, str) or not _is_valid_target(target):
        raise MlflowException.invalid_parameter_value(
            "The target provided is not a valid uri or 'databricks'"
        )
    global _deployments_target
    _deployments_target = target


def get_deployments_target() -> str:
    """Return the target set by :func:`set_deployments_target`, else ``MLFLOW_DEPLOYMENTS_TARGET``.

    Raises:
        MlflowException: if neither is set.
    """
    if _deployments_target is not None:
        return _deployments_target
    if uri := MLFLOW_DEPLOYMENTS_TARGET.get():
        return uri
    raise MlflowException(
        "No deployments target has been set. Please either set the MLflow deployments target"
        " via `mlflow.deployments.set_deployments_target()` or set the environment variable "
        f"{MLFLOW_DEPLOYMENTS_TARGET} to the running deployment server's uri"
    )
