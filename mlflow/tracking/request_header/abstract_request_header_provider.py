"""The base class of request-header providers (plugins: entry-point group
``mlflow.request_header_provider``)."""

from __future__ import annotations

from abc import ABC, abstractmethod


class RequestHeaderProvider(ABC):
    """Adds context-specific headers to every outgoing request.

    For each registered provider whose ``in_context()`` is true, MLflow merges the dict returned by
    ``request_headers()`` into the request's headers. When two providers set the same header, the
    values are joined with a space (so several products can each add to ``User-Agent``).
    Both methods run on every request: keep them cheap.
    """

    @abstractmethod
    def in_context(self) -> bool:
        """Whether this provider applies to the current environment."""

    @abstractmethod
    def request_headers(self) -> dict[str, str]:
        """The headers to add."""
