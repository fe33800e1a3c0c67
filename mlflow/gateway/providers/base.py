"""The provider interface the server calls. Requests and responses are MLflow's gateway schemas
as plain dicts (``mlflow.gateway.schemas``); streams are async iterators of chunk dicts.

Errors: a provider raises ``AIGatewayException`` with the status to answer (upstream connect
failure 502, timeout 504, an upstream 4xx/5xx passed on with a scrubbed message, a 429 with
Retry-After). A stream raises before its first chunk if the upstream refused the request, so the
server can still answer with the real status."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any


class BaseProvider:
    NAME: str = ""
    #: The endpoint types this provider serves ("llm/v1/chat", "llm/v1/completions",
    #: "llm/v1/embeddings"). The server refuses, at start-up, an endpoint it cannot serve.
    SUPPORTED_ROUTE_TYPES: tuple[str, ...] = ()

    async def chat(self, payload: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def chat_stream(self, payload: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        raise NotImplementedError

    async def completions(self, payload: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def completions_stream(self, payload: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        raise NotImplementedError

    async def embeddings(self, payload: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError
