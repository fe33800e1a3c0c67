"""The base class of request-auth providers (plugins: entry-point group
``mlflow.request_auth_provider``)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any


class RequestAuthProvider(ABC):
    """A named way to authenticate outgoing requests.

    ``MlflowHostCreds(auth="<name>")`` (or ``MLFLOW_TRACKING_AUTH=<name>``) selects the registered
    provider whose ``get_name()`` is ``<name>``; its ``get_auth()`` result is applied to every
    attempt of every request: a ``requests.auth.AuthBase`` (or any callable taking and returning a
    ``requests.PreparedRequest``), or a plain dict of headers to set.
    """

    @abstractmethod
    def get_name(self) -> str:
        """The provider's name."""

    @abstractmethod
    def get_auth(self) -> Any:
        """The auth object: an ``AuthBase``/callable, or a dict of headers."""
