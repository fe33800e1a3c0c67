"""The server's security layer (MLflow's security middleware, on aiohttp).

- Host-header validation against DNS rebinding, with fnmatch patterns;
- cross-origin state-changing requests (POST, PUT, DELETE, PATCH) refused on the API paths and on
  every cost-incurring gateway route, so a page on another origin cannot spend provider credit;
- ``X-Content-Type-Options: nosniff`` and ``X-Frame-Options`` on every response (404s, errors
  raised by inner handlers and streams included: they are set when the response is prepared);
- CORS answers for allowed origins, API preflights answered 204.

Settings come from :class:`ServerOptions` first, then MLflow's environment variables
(``MLFLOW_SERVER_ALLOWED_HOSTS``, ``MLFLOW_SERVER_CORS_ALLOWED_ORIGINS``,
``MLFLOW_SERVER_X_FRAME_OPTIONS``, ``MLFLOW_SERVER_DISABLE_SECURITY_MIDDLEWARE``).
"""

from __future__ import annotations

import fnmatch
import logging
import os
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web

from mlflow.gateway.server.options import ServerOptions

_logger = logging.getLogger(__name__)

# MLflow's messages, word for word.
INVALID_HOST_MSG = "Invalid Host header - possible DNS rebinding attack detected"
CORS_BLOCKED_MSG = "Cross-origin request blocked"

STATE_CHANGING_METHODS = frozenset({"POST", "PUT", "DELETE", "PATCH"})

#: Exempt from Host validation (probes reach the server by pod IP or node name).
HEALTH_ENDPOINTS = frozenset({"/health", "/version", "/health/ready"})

#: MLflow's API prefixes plus the gateway's cost-incurring routes (/endpoints/{name}/invocations,
#: /gateway/..., /v1/...). Cross-origin writes are refused on all of them.
PROTECTED_PREFIXES = ("/api/", "/ajax-api/", "/endpoints/", "/gateway/", "/v1/")

# MLflow's defaults: localhost on any port, and the private ranges.
_LOCALHOST_VARIANTS = ("localhost", "127.0.0.1", "[::1]", "0.0.0.0")
_CORS_LOCALHOST_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})
_X_FRAME_CHOICES = ("SAMEORIGIN", "DENY", "NONE")

# Response headers a browser page may read on an allowed cross-origin response.
_EXPOSED_HEADERS = (
    "X-Request-Id, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset"
)
_ALLOWED_METHODS = "GET, POST, PUT, DELETE, OPTIONS, PATCH"
_PREFLIGHT_MAX_AGE = "600"
_SLASHES = re.compile(r"/{2,}")
_BODY_HEADERS = frozenset({"content-length", "content-type", "transfer-encoding"})


def default_allowed_hosts() -> list[str]:
    """MLflow's default Host patterns: each localhost variant bare and with any port, then
    10.*, 192.168.*, 172.16.* ... 172.31.*, fc00:* and fd00:*."""
    with_port = [
        (host.replace("[", "[[]", 1) if host.startswith("[") else host) + ":*"
        for host in _LOCALHOST_VARIANTS
    ]
    private = ["192.168.*", "10.*", *(f"172.{i}.*" for i in range(16, 32)), "fc00:*", "fd00:*"]
    return [*_LOCALHOST_VARIANTS, *with_port, *private]


def _split(value: str | None) -> list[str] | None:
    if not value:
        return None
    items = [item.strip() for item in value.split(",")]
    return [item for item in items if item] or None


@dataclass(frozen=True)
class SecuritySettings:
    enabled: bool
    allowed_hosts: tuple[str, ...]  # effective patterns (defaults filled in)
    allowed_origins: tuple[str, ...]
    x_frame_options: str | None  # None: header not sent (NONE)
    hosts_configured: tuple[str, ...]  # what the operator gave (for the start-up message)

    @property
    def check_hosts(self) -> bool:
        return bool(self.allowed_hosts) and "*" not in self.allowed_hosts

    @property
    def permissive_cors(self) -> bool:
        return "*" in self.allowed_origins


