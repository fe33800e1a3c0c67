"""One server process's shared state, kept on the aiohttp application."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from mlflow.gateway.server.options import ServerOptions

#: A readiness check: returns None when ready, or a short reason (no secret) when not.
ReadinessCheck = Callable[[], Awaitable[str | None]]


@dataclass
class GatewayState:
    options: ServerOptions
    config_loaded: bool = False
    draining: bool = False  # set on SIGTERM: readiness answers 503 from then on
    in_flight: int = 0
    readiness_checks: list[ReadinessCheck] = field(default_factory=list)


STATE_KEY = web.AppKey("mlflow_gateway_state", GatewayState)
