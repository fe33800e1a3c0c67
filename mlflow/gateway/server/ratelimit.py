"""Rate limits on the gateway: each endpoint's ``limit`` enforced once, whatever alias reached it.

One counter per endpoint (and per ``key`` partition) serves ``/endpoints/<name>/invocations``,
``/gateway/<name>/invocations``, ``/v1/*`` with ``model=<name>`` and the traffic routes whose
destination it is. The counter is a sliding window of ``calls`` per ``renewal_period`` in a
store (``async_core.limits``): this process's memory by default, or Redis
(``MLFLOW_GATEWAY_RATE_LIMITS_STORAGE_URI=redis://host:port/db``, ``rediss://`` for TLS), which
every worker and replica shares, so N workers admit exactly ``calls`` per window together.

``key`` names what partitions an endpoint's quota:

- ``null`` (or ``"endpoint"`` / ``"route"``): one quota for the endpoint;
- ``"address"`` (or ``"ip"``, ``"client_address"``): one per client address, the socket's
  peer; with ``trust_forwarded_for`` the last address of ``X-Forwarded-For`` (the one your
  proxy appended) instead;
- ``"user"``: one per ``Authorization`` credential;
- anything else: the name of a request header (e.g. ``"X-API-Key"``): one quota per value
  (requests without it share one). Values are hashed before they reach the store.

A refusal is MLflow's ``429 {"error": "Rate limit exceeded: 5 per 1 minute"}`` with
``Retry-After`` (whole seconds until a slot frees, at least 1), ``X-RateLimit-Limit``,
``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` (Unix time at which a slot frees).

An unreachable store is bounded (1 s per call, then 1 s without trying) and answered as the
operator chose: ``rate_limit_fail_open`` (default) admits the request and logs an error (counted
in ``store_errors``); otherwise ``503``.

How the server uses this module: ``install(app, options)`` adds the middleware (it checks plain
endpoints before the handler runs) and a readiness check; traffic routes are checked per
destination by ``await check(request, destination.endpoint)`` in the invocation loop (a no-op
for an endpoint already checked in the same request).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from async_core.limits import Limiter, MemoryStore, StoreUnavailable, Window, describe, open_store
from async_core.limits.periods import UNIT_SECONDS, parse_period
from mlflow.environment_variables import MLFLOW_GATEWAY_RATE_LIMITS_STORAGE_URI
from mlflow.gateway.exceptions import AIGatewayException
from mlflow.gateway.server.context import REQUEST_INFO_KEY
from mlflow.gateway.server.errors import exception_response, json_response
from mlflow.gateway.server.keys import RUNTIME_KEY
from mlflow.gateway.server.options import ServerOptions
from mlflow.gateway.server.payloads import InvalidRequestBody, read_json_object
from mlflow.gateway.server.state import STATE_KEY

_logger = logging.getLogger("mlflow.gateway.server.ratelimit")

#: MLflow's variable naming the limits' store.
STORAGE_ENV = MLFLOW_GATEWAY_RATE_LIMITS_STORAGE_URI.name
_ADDRESS_KEYS = frozenset({"address", "ip", "client_address", "client_ip"})
_ENDPOINT_KEYS = frozenset({"endpoint", "route"})
_NAMED_ROUTES = frozenset({"/endpoints/{name}/invocations", "/gateway/{name}/invocations"})
_OPENAI_ROUTES = frozenset({"/v1/chat/completions", "/v1/completions", "/v1/embeddings"})
# After a store failure, skip it this long: a dead store must not cost every request a timeout.
_STORE_BACKOFF = 1.0
_LOG_EVERY = 10.0
_MAX_LIMITERS = 10_000


class RateLimited(AIGatewayException):
    """A request over its endpoint's limit (a 429 with MLflow's body and the rate headers)."""

    def __init__(self, message: str, headers: dict[str, str]) -> None:
        super().__init__(status_code=429, detail=message, headers=headers)
        self.body = {"error": message}


@dataclass(frozen=True, slots=True)
class _Rule:
    calls: int
    seconds: float
    key: str | None
    text: str  # "5 per 1 minute"


def describe_limit(calls: int, seconds: float) -> str:
    """``"5 per 1 minute"``: the limit as MLflow's gateway (slowapi) words it."""
    for unit in ("day", "hour", "minute", "second"):
        size = UNIT_SECONDS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{calls} per {int(seconds // size)} {unit}"
    return f"{calls} per {seconds:g} second"


class GatewayRateLimiter:
    """The limits of one gateway process; ``app[RATE_LIMITER_KEY]``.

    ``store_errors`` (store calls that failed) and ``refusals`` (429s) are counters for the
    metrics layer.
    """

    def __init__(self, options: ServerOptions) -> None:
        uri = options.rate_limits_storage_uri or MLFLOW_GATEWAY_RATE_LIMITS_STORAGE_URI.get()
        # A fresh memory store per app (tests build several apps in one process).
        self.store = open_store(uri) if uri else MemoryStore()
        self.where = describe(uri)
        self.fail_open = options.rate_limit_fail_open
        self.trust_forwarded_for = options.trust_forwarded_for
        self.store_errors = 0
        self.refusals = 0
        self._limiters: dict[tuple[str, _Rule], Limiter] = {}
        self._rules: dict[tuple, _Rule | None] = {}
        self._down_until = -math.inf
        self._logged_at = -math.inf

    # ------------------------------------------------------------------ the check

    async def check(self, request: web.Request, endpoint: Any) -> None:
        """Take a slot of ``endpoint``'s limit for ``request`` or raise :class:`RateLimited`
        (or a 503 ``AIGatewayException`` when the store is down and the gateway fails closed).
        Checking the same endpoint twice in one request counts once."""
        rule = self._rule(endpoint)
        if rule is None:
            return
        checked = request.get(_CHECKED_KEY)
        if checked is None:
            checked = request[_CHECKED_KEY] = set()
        name = endpoint.name
        if name in checked:
            return
        checked.add(name)
        scope = f"gateway/{name}/{self._partition(request, rule.key)}"
        limiter = self._limiters.get((scope, rule))
        if limiter is None:
            if len(self._limiters) >= _MAX_LIMITERS:  # many partitions: start the cache afresh
                self._limiters.clear()
            limiter = Limiter(self.store, Window(scope, rule.calls, rule.seconds))
            self._limiters[(scope, rule)] = limiter
        if time.monotonic() < self._down_until:
            self._store_down(None)
            return
        try:
            decision = await limiter.try_acquire()
        except StoreUnavailable as e:
            self._down_until = time.monotonic() + _STORE_BACKOFF
            self._store_down(e)
            return
        reset_at = math.ceil(time.time() + decision.reset)
        headers = {
            "X-RateLimit-Limit": str(rule.calls),
            "X-RateLimit-Remaining": str(decision.remaining),
            "X-RateLimit-Reset": str(reset_at),
        }
        request[_HEADERS_KEY] = headers
        if decision.admitted:
            return
        self.refusals += 1
        headers = {"Retry-After": str(max(1, math.ceil(decision.wait))), **headers}
        refusal = RateLimited(f"Rate limit exceeded: {rule.text}", headers)
        request[_REFUSAL_KEY] = refusal
        raise refusal

    def _rule(self, endpoint: Any) -> _Rule | None:
        limit = getattr(endpoint, "limit", None)
        if limit is None:
            return None
        cache_key = (limit.calls, limit.renewal_period, limit.key)
        if cache_key in self._rules:
            return self._rules[cache_key]
        try:
            seconds = parse_period(limit.renewal_period)
            Window("check", limit.calls, seconds)
        except ValueError as e:  # the config loader refuses these; a reload race must not 500
            _logger.error("Endpoint %r has an unusable limit (%s); not enforced.",
                          getattr(endpoint, "name", "?"), e)
            self._rules[cache_key] = None
            return None
        key = limit.key.strip() if isinstance(limit.key, str) and limit.key.strip() else None
        rule = _Rule(limit.calls, seconds, key, describe_limit(limit.calls, seconds))
        self._rules[cache_key] = rule
        return rule

    def _partition(self, request: web.Request, key: str | None) -> str:
        if key is None or key.lower() in _ENDPOINT_KEYS:
            return "all"
        lowered = key.lower()
        if lowered in _ADDRESS_KEYS:
            value = None
            if self.trust_forwarded_for:
                forwarded = request.headers.get("X-Forwarded-For", "")
                hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
                value = hops[-1] if hops else None
            return "address:" + _digest(value or request.remote or "unknown")
        header = "Authorization" if lowered == "user" else key
        value = request.headers.get(header)
        return f"{header.lower()}:" + ("none" if value is None else _digest(value))

    def _store_down(self, error: BaseException | None) -> None:
        self.store_errors += 1
        now = time.monotonic()
        if error is not None and now - self._logged_at >= _LOG_EVERY:
            self._logged_at = now
            _logger.error(
                "Rate-limit store %s is unreachable (%s); requests are %s until it answers.",
                self.where,
                type(error).__name__,
                "admitted without limit (fail open)" if self.fail_open else "refused with 503",
            )
        if not self.fail_open:
            raise AIGatewayException(
                status_code=503,
                detail="The gateway cannot check its rate limits right now (its rate-limit "
                "store is unreachable). Retry later.",
                headers={"Retry-After": "1"},
            )

    # ------------------------------------------------------------------ readiness

    async def ready(self) -> str | None:
        try:
            await self.store.ping()
        except StoreUnavailable:
            return f"rate-limit store {self.where} unreachable"
        return None

    async def aclose(self) -> None:
        await self.store.aclose()


RATE_LIMITER_KEY = web.AppKey("mlflow_gateway_rate_limiter", GatewayRateLimiter)
_CHECKED_KEY = web.RequestKey("mlflow_gateway_rate_limit_checked", set)
_HEADERS_KEY = web.RequestKey("mlflow_gateway_rate_limit_headers", dict)
_REFUSAL_KEY = web.RequestKey("mlflow_gateway_rate_limit_refusal", RateLimited)


def _digest(value: str) -> str:
    # Partition values (API keys, credentials, addresses) never reach the store in clear.
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()[:32]


async def check(request: web.Request, endpoint: Any) -> None:
    """For the invocation loop: take a slot of ``endpoint``'s (an ``EndpointConfig``) limit.

    Raises :class:`RateLimited` (429) or a 503 ``AIGatewayException``; a no-op when this module
    is not installed, when the endpoint has no limit, or when it was already checked for this
    request."""
    limiter = request.app.get(RATE_LIMITER_KEY)
    if limiter is not None:
        await limiter.check(request, endpoint)


async def _plain_destination(request: web.Request) -> Any:
    """The destination a named or ``/v1`` invocation reaches directly (None for traffic routes,
    unknown names and other paths: those are checked, if at all, by the invocation loop)."""
    if request.method != "POST":
        return None
    resource = request.match_info.route.resource
    canonical = getattr(resource, "canonical", None)
    if canonical in _NAMED_ROUTES:
        name = request.match_info.get("name")
    elif canonical in _OPENAI_ROUTES:
        state = request.app.get(STATE_KEY)
        limit = state.options.max_body_bytes if state is not None else 10 * 1024 * 1024
        try:
            # The server's own reader: the body is cached for the handler, and a body over
            # the size limit gets the server's 413 (raised to the middleware).
            payload = await read_json_object(request, limit)
        except InvalidRequestBody:
            return None  # the handler answers the bad body
        name = payload.get("model")
    else:
        return None
    if not isinstance(name, str):
        return None
    holder = request.app.get(RUNTIME_KEY)
    target = None if holder is None else holder.current.resolve(name)
    return getattr(target, "destination", None)


def _middleware(limiter: GatewayRateLimiter, config_only: bool = False):
    # config_only: every endpoint comes from the YAML (database-backed endpoints carry limits
    # the runtime does not know about, so they always take the full path).
    @web.middleware
    async def ratelimit(request: web.Request, handler):
        holder = request.app.get(RUNTIME_KEY) if config_only else None
        if holder is not None and not holder.current.has_limits:
            # No endpoint has a limit: no body read, no store call, no headers.
            return await handler(request)
        try:
            destination = await _plain_destination(request)
            if destination is not None:
                info = request.get(REQUEST_INFO_KEY)
                if info is not None:  # a refusal is counted under its endpoint, not ""
                    info.endpoint, info.provider = destination.name, destination.provider_name
                await limiter.check(request, destination.endpoint)
            response = await handler(request)
        except RateLimited as refusal:
            response = None
            request[_REFUSAL_KEY] = refusal
        except (web.HTTPException, AIGatewayException) as e:
            # A body over the size limit (read above), or the store down and failing closed:
            # this layer sits outside the server's error layer, so it answers in its shape.
            return exception_response(e)
        refusal = request.get(_REFUSAL_KEY)
        if refusal is not None and (response is None or response.status == 429):
            info = request.get(REQUEST_INFO_KEY)
            if info is not None:
                info.rate_limited = True
            # MLflow's body, whatever shape the inner error layer gave the exception.
            return json_response(refusal.body, 429, refusal.headers)
        headers = request.get(_HEADERS_KEY)
        if headers and response is not None and not response.prepared:
            for name, value in headers.items():
                response.headers.setdefault(name, value)
        return response

    return ratelimit


def _warn_if_workers_count_alone(app: web.Application, options: ServerOptions,
                                 limiter: GatewayRateLimiter) -> None:
    if limiter.store.shared or options.workers <= 1:
        return
    _logger.warning(
        "Rate limits are counted in each worker's memory: with %d workers, an endpoint's limit "
        "admits up to %d times its calls. Set %s=redis://host:port/db to share one count.",
        options.workers,
        options.workers,
        STORAGE_ENV,
    )


def install(app: web.Application, options: ServerOptions) -> None:
    """Add the rate-limit middleware, its readiness check and its cleanup to ``app``."""
    limiter = GatewayRateLimiter(options)
    app[RATE_LIMITER_KEY] = limiter
    app.middlewares.append(_middleware(limiter, config_only=not options.backend_store_uri))
    state = app.get(STATE_KEY)
    if state is not None and limiter.store.shared:
        state.readiness_checks.append(limiter.ready)
    _warn_if_workers_count_alone(app, options, limiter)

    async def close(app: web.Application) -> None:
        await limiter.aclose()

    app.on_cleanup.append(close)
