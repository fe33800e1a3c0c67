"""The registry of request-auth providers and ``fetch_auth(name)``.

Providers come from the entry-point group ``mlflow.request_auth_provider``, discovered once when
this module is first imported. Unlike MLflow, which warns and sends the request unauthenticated,
an unknown name is an error that lists the installed providers: a typo in MLFLOW_TRACKING_AUTH
should not silently drop authentication.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from importlib.metadata import EntryPoint
from typing import Any

import requests

from mlflow.environment_variables import MLFLOW_TRACKING_AUTH
from mlflow.exceptions import INVALID_PARAMETER_VALUE, MlflowException
from mlflow.tracking._entry_points import load_providers
from mlflow.tracking.request_auth.abstract_request_auth_provider import RequestAuthProvider

_logger = logging.getLogger(__name__)

REQUEST_AUTH_PROVIDER_ENTRYPOINT = "mlflow.request_auth_provider"


class HeadersAuth(requests.auth.AuthBase):
    """Sets fixed headers on each request: what a provider returning a dict of headers becomes."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._headers = {str(k): str(v) for k, v in headers.items()}

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers.update(self._headers)
        return r

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HeadersAuth) and other._headers == self._headers

    __hash__ = None  # mutable-looking equality: not hashable

    def __repr__(self) -> str:
        # Header values are credentials: show only the names.
        return f"HeadersAuth(headers={sorted(self._headers)})"


class RequestAuthProviderRegistry:
    """An ordered list of provider instances; ``register`` takes a provider class, as in MLflow."""

    __slots__ = ("_registry",)

    def __init__(self) -> None:
        self._registry: list[RequestAuthProvider] = []

    def register(self, request_auth_provider) -> None:
        self._registry.append(request_auth_provider())

    def register_entrypoints(self, entry_points: Iterable[EntryPoint] | None = None) -> None:
        self._registry.extend(
            load_providers(REQUEST_AUTH_PROVIDER_ENTRYPOINT, "request auth", entry_points)
        )

    def names(self) -> list[str]:
        found = []
        for provider in self._registry:
            try:
                found.append(str(provider.get_name()))
            except Exception:
                found.append(f"<{type(provider).__name__}: get_name() failed>")
        return found

    def __iter__(self) -> Iterator[RequestAuthProvider]:
        return iter(self._registry)


def _as_requests_auth(name: str, auth: Any) -> Any:
    """What the transport can apply per attempt: an AuthBase/callable, or a (user, password)
    tuple (HTTP Basic); a dict of headers is wrapped into a ``HeadersAuth``."""
    if isinstance(auth, Mapping):
        return HeadersAuth(auth)
    if callable(auth) or (isinstance(auth, tuple) and len(auth) == 2):
        return auth
    raise MlflowException(
        f"The request auth provider '{name}' returned an object of type "
        f"{type(auth).__name__} from get_auth(); expected a requests.auth.AuthBase (or a callable "
        "taking a requests.PreparedRequest) or a dict of headers. Fix the plugin.",
        error_code=INVALID_PARAMETER_VALUE,
    )


def fetch_auth(request_auth: str) -> Any:
    """The auth object of the registered provider named ``request_auth``.

    Raises ``MlflowException`` (INVALID_PARAMETER_VALUE) naming the installed providers when none
    has that name.
    """
    for provider in _request_auth_provider_registry:
        try:
            name = provider.get_name()
        except Exception as e:
            _logger.warning(
                "Request auth provider %s failed in get_name(): %s", type(provider).__name__, e
            )
            continue
        if name == request_auth:
            return _as_requests_auth(name, provider.get_auth())
    installed = _request_auth_provider_registry.names()
    raise MlflowException(
        f"Could not find any registered request auth provider named '{request_auth}' (set by "
        f"MlflowHostCreds(auth=...) or {MLFLOW_TRACKING_AUTH.name}). Installed providers: "
        f"{installed if installed else 'none'}. Install the plugin that provides it (entry-point "
        f"group '{REQUEST_AUTH_PROVIDER_ENTRYPOINT}') or correct the name.",
        error_code=INVALID_PARAMETER_VALUE,
    )


_request_auth_provider_registry = RequestAuthProviderRegistry()
_request_auth_provider_registry.register_entrypoints()