def resolve_settings(options: ServerOptions, environ=os.environ) -> SecuritySettings:
    """Options win; unset options fall back to MLflow's environment variables, then defaults."""
    disabled = options.disable_security_middleware or (
        environ.get("MLFLOW_SERVER_DISABLE_SECURITY_MIDDLEWARE", "false").strip().lower() == "true"
    )
    hosts = list(options.allowed_hosts) if options.allowed_hosts else None
    hosts = hosts or _split(environ.get("MLFLOW_SERVER_ALLOWED_HOSTS"))
    origins = list(options.cors_allowed_origins) if options.cors_allowed_origins else None
    origins = origins or _split(environ.get("MLFLOW_SERVER_CORS_ALLOWED_ORIGINS")) or []
    frame = options.x_frame_options
    if frame.upper() == "SAMEORIGIN" and environ.get("MLFLOW_SERVER_X_FRAME_OPTIONS"):
        frame = environ["MLFLOW_SERVER_X_FRAME_OPTIONS"]  # the option was left at its default
    frame = frame.strip().upper()
    if frame not in _X_FRAME_CHOICES:
        from mlflow.exceptions import MlflowException

        raise MlflowException.invalid_parameter_value(
            f"Invalid X-Frame-Options value '{frame}'. Use one of: {', '.join(_X_FRAME_CHOICES)}."
        )
    return SecuritySettings(
        enabled=not disabled,
        allowed_hosts=tuple(host.lower() for host in hosts or default_allowed_hosts()),
        allowed_origins=tuple(origins),
        x_frame_options=None if frame == "NONE" else frame,
        hosts_configured=tuple(hosts or ()),
    )


def _summary(items: tuple[str, ...]) -> str:
    shown = list(items[:3])
    if len(items) > 3:
        shown.append(f"and {len(items) - 3} more")
    return ", ".join(shown)


def startup_message(settings: SecuritySettings) -> str:
    """The seed's three start-up messages."""
    if not settings.enabled:
        return (
            "[MLflow] WARNING: Security middleware is DISABLED. "
            "Your MLflow server is vulnerable to various attacks."
        )
    if not settings.hosts_configured and not settings.allowed_origins:
        return (
            "[MLflow] Security middleware enabled with default settings (localhost-only). "
            "To allow connections from other hosts, use --host 0.0.0.0 and configure "
            "--allowed-hosts and --cors-allowed-origins."
        )
    parts = ["[MLflow] Security middleware enabled"]
    if settings.hosts_configured:
        parts.append(f"Allowed hosts: {_summary(settings.hosts_configured)}")
    if settings.allowed_origins:
        parts.append(f"CORS origins: {_summary(settings.allowed_origins)}")
    return ". ".join(parts) + "."


def is_allowed_host(allowed_hosts: tuple[str, ...], host: str) -> bool:
    if not host:
        return False
    if "*" in allowed_hosts:
        return True
    host = host.lower()  # host names are case-insensitive; patterns are lowered at start-up
    return any(
        fnmatch.fnmatchcase(host, pattern) if "*" in pattern else host == pattern
        for pattern in allowed_hosts
    )


def is_localhost_origin(origin: str) -> bool:
    try:
        return urlsplit(origin).hostname in _CORS_LOCALHOST_HOSTS
    except ValueError:
        return False


def is_allowed_origin(allowed_origins: tuple[str, ...], origin: str) -> bool:
    """Localhost origins are always allowed (as in MLflow); else the list, exact or fnmatch."""
    if not origin:
        return False
    if is_localhost_origin(origin) or "*" in allowed_origins:
        return True
    return any(
        fnmatch.fnmatchcase(origin, pattern) if "*" in pattern else origin == pattern
        for pattern in allowed_origins
    )


def is_protected_path(path: str) -> bool:
    # Collapse repeated slashes first: "//v1/..." must not slip past the prefix test.
    if "//" in path:
        path = _SLASHES.sub("/", path)
    return path.startswith(PROTECTED_PREFIXES) and path not in ("/test", "/api/test")


