"""Liveness and readiness.

- ``GET /health``: MLflow's shape, ``{"status": "OK"}``, whenever the process serves.
- ``GET /health/ready``: 200 ``{"status": "ready"}`` once the config is loaded and every readiness
  check passes; 503 ``{"status": "unavailable", "reasons": [...]}`` before that, when a check fails
  or does not answer within ``options.readiness_timeout`` seconds, and from the moment the server
  starts draining (SIGTERM). Reasons are short texts without secrets.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from mlflow.gateway.server.options import ServerOptions
from mlflow.gateway.server.state import STATE_KEY, GatewayState

_logger = logging.getLogger(__name__)

HEALTH_PATH = "/health"
READY_PATH = "/health/ready"
_MAX_REASON = 200


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"status": "OK"})


async def _run_check(check, timeout: float) -> str | None:
    try:
        reason = await asyncio.wait_for(check(), timeout)
    except asyncio.TimeoutError:
        return f"a readiness check did not answer within {timeout:g} s"
    except Exception as e:  # a failing check means "not ready", never a 500
        # The exception's text may carry a URL with a password: only its type is shown.
        return f"a readiness check failed ({type(e).__name__})"
    return None if reason is None else str(reason)[:_MAX_REASON]


async def not_ready_reasons(state: GatewayState, timeout: float) -> list[str]:
    """Why the server is not ready (empty when it is). Checks run concurrently, each bounded."""
    if state.draining:
        return ["draining: the server is shutting down"]
    if not state.config_loaded:
        return ["the gateway configuration is not loaded yet"]
    results = await asyncio.gather(*(_run_check(c, timeout) for c in state.readiness_checks))
    return [reason for reason in results if reason is not None]


def install(app: web.Application, options: ServerOptions) -> None:
    """Add ``GET /health`` (unless the app already has it) and ``GET /health/ready``."""
    timeout = options.readiness_timeout

    async def ready(request: web.Request) -> web.Response:
        state = request.app.get(STATE_KEY)
        if state is None:
            reasons = ["the server state is not set up"]
        else:
            reasons = await not_ready_reasons(state, timeout)
        if reasons:
            return web.json_response(
                {"status": "unavailable", "reasons": reasons},
                status=503,
                headers={"Cache-Control": "no-store"},
            )
        return web.json_response({"status": "ready"}, headers={"Cache-Control": "no-store"})

    existing = {
        resource.canonical for resource in app.router.resources() if hasattr(resource, "canonical")
    }
    if HEALTH_PATH not in existing:
        app.router.add_get(HEALTH_PATH, _health)
    if READY_PATH not in existing:
        app.router.add_get(READY_PATH, ready)
