"""Application keys of the gateway server's own objects (the state contract lives in state.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from async_core import AsyncClient

if TYPE_CHECKING:
    from mlflow.gateway.server.runtime import RuntimeHolder

#: The process's one upstream client (created on startup, closed on cleanup).
CLIENT_KEY = web.AppKey("mlflow_gateway_client", AsyncClient)
#: The live configuration (endpoints, routes, providers), swapped whole on reload.
RUNTIME_KEY: web.AppKey[RuntimeHolder] = web.AppKey("mlflow_gateway_runtime")
