"""Starting the gateway app on loopback (port 0) inside the test's loop."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from mlflow.gateway.config import GatewayConfig
from mlflow.gateway.server.app import create_app
from mlflow.gateway.server.context import REQUEST_INFO_KEY
from mlflow.gateway.server.options import ServerOptions


def openai_endpoint(name: str, endpoint_type: str = "llm/v1/chat", *, api_base: str | None = None,
                    key: str = "sk-secret-123", model: str = "gpt-4o-mini",
                    **extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {"openai_api_key": key}
    if api_base is not None:
        config["openai_api_base"] = api_base
    return {"name": name, "endpoint_type": endpoint_type,
            "model": {"provider": "openai", "name": model, "config": config}, **extra}


@dataclass
class Running:
    url: str
    app: web.Application
    session: aiohttp.ClientSession


@contextlib.asynccontextmanager
async def running_gateway(
    config: dict[str, Any] | None = None,
    *,
    provider_factory=None,
    seen: list | None = None,
    **options: Any,
) -> AsyncIterator[Running]:
    """``seen``: when given, each request's ``RequestInfo`` is appended once it is answered."""
    options.setdefault("reload_interval", 0)
    server_options = ServerOptions(**options)
    app = create_app(
        server_options,
        GatewayConfig.model_validate(config) if config is not None else None,
        provider_factory=provider_factory,
    )
    if seen is not None:
        @web.middleware
        async def capture(request, handler):
            try:
                return await handler(request)
            finally:
                seen.append(request[REQUEST_INFO_KEY])

        app.middlewares.insert(1, capture)  # just inside the server's request context
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession(url) as session:
            yield Running(url, app, session)
    finally:
        await runner.cleanup()
