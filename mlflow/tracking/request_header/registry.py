"""The registry of request-header providers and ``resolve_request_headers``, run on every request.

Providers: the default one, then those of the entry-point group ``mlflow.request_header_provider``
(discovered once, when this module is first imported). Merging is case-insensitive on the header
name; a header set by two providers gets both values joined with a space, as MLflow does for
``User-Agent``. Headers passed to ``resolve_request_headers`` replace the merged ones.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from importlib.metadata import EntryPoint

from mlflow.tracking._entry_points import load_providers
from mlflow.tracking.request_header.abstract_request_header_provider import RequestHeaderProvider
from mlflow.tracking.request_header.default_request_header_provider import (
    _DEFAULT_HEADERS,
    DefaultRequestHeaderProvider,
)

_logger = logging.getLogger(__name__)

REQUEST_HEADER_PROVIDER_ENTRYPOINT = "mlflow.request_header_provider"


class RequestHeaderProviderRegistry:
    """An ordered list of provider instances; ``register`` takes a provider class, as in MLflow."""

    __slots__ = ("_registry",)

    def __init__(self) -> None:
        self._registry: list[RequestHeaderProvider] = []

    def register(self, request_header_provider) -> None:
        self._registry.append(request_header_provider())

    def register_entrypoints(self, entry_points: Iterable[EntryPoint] | None = None) -> None:
        """Register the providers of installed plugins (``entry_points`` overrides discovery)."""
        self._registry.extend(
            load_providers(REQUEST_HEADER_PROVIDER_ENTRYPOINT, "request header", entry_points)
        )

    def __iter__(self) -> Iterator[RequestHeaderProvider]:
        return iter(self._registry)

    def __len__(self) -> int:
        return len(self._registry)


def _merge(providers: Iterable[RequestHeaderProvider]) -> dict[str, tuple[str, str]]:
    merged: dict[str, tuple[str, str]] = {}  # lower-cased name -> (name as first set, value)
    for provider in providers:
        if provider.__class__ is DefaultRequestHeaderProvider:
            # Always in context, constant headers: merged without the calls and the dict copy.
            for key, name, value in _DEFAULT_ITEMS:
                previous = merged.get(key)
                merged[key] = (previous[0], f"{previous[1]} {value}") if previous else (name, value)
            continue
        try:
            if not provider.in_context():
                continue
            for name, value in provider.request_headers().items():
                key = name.lower()
                previous = merged.get(key)
                merged[key] = (previous[0], f"{previous[1]} {value}") if previous else (name, value)
        except Exception as e:
            _logger.warning(
                "Encountered unexpected error during resolving request headers from %s: %s",
                type(provider).__name__, e,
            )
    return merged


def _with_defaults(request_headers: Mapping[str, str] | None) -> dict[str, str]:
    """The default headers with ``request_headers`` applied (replacing any name, in any case)."""
    headers = dict(_DEFAULT_HEADERS)
    if request_headers:
        for name, value in request_headers.items():
            default_name = _DEFAULT_NAMES.get(name.lower())
            if default_name is not None:
                del headers[default_name]
            headers[name] = value
    return headers


def resolve_request_headers(request_headers: Mapping[str, str] | None = None) -> dict[str, str]:
    """A new dict of the headers of every in-context provider, in registration order, with
    ``request_headers`` applied last (they replace a merged header of the same name)."""
    providers = _request_header_provider_registry._registry
    if len(providers) == 1 and providers[0].__class__ is DefaultRequestHeaderProvider:
        # No plugins installed, the usual case: nothing to merge (this runs on every request).
        return _with_defaults(request_headers)
    merged = _merge(providers)
    if request_headers:
        for name, value in request_headers.items():
            merged[name.lower()] = (name, value)
    return dict(merged.values())


_DEFAULT_NAMES = {name.lower(): name for name in _DEFAULT_HEADERS}
_DEFAULT_ITEMS = tuple((name.lower(), name, value) for name, value in _DEFAULT_HEADERS.items())
_request_header_provider_registry = RequestHeaderProviderRegistry()
_request_header_provider_registry.register(DefaultRequestHeaderProvider)
_request_header_provider_registry.register_entrypoints()
