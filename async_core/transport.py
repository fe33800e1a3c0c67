"""Transports send one attempt. ``AiohttpTransport`` is the default; others (for example a vendor
SDK run in a worker thread) plug into the same retry engine by implementing ``Transport``."""

from __future__ import annotations

import asyncio
from functools import lru_cache
from typing import Protocol
from urllib.request import getproxies_environment, proxy_bypass_environment

import aiohttp

from async_core.errors import TLSError
from async_core.messages import Request, Response
from async_core.sessions import SessionPool, get_session_pool

#: The exceptions worth another attempt: connection failures, resets, timeouts, truncated bodies.
#: TLS failures are excluded (they are re-raised as TLSError, see below).
RETRYABLE_EXCEPTIONS: tuple[type[BaseException], ...] = (
    aiohttp.ClientConnectionError,
    aiohttp.ClientPayloadError,
    asyncio.TimeoutError,
)


class Transport(Protocol):
    async def send(self, request: Request, total_timeout: float | None) -> Response:
        """Send one attempt. ``total_timeout`` bounds the whole attempt (the time left before the
        request's deadline), on top of the request's own connect/read timeout."""
        ...


@lru_cache(maxsize=256)
def env_proxy(scheme: str, host: str) -> str | None:
    """The proxy HTTP(S)_PROXY/NO_PROXY name for a host (read once per host, as requests would)."""
    proxies = getproxies_environment()
    proxy = proxies.get(scheme) or proxies.get("all")
    if proxy is None or proxy_bypass_environment(host, proxies):
        return None
    return proxy


def _origin(url: str) -> tuple[str, str]:
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    return scheme.lower(), host.rsplit(":", 1)[0] if not host.endswith("]") else host


@lru_cache(maxsize=64)
def _client_timeout(read_timeout: float | None, total: float | None) -> aiohttp.ClientTimeout:
    # requests' timeout is per socket operation (connect, then each read), not a total.
    return aiohttp.ClientTimeout(total=total, sock_connect=read_timeout, sock_read=read_timeout)


class AiohttpTransport:
    __slots__ = ("_pool",)

    def __init__(self, pool: SessionPool | None = None) -> None:
        self._pool = pool or get_session_pool()

    async def send(self, request: Request, total_timeout: float | None) -> Response:
        session = self._pool.get()
        timeout = _client_timeout(request.timeout, total_timeout)
        try:
            raw = await session.request(
                request.method,
                request.url,
                headers=request.headers,
                data=request.body,
                ssl=request.ssl,
                timeout=timeout,
                allow_redirects=request.allow_redirects,
                proxy=request.proxy or env_proxy(*_origin(request.url)),
            )
        except aiohttp.ClientSSLError as e:
            raise TLSError(str(e)) from e
        if request.stream:
            return Response(
                raw.status,
                raw.headers,
                None,
                reason=raw.reason,
                url=str(raw.url),
                method=request.method,
                raw=raw,
            )
        try:
            content = await raw.read()
        finally:
            raw.release()
        return Response(
            raw.status,
            raw.headers,
            content,
            reason=raw.reason,
            url=str(raw.url),
            method=request.method,
        )
