"""Optional bearer API keys for the gateway's callers (off unless keys are configured).

Keys come from an environment variable named by ``options.api_keys_env`` (comma-separated) and/or
a file, ``options.api_keys_file`` (one per line; blank lines and ``#`` comments skipped). Each
entry is ``KEY`` or ``NAME:KEY``; NAME (letters, digits, ``_.-``, up to 64) is the caller id the
rate limiter may partition on. An unnamed key gets the id ``key<N>`` (its position).

Only sha256 digests are kept. A presented token is hashed and compared with
``hmac.compare_digest`` against every stored digest (no early exit), so timing reveals neither
which key matched nor how much of one. The caller id (never the key) is put on the request at
``request[CALLER_KEY]``; the token itself is never stored, logged or echoed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from mlflow.exceptions import MlflowException
from mlflow.gateway.server.options import ServerOptions

_logger = logging.getLogger(__name__)

#: Where an authenticated request carries its caller id (a name, never a key).
CALLER_KEY = web.RequestKey("mlflow_gateway_caller", str)

#: Probes and scrapers do not hold keys.
EXEMPT_PATHS = frozenset({"/health", "/version", "/health/ready", "/metrics"})

_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_WWW_AUTHENTICATE = 'Bearer realm="mlflow-gateway"'


@dataclass(frozen=True)
class CallerKeys:
    """(caller id, sha256 digest) pairs. Holds no key."""

    entries: tuple[tuple[str, bytes], ...]

    def __repr__(self) -> str:
        return f"CallerKeys({len(self.entries)} keys)"

    def identify(self, token: str) -> str | None:
        """The caller id whose key is ``token``, or None; time independent of which matched."""
        digest = hashlib.sha256(token.encode("utf-8")).digest()
        found = None
        for caller, stored in self.entries:
            if hmac.compare_digest(digest, stored) and found is None:
                found = caller
        return found


def _parse_entries(raw: list[str], source: str) -> list[tuple[str | None, str]]:
    entries = []
    for number, item in enumerate(raw, start=1):
        item = item.strip()
        if not item or item.startswith("#"):
            continue
        name, sep, rest = item.partition(":")
        if sep and _NAME.fullmatch(name) and rest.strip():
            entries.append((name, rest.strip()))
        elif sep and not rest.strip():
            raise MlflowException.invalid_parameter_value(
                f"Caller API key entry {number} of {source} names '{name}' but has no key after "
                "':'. Write NAME:KEY or just KEY."
            )
        else:
            entries.append((None, item))
    return entries


def load_caller_keys(options: ServerOptions, environ=os.environ) -> CallerKeys | None:
    """The configured keys, or None when authentication is off. Raises MlflowException (naming
    the variable or file, never a key) when keys were asked for but none can be read."""
    if not options.api_keys_env and not options.api_keys_file:
        return None
    raw: list[tuple[str | None, str]] = []
    if options.api_keys_env:
        value = environ.get(options.api_keys_env, "")
        if not value.strip():
            raise MlflowException.invalid_parameter_value(
                f"Caller authentication reads keys from the environment variable "
                f"{options.api_keys_env}, which is unset or empty. Set it to a comma-separated "
                "list of KEY or NAME:KEY entries, or do not configure it."
            )
        raw += _parse_entries(value.split(","), f"${options.api_keys_env}")
    if options.api_keys_file:
        path = Path(options.api_keys_file)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as e:
            raise MlflowException.invalid_parameter_value(
                f"Cannot read the caller API keys file '{path}' ({type(e).__name__}). Give a "
                "readable file with one KEY or NAME:KEY per line."
            ) from None
        raw += _parse_entries(lines, f"file '{path}'")
    if not raw:
        raise MlflowException.invalid_parameter_value(
            "Caller authentication is configured but no key was found. Add at least one "
            "KEY or NAME:KEY entry."
        )
    entries, seen = [], set()
    for position, (name, key) in enumerate(raw, start=1):
        caller = name or f"key{position}"
        if caller in seen:
            raise MlflowException.invalid_parameter_value(
                f"Caller name '{caller}' is given to two keys. Give each key its own name."
            )
        seen.add(caller)
        entries.append((caller, hashlib.sha256(key.encode("utf-8")).digest()))
    return CallerKeys(tuple(entries))


def _unauthorized(message: str, code: str) -> web.Response:
    # "detail" is the gateway's (MLflow's) error shape; "error" is OpenAI's, so the openai SDK
    # on /v1 shows the message (AuthenticationError) as it would for api.openai.com.
    body = {
        "detail": message,
        "error": {"message": message, "type": "invalid_request_error", "param": None,
                  "code": code},
    }
    return web.Response(
        status=401,
        text=json.dumps(body),
        content_type="application/json",
        headers={"WWW-Authenticate": _WWW_AUTHENTICATE},
    )


def _bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = token.strip()
    return token or None


def _build_middleware(keys: CallerKeys):
    @web.middleware
    async def auth_middleware(request: web.Request, handler):
        if request.path in EXEMPT_PATHS or (
            # A browser's CORS preflight never carries credentials.
            request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers
        ):
            return await handler(request)
        token = _bearer_token(request)
        if token is None:
            return _unauthorized(
                "Missing API key. Send 'Authorization: Bearer <key>' with a key the gateway "
                "operator gave you.",
                "missing_api_key",
            )
        caller = keys.identify(token)
        if caller is None:
            return _unauthorized(
                "Invalid API key. Check the key the gateway operator gave you.", "invalid_api_key"
            )
        request[CALLER_KEY] = caller
        return await handler(request)

    return auth_middleware


def install(app: web.Application, options: ServerOptions) -> None:
    """Add the bearer-key check when keys are configured (otherwise nothing)."""
    keys = load_caller_keys(options)
    if keys is None:
        return
    _logger.info("Caller authentication enabled with %d API keys.", len(keys.entries))
    app.middlewares.append(_build_middleware(keys))