class _Decisions:
    """A bounded memo of a pure host/origin decision (the same few values arrive all day)."""

    __slots__ = ("_decide", "_memo")
    _LIMIT = 1024

    def __init__(self, decide) -> None:
        self._decide = decide
        self._memo: dict[str, bool] = {}

    def __call__(self, value: str) -> bool:
        found = self._memo.get(value)
        if found is None:
            found = self._decide(value)
            if len(self._memo) >= self._LIMIT:
                self._memo.clear()  # attacker-chosen values cannot grow it without bound
            self._memo[value] = found
        return found


def _plain(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text, content_type="text/plain")


def _preflight(request: web.Request, origin: str, origin_allowed) -> web.Response:
    if not origin_allowed(origin):
        _logger.warning("Blocked cross-origin preflight from %s", ascii(origin[:200]))
        return _plain(403, CORS_BLOCKED_MSG)
    response = web.Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = _ALLOWED_METHODS
    requested = request.headers.get("Access-Control-Request-Headers")
    if requested:
        response.headers["Access-Control-Allow-Headers"] = requested
    response.headers["Access-Control-Max-Age"] = _PREFLIGHT_MAX_AGE
    return response


def _build_middleware(settings: SecuritySettings, origin_allowed: _Decisions):
    allowed_hosts = settings.allowed_hosts
    check_hosts = settings.check_hosts
    host_allowed = _Decisions(lambda host: is_allowed_host(allowed_hosts, host))

    @web.middleware
    async def security_middleware(request: web.Request, handler):
        path = request.path
        if check_hosts and path not in HEALTH_ENDPOINTS:
            host = request.headers.get("Host", "")
            if not host_allowed(host):
                # The Host value is attacker-chosen: log it escaped and bounded.
                _logger.warning(
                    "Rejected request with invalid Host header: %s", ascii(host[:200])
                )
                return _plain(403, INVALID_HOST_MSG)
        origin = request.headers.get("Origin")
        method = request.method
        if origin is not None:
            protected = is_protected_path(path)
            if method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
                if protected:
                    return _preflight(request, origin, origin_allowed)
            elif (
                protected
                and method in STATE_CHANGING_METHODS
                and not origin_allowed(origin)
            ):
                _logger.warning("Blocked cross-origin request from %s", ascii(origin[:200]))
                return _plain(403, CORS_BLOCKED_MSG)
        response = await handler(request)
        if (
            method == "OPTIONS"
            and response.status == 200
            and not response.prepared
            and is_protected_path(path)
        ):
            # MLflow answers API OPTIONS with 204 No Content.
            kept = {
                name: value
                for name, value in response.headers.items()
                if name.lower() not in _BODY_HEADERS
            }
            response = web.Response(status=204, headers=kept)
        return response

    return security_middleware


def _build_header_hook(settings: SecuritySettings, origin_allowed: _Decisions):
    frame = settings.x_frame_options

    async def on_response_prepare(request: web.Request, response: web.StreamResponse) -> None:
        headers = response.headers
        headers["X-Content-Type-Options"] = "nosniff"
        if frame is not None:
            headers["X-Frame-Options"] = frame
        origin = request.headers.get("Origin")
        if not origin:
            return
        headers.add("Vary", "Origin")
        if origin_allowed(origin):
            # Credentialed CORS: echo the origin (a literal "*" cannot carry credentials).
            headers["Access-Control-Allow-Origin"] = origin
            headers["Access-Control-Allow-Credentials"] = "true"
            headers["Access-Control-Expose-Headers"] = _EXPOSED_HEADERS

    return on_response_prepare


def install(app: web.Application, options: ServerOptions) -> None:
    """Add the security middleware and response-header hook, and log the start-up message."""
    settings = resolve_settings(options)
    message = startup_message(settings)
    if not settings.enabled:
        _logger.warning(message)
        return
    _logger.info(message)
    if settings.permissive_cors:
        _logger.warning(
            "CORS allowed origins is '*': any web page may call this gateway from a browser "
            "with credentials. Use an explicit origin list in production."
        )
    origins = settings.allowed_origins
    origin_allowed = _Decisions(lambda origin: is_allowed_origin(origins, origin))
    app.middlewares.append(_build_middleware(settings, origin_allowed))
    app.on_response_prepare.append(_build_header_hook(settings, origin_allowed))
