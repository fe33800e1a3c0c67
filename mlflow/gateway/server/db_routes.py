"""Database-backed gateway routes (seed 002), installed by the app factory when
``options.backend_store_uri`` is set:

- ``POST /gateway/{endpoint_name}/mlflow/invocations``: chat ("messages") or embeddings ("input");
- ``POST /gateway/mlflow/v1/chat/completions``: OpenAI-compatible chat, ``model`` names the
  endpoint;
- passthrough: ``/gateway/openai/v1/{chat/completions,embeddings,responses}``,
  ``/gateway/anthropic/v1/messages``, ``/gateway/gemini/v1beta/models/{endpoint_name}:
  {generateContent,streamGenerateContent}``;
- the management API (``db_management``).

Past the seed's "use the first model": traffic is split by the mappings' weights, and a model
that fails before its first byte falls back to the next."""

from __future__ import annotations

import json
import logging
import os
from types import SimpleNamespace
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from mlflow.gateway.exceptions import AIGatewayException
from mlflow.gateway.server import db_passthrough
from mlflow.gateway.server.context import REQUEST_INFO_KEY
from mlflow.gateway.server.db_serving import DbServing, weighted_order
from mlflow.gateway.server.invoke import invoke
from mlflow.gateway.server.keys import CLIENT_KEY
from mlflow.gateway.server.options import ServerOptions
from mlflow.gateway.server.state import STATE_KEY
from mlflow.gateway.server.validation import CHAT, EMBEDDINGS
from mlflow.store.gateway.sqlalchemy_store import GatewayStore
from mlflow.utils import crypto

_logger = logging.getLogger("mlflow.gateway.server")
# With Redis notifications, the database is polled only as a safety net.
SAFETY_POLL_INTERVAL = 2.0


class DbRuntime:
    """The process's store and serving cache (set when the app starts)."""

    def __init__(self, options: ServerOptions) -> None:
        self.options = options
        self.store: GatewayStore | None = None
        self.serving: DbServing | None = None
        self.notifier: Any = None  # db_notify.RedisNotifier when a Redis store is configured

    def changed(self) -> None:
        """A write went through this process: drop caches here, and tell the other workers."""
        if self.serving is not None:
            self.serving.invalidate()
        if self.notifier is not None:
            self.notifier.publish_soon()


DB_KEY = web.AppKey("mlflow_gateway_db", DbRuntime)


def _db(request: web.Request) -> DbRuntime:
    runtime = request.app[DB_KEY]
    if runtime.serving is None:
        raise AIGatewayException(status_code=503, detail="The gateway database is not open yet.")
    return runtime


def _pydantic_message(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False)[:5]:
        where = ".".join(str(p) for p in item.get("loc", ())) or "body"
        parts.append(f"{where}: {item.get('msg')}")
    return "; ".join(parts)


async def _json_body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        reason = getattr(e, "msg", None) or "invalid UTF-8"
        raise AIGatewayException(
            status_code=400, detail=f"Invalid JSON payload: {reason}"
        ) from None
    if not isinstance(body, dict):
        raise AIGatewayException(
            status_code=400, detail="Invalid JSON payload: expected a JSON object"
        )
    return body


def _validate(kind: str, body: dict[str, Any]) -> None:
    from mlflow.gateway.schemas import chat, embeddings

    model = chat.RequestPayload if kind == CHAT else embeddings.RequestPayload
    word = "chat" if kind == CHAT else "embeddings"
    try:
        model.model_validate(body)
    except ValidationError as e:
        raise AIGatewayException(
            status_code=400, detail=f"Invalid {word} payload: {_pydantic_message(e)}"
        ) from None


async def _apply_limit(request: web.Request, name: str, limit: dict[str, Any] | None) -> None:
    """The endpoint's limit (its ``mlflow.gateway.limit`` tag), through the rate-limit layer's
    ``check`` when that layer is installed: one counter per endpoint name, shared with every
    route that reaches the endpoint."""
    if limit is None:
        return
    try:
        from mlflow.gateway.server import ratelimit
    except ModuleNotFoundError:
        return
    from mlflow.gateway.config import Limit

    await ratelimit.check(request, SimpleNamespace(name=name, limit=Limit(**limit)))


def _endpoint_from_model(body: dict[str, Any]) -> str:
    name = body.pop("model", None)
    if not name or not isinstance(name, str):
        raise AIGatewayException(
            status_code=400, detail="Missing required 'model' parameter in request body"
        )
    return name


async def invocations(request: web.Request) -> web.StreamResponse:
    name = request.match_info["endpoint_name"]
    body = await _json_body(request)
    if "messages" in body:
        kind = CHAT
    elif "input" in body:
        kind = EMBEDDINGS
    else:
        raise AIGatewayException(
            status_code=400,
            detail="Invalid request: payload format must be either chat or embeddings",
        )
    _validate(kind, body)
    serving = _db(request).serving
    await _apply_limit(request, name, (await serving.resolved(name)).limit)
    target = await serving.target(name, kind)
    return await invoke(request, target, body, kind == CHAT and body.get("stream") is True)


