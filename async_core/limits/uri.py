"""Choose a window store by URI: ``memory://`` (default), ``redis://host:port/db``, or
``rediss://`` (TLS). One store object per URI per process, so everything naming the same URI
shares its connections (one client per event loop)."""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

from async_core.limits.memory import MemoryStore
from async_core.limits.store import Store

__all__ = ["SCHEMES", "describe", "open_store"]

SCHEMES = ("memory", "redis", "rediss")

_stores: dict[str, Store] = {}
_lock = threading.Lock()


def describe(uri: str | None) -> str:
    """The URI without credentials or query, fit for messages and logs."""
    if not uri:
        return "memory://"
    try:
        parts = urlsplit(uri)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparsable URI>"
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _check(uri: object) -> str:
    if uri is None or uri == "":
        return "memory://"
    if not isinstance(uri, str):
        raise ValueError(
            f"Invalid rate-limit storage URI of type {type(uri).__name__}: use 'memory://', "
            "'redis://host:port/db' or 'rediss://host:port/db'."
        )
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018  (validates the port)
    except ValueError:
        raise ValueError(
            f"Invalid rate-limit storage URI {describe(uri)!r}: it does not parse; use "
            "'memory://', 'redis://host:port/db' or 'rediss://host:port/db'."
        ) from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise ValueError(
            f"Invalid rate-limit storage URI {describe(uri)!r}: the scheme {scheme!r} is not "
            "supported; use 'memory://', 'redis://host:port/db' or 'rediss://host:port/db'."
        )
    if scheme != "memory":
        db = parts.path.strip("/")
        if db and not db.isdigit():
            raise ValueError(
                f"Invalid rate-limit storage URI {describe(uri)!r}: the database must be a "
                "number, as in 'redis://host:6379/0'."
            )
    return uri


def open_store(uri: str | None = None) -> Store:
    """The process's store for ``uri`` (``None`` or ``""``: ``memory://``). Bad URIs raise
    ``ValueError`` naming the URI without its credentials."""
    uri = _check(uri)
    found = _stores.get(uri)
    if found is not None:
        return found
    with _lock:
        found = _stores.get(uri)
        if found is None:
            if uri.lower().startswith("memory"):
                found = MemoryStore()
            else:
                from async_core.limits.redis_store import RedisStore

                found = RedisStore(uri)
            _stores[uri] = found
        return found
