"""The gateway server's app factory.

``create_app(options, config)`` builds one aiohttp application: the shared state, the process's
one upstream ``AsyncClient``, the live runtime (every provider built now, so a configuration the
server cannot serve fails here, at start-up), the other engineers' layers in their fixed order,
then the routes. Middleware order, outermost first::

    request context (RequestInfo, in-flight count)
    -> access_log -> security -> auth -> ratelimit -> metrics -> health
    -> errors (every failure becomes JSON) -> routes [-> db_routes]

Each optional layer is a module exposing ``install(app, options)``; a module not present in this
tree is skipped, so the server runs before every layer has landed."""

from __future__ import annotations

import importlib
import logging
import time

from aiohttp import web

from mlflow.gateway.config import GatewayConfig, _load_gateway_config
from mlflow.gateway.server import routes
from mlflow.gateway.server.context import REQUEST_INFO_KEY, RequestInfo, current_request_info
from mlflow.gateway.server.errors import errors_middleware
from mlflow.gateway.server.invoke import STARTED_KEY
from mlflow.gateway.server.keys import CLIENT_KEY, RUNTIME_KEY
from mlflow.gateway.server.options import ServerOptions
from mlflow.gateway.server.reload import ConfigWatcher
from mlflow.gateway.server.runtime import ProviderFactory, RuntimeHolder, build_runtime
from mlflow.gateway.server.state import STATE_KEY, GatewayState
from mlflow.gateway.server.upstream import make_client, retry_wait_spent

_logger = logging.getLogger("mlflow.gateway.server")

#: The layers other modules add, outermost first.
LAYERS = ("access_log", "security", "auth", "ratelimit", "metrics", "health")

_WATCHER_KEY = web.AppKey("mlflow_gateway_config_watcher", ConfigWatcher)


def _install_layer(name: str, app: web.Application, options: ServerOptions) -> bool:
    module_name = f"mlflow.gateway.server.{name}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name != module_name:
            raise  # the module exists but one of its imports is missing: a real error
        return False
    module.install(app, options)
    return True


def _context_middleware(state: GatewayState):
    @web.middleware
    async def context(request: web.Request, handler):
        info = RequestInfo()
        request[REQUEST_INFO_KEY] = info
        request[STARTED_KEY] = time.monotonic()
        token = current_request_info.set(info)
        spent_token = retry_wait_spent.set([0.0])
        state.in_flight += 1
        try:
            return await handler(request)
        finally:
            state.in_flight -= 1
            retry_wait_spent.reset(spent_token)
            current_request_info.reset(token)

    return context


def _ssrf_guard(options: ServerOptions):
    """With ``options.ssrf_guard``: the config check (at load and on every reload) and the
    guarded upstream transport (refuses private addresses at connect time, and redirects)."""
    if not options.ssrf_guard:
        return None, None
    try:
        from mlflow.gateway.server import ssrf
    except ImportError:
        raise RuntimeError(
            "--ssrf-guard was given but this installation has no SSRF guard "
            "(mlflow.gateway.server.ssrf)"
        ) from None
    return ssrf.check_config, ssrf.guarded_transport()


def default_provider_factory() -> ProviderFactory:
    """The providers package's registry (``build_provider``)."""
    from mlflow.gateway.server.provider_bridge import build

    return build


def create_app(
    options: ServerOptions,
    config: GatewayConfig | None = None,
    *,
    provider_factory: ProviderFactory | None = None,
) -> web.Application:
    if config is None:
        if options.config_path is None and not options.backend_store_uri:
            raise ValueError("create_app needs a config, options.config_path or a backend store")
        config = (
            _load_gateway_config(options.config_path)
            if options.config_path is not None
            else GatewayConfig(endpoints=[])
        )
    factory = provider_factory or default_provider_factory()
    state = GatewayState(options=options)
    app = web.Application(
        client_max_size=options.max_body_bytes, middlewares=[_context_middleware(state)]
    )
    app[STATE_KEY] = state
    validate, transport = _ssrf_guard(options)
    if validate is not None:
        validate(config)
    client = make_client(options.retry_budget_seconds, transport)
    app[CLIENT_KEY] = client

    def build(new_config: GatewayConfig):
        return build_runtime(new_config, factory, client, options)

    holder = RuntimeHolder(build(config))
    app[RUNTIME_KEY] = holder
    state.config_loaded = True

    for name in LAYERS:
        _install_layer(name, app, options)
    app.middlewares.append(errors_middleware)
    routes.install(app, options)
    if options.backend_store_uri and not _install_layer("db_routes", app, options):
        raise RuntimeError(
            "--backend-store-uri was given but this installation has no database-backed "
            "gateway routes (mlflow.gateway.server.db_routes)"
        )

    if options.config_path is not None and options.reload_interval > 0:
        watcher = ConfigWatcher(
            options.config_path, holder, build, options.reload_interval, validate
        )
        app[_WATCHER_KEY] = watcher

        async def start_watcher(app: web.Application) -> None:
            watcher.start()

        async def stop_watcher(app: web.Application) -> None:
            await watcher.stop()

        app.on_startup.append(start_watcher)
        app.on_shutdown.append(stop_watcher)

    async def close_client(app: web.Application) -> None:
        await client.aclose()

    app.on_cleanup.append(close_client)
    return app