async def chat_completions(request: web.Request) -> web.StreamResponse:
    body = await _json_body(request)
    name = _endpoint_from_model(body)
    _validate(CHAT, body)
    serving = _db(request).serving
    await _apply_limit(request, name, (await serving.resolved(name)).limit)
    target = await serving.target(name, CHAT)
    return await invoke(request, target, body, body.get("stream") is True)


def _passthrough(family: str, action: str, *, name_in_path: bool = False, stream: bool = False):
    async def handler(request: web.Request) -> web.StreamResponse:
        body = await _json_body(request)
        name = request.match_info["endpoint_name"] if name_in_path else _endpoint_from_model(body)
        db = _db(request)
        resolved = await db.serving.resolved(name)
        models = [m for m in resolved.models if db_passthrough.serves(family, m)]
        if not models:
            raise AIGatewayException(
                status_code=400,
                detail=f"Endpoint '{name}' has no {family} model; the {family} passthrough route "
                f"needs one (its models' providers: "
                f"{', '.join(sorted({m.provider for m in resolved.models}))})",
            )
        await _apply_limit(request, name, resolved.limit)
        streaming = stream or body.get("stream") is True
        info = request.get(REQUEST_INFO_KEY)
        if info is not None:
            info.streamed = streaming
        failure = None
        order = weighted_order(models, [m.weight for m in models], db.serving.rng)
        for model in order:
            if info is not None:
                info.endpoint, info.provider = name, model.provider
                info.upstream_attempts += 1
            call = db_passthrough.build_call(family, action, model, body)
            try:
                return await db_passthrough.send(
                    request,
                    db.serving.client,
                    db.serving.policy,
                    model.provider,
                    call,
                    streaming,
                    db.options.upstream_timeout,
                )
            except db_passthrough.UpstreamFailed as e:
                failure = e
                _logger.warning(
                    "Passthrough to model '%s' of endpoint '%s' failed before its first byte",
                    model.model_name,
                    name,
                )
        return db_passthrough.failure_response(failure)

    return handler


async def _readiness(runtime: DbRuntime) -> str | None:
    if runtime.store is None:
        return "the gateway database is not open"
    try:
        await runtime.store.config_version()
    except Exception as e:  # noqa: BLE001 - a reason, never the exception's text
        return f"the gateway database does not answer ({type(e).__name__})"
    return None


def install(app: web.Application, options: ServerOptions) -> None:
    from mlflow.gateway.server import db_management

    runtime = DbRuntime(options)
    app[DB_KEY] = runtime

    async def open_store(app: web.Application) -> None:
        store = await GatewayStore.open(options.backend_store_uri)
        if os.environ.get(crypto.CRYPTO_KEK_PASSPHRASE_ENV_VAR):
            try:
                await store.kek()  # a wrong passphrase stops start-up with a clear error
            except BaseException:
                await store.aclose()
                raise
        else:
            _logger.warning(
                "%s is not set: endpoints whose models use stored secrets cannot be served and "
                "secrets cannot be created until it is.",
                crypto.CRYPTO_KEK_PASSPHRASE_ENV_VAR,
            )
        runtime.store = store
        runtime.serving = DbServing(runtime.store, app[CLIENT_KEY], options)
        if options.rate_limits_storage_uri:
            from mlflow.gateway.server.db_notify import RedisNotifier

            runtime.notifier = await RedisNotifier.start(
                options.rate_limits_storage_uri, runtime.serving.invalidate
            )
            if runtime.notifier is not None:
                runtime.serving.poll_interval = SAFETY_POLL_INTERVAL

    async def close_store(app: web.Application) -> None:
        if runtime.notifier is not None:
            await runtime.notifier.aclose()
        if runtime.store is not None:
            await runtime.store.aclose()

    app.on_startup.append(open_store)
    app.on_cleanup.append(close_store)
    if STATE_KEY in app:

        async def ready() -> str | None:
            return await _readiness(runtime)

        app[STATE_KEY].readiness_checks.append(ready)

    router = app.router
    router.add_post("/gateway/{endpoint_name}/mlflow/invocations", invocations)
    router.add_post("/gateway/mlflow/v1/chat/completions", chat_completions)
    openai = db_passthrough.OPENAI_FAMILY
    router.add_post("/gateway/openai/v1/chat/completions", _passthrough(openai, "chat/completions"))
    router.add_post("/gateway/openai/v1/embeddings", _passthrough(openai, "embeddings"))
    router.add_post("/gateway/openai/v1/responses", _passthrough(openai, "responses"))
    router.add_post(
        "/gateway/anthropic/v1/messages",
        _passthrough(db_passthrough.ANTHROPIC_FAMILY, "messages"),
    )
    gemini = db_passthrough.GEMINI_FAMILY
    router.add_post(
        "/gateway/gemini/v1beta/models/{endpoint_name}:generateContent",
        _passthrough(gemini, "generateContent", name_in_path=True),
    )
    router.add_post(
        "/gateway/gemini/v1beta/models/{endpoint_name}:streamGenerateContent",
        _passthrough(gemini, "streamGenerateContent", name_in_path=True, stream=True),
    )
    db_management.install_routes(app, runtime)
