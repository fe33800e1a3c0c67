"""Transports send one attempt. ``AiohttpTransport`` is the default; others (for example a vendor
SDK run in a worker thread) plug into the same retry engine by implementing ``Transport``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Protocol
from urllib.request import getproxies_environment, proxy_bypass_environment

import aiohttp

from async_core.errors import TLSError
from async_core.messages import Request, Response
from async_core.sessions import SessionPool, default_session_factory, get_session_pool

#: The exceptions worth another attempt: connection failures, resets, timeouts, truncated bodies.
#: TLS failures are excluded (they are re-raised as TLSError, see below).
RETRYABLE_EXCEPTIONS: tuple[type[BaseException], ...] = (
    aiohttp.ClientConnectionError,
    aiohttp.ClientPayloadError,
    asyncio.TimeoutError,
)


class Transport(Protocol):
    async def send(
        self,
        request: Request,
        total_timeout: float | None,
        on_sent: Callable[[], None] | None = None,
    ) -> Response:
        """Send one attempt. ``total_timeout`` bounds the whole attempt (the time left before the
        request's deadline), on top of the request's own connect/read timeout. ``on_sent``, if
        given, is called the moment the request is on the wire (the throttle's start time)."""
        ...


# aiohttp labels every POST/PUT/PATCH body "application/octet-stream" (even an empty one) unless
# told not to; requests sends no Content-Type the caller did not ask for.
_NO_AUTO_CONTENT_TYPE = ("Content-Type",)


@lru_cache(maxsize=1024)
def env_proxy(url: str) -> str | None:
    """The proxy HTTP(S)_PROXY/NO_PROXY name for a URL. Read once per URL (a dict lookup after
    that), where aiohttp's trust_env would cost two thread hops per request."""
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    host = host if host.endswith("]") else host.rsplit(":", 1)[0]
    proxies = getproxies_environment()
    proxy = proxies.get(scheme.lower()) or proxies.get("all")
    if proxy is None or proxy_bypass_environment(host, proxies):
        return None
    return proxy


def _needs_skip(request: Request) -> bool:
    # Only a request without a Content-Type needs it (skip_auto_headers costs aiohttp a set and a
    # multidict per call); JSON requests carry theirs.
    headers = request.headers
    return "Content-Type" not in headers and not any(
        name.lower() == "content-type" for name in headers
    )


def _client_timeout(read_timeout: float | None, total: float | None) -> aiohttp.ClientTimeout:
    # requests' timeout is per socket operation (connect, then each read), not a total. The
    # total is the time left before a deadline, a new value every time: cache only without one.
    if total is None:
        return _per_socket_timeout(read_timeout)
    return aiohttp.ClientTimeout(total=total, sock_connect=read_timeout, sock_read=read_timeout)


@lru_cache(maxsize=64)
def _per_socket_timeout(read_timeout: float | None) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(total=None, sock_connect=read_timeout, sock_read=read_timeout)


async def _headers_sent(session: Any, ctx: Any, params: Any) -> None:
    ctx.trace_request_ctx["on_sent"]()


def _traced_session_factory(auto_decompress: bool = True) -> aiohttp.ClientSession:
    # Trace signals cost a few microseconds on every request, so only requests that need to know
    # when they went out (throttled ones) use sessions that carry them.
    trace = aiohttp.TraceConfig()
    trace.on_request_headers_sent.append(_headers_sent)
    return default_session_factory(trace_configs=[trace], auto_decompress=auto_decompress)


_traced_pool = SessionPool(_traced_session_factory)


class AiohttpTransport:
    __slots__ = ("_pool", "_traced_pool")

    def __init__(self, pool: SessionPool | None = None, traced_pool: SessionPool | None = None):
        self._pool = pool or get_session_pool()
        self._traced_pool = traced_pool or _traced_pool

    @classmethod
    def owned(cls, *, decompress: bool = True) -> AiohttpTransport:
        """A transport with pools of its own (for an ``AsyncClient``), closed by ``aclose``."""

        def plain() -> aiohttp.ClientSession:
            return default_session_factory(auto_decompress=decompress)

        def traced() -> aiohttp.ClientSession:
            return _traced_session_factory(auto_decompress=decompress)

        return cls(SessionPool(plain), SessionPool(traced))

    async def aclose(self) -> None:
        """Close this transport's sessions on the running loop."""
        await self._pool.aclose()
        await self._traced_pool.aclose()

    async def send(
        self,
        request: Request,
        total_timeout: float | None,
        on_sent: Callable[[], None] | None = None,
    ) -> Response:
        timeout = _client_timeout(request.timeout, total_timeout)
        proxy = request.proxy or env_proxy(request.url)
        try:
            if on_sent is None and proxy is None and request.ssl is True and (
                request.allow_redirects and not _needs_skip(request)
            ):
                # The usual request passes only what differs from aiohttp's defaults: every
                # keyword is packed and bound twice on its way to ClientSession._request.
                pending = self._pool.get().request(
                    request.method,
                    request.url,
                    headers=request.headers,
                    data=request.body,
                    timeout=timeout,
                )
            else:
                if on_sent is None:
                    session, trace_ctx = self._pool.get(), None
                else:
                    session, trace_ctx = self._traced_pool.get(), {"on_sent": on_sent}
                pending = session.request(
                    request.method,
                    request.url,
                    headers=request.headers,
                    data=request.body,
                    ssl=request.ssl,
                    timeout=timeout,
                    allow_redirects=request.allow_redirects,
                    proxy=proxy,
                    skip_auto_headers=_NO_AUTO_CONTENT_TYPE if _needs_skip(request) else None,
                    trace_request_ctx=trace_ctx,
                )
            raw = await pending
        except aiohttp.ClientSSLError as e:
            raise TLSError(str(e)) from e
        if request.stream:  # a stream keeps the connection until its body is read
            return Response(
                raw.status, raw.headers, None, reason=raw.reason, url=raw.url,
                method=request.method, raw=raw,
            )
        try:
            content = await raw.read()
        finally:
            raw.release()
        return Response(
            raw.status, raw.headers, content, reason=raw.reason, url=raw.url, method=request.method
        )
