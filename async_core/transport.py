"""``AiohttpTransport``: one attempt over aiohttp, on a pool of one session per event loop.

Every aiohttp (and asyncio/ssl) failure leaves as the engine's ``TransportError`` (see
``errormap``), raised outside the library's ``except`` block so its exception is not even the
``__context__`` of ours. Other transports (for example a vendor SDK run in a worker thread) plug
into the same retry engine by implementing ``engine.Transport``.
"""

from __future__ import annotations

import contextvars
import weakref
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any
from urllib.request import getproxies_environment, proxy_bypass_environment

import aiohttp

from async_core.engine import Transport
from async_core.errormap import to_core_error
from async_core.errors import ConnectionDenied, DestinationDenied, ReadError, TLSError
from async_core.messages import Request, Response
from async_core.redact import redact_url
from async_core.sessions import SessionPool, default_session_factory

# aiohttp labels every POST/PUT/PATCH body "application/octet-stream" (even an empty one) unless
# told not to; requests sends no Content-Type the caller did not ask for.
_NO_AUTO_CONTENT_TYPE = ("Content-Type",)
_BODYLESS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})

# The "request is on the wire" callback of the attempt running in this task, if it wants one.
_ON_SENT: contextvars.ContextVar[Callable[[], None] | None] = contextvars.ContextVar(
    "async_core_on_sent", default=None
)


class _TLSAttempt:
    """What an https attempt learned about its connection (see ``_classify_tls_drop``)."""

    __slots__ = ("fresh_tls13",)

    def __init__(self) -> None:
        self.fresh_tls13 = False


_TLS_ATTEMPT: contextvars.ContextVar[_TLSAttempt | None] = contextvars.ContextVar(
    "async_core_tls_attempt", default=None
)
# Connections (their protocol objects) that already carried a request: a drop on one of those is
# an ordinary closed keep-alive, not a refused handshake.
_USED_CONNECTIONS: weakref.WeakSet = weakref.WeakSet()


class _SentSignallingRequest(aiohttp.ClientRequest):
    """aiohttp's request, telling the attempt that asked (and only it) when its headers went out,
    and, for https, whether it runs on a fresh TLS 1.3 connection. One session serves every
    request: no second pool of traced sessions, no trace signals paid by requests that do not
    ask."""

    def send(self, conn: Any) -> Any:
        # Not a coroutine of its own: no extra frame per request. The connection is ours at this
        # point and the headers go out in this same step, which is "on the wire" for a limiter.
        tls = _TLS_ATTEMPT.get()
        if tls is not None:
            protocol, transport = conn.protocol, conn.transport
            fresh = protocol not in _USED_CONNECTIONS
            if fresh and protocol is not None:
                _USED_CONNECTIONS.add(protocol)
            ssl_object = None if transport is None else transport.get_extra_info("ssl_object")
            tls.fresh_tls13 = fresh and ssl_object is not None and (
                ssl_object.version() == "TLSv1.3"
            )
        on_sent = _ON_SENT.get()
        if on_sent is not None:
            on_sent()
        return super().send(conn)


def session_factory(
    decompress: bool = True,
    *,
    connector: Callable[[], aiohttp.BaseConnector] | None = None,
    trace_configs: Sequence[aiohttp.TraceConfig] = (),
) -> Callable[[], aiohttp.ClientSession]:
    """Builds the sessions of a pool (``SessionPool(session_factory(...))``). ``connector`` is a
    factory, called once per session (a connector belongs to one event loop): a resolver, a
    socket factory or limits of your own. ``trace_configs`` are added to every session. The
    engine's request class stays, so throttled requests still signal when they are sent."""
    traces = list(trace_configs) or None

    def build() -> aiohttp.ClientSession:
        if connector is None:
            return default_session_factory(
                traces, auto_decompress=decompress, request_class=_SentSignallingRequest
            )
        # default_session_factory's options, on the caller's connector.
        return aiohttp.ClientSession(
            connector=connector(), trust_env=False, auto_decompress=decompress,
            trace_configs=traces, request_class=_SentSignallingRequest,
        )

    return build


def _denial(exc: BaseException) -> ConnectionDenied | None:
    """The ``ConnectionDenied`` a resolver or socket factory raised, under aiohttp's wrapper."""
    current: BaseException | None = exc
    for _ in range(4):
        if current is None or isinstance(current, ConnectionDenied):
            return current
        current = current.__cause__ or current.__context__
    return None


def _denied(exc: BaseException, method: str, url: str) -> DestinationDenied | None:
    denial = _denial(exc)
    if denial is None:
        return None
    return DestinationDenied(
        method=method, url=redact_url(url), cause=type(denial).__name__, reason=denial.reason,
        address=denial.address,
    )


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
    # requests' timeout is per socket operation (connect, then each read), not a total. ``connect``
    # also bounds the wait for a free pooled connection, so a starved pool cannot hang a call.
    # The total is the time left before a deadline, a new value every time: cache only without.
    if total is None:
        return _per_socket_timeout(read_timeout)
    return aiohttp.ClientTimeout(
        total=total, connect=read_timeout, sock_connect=read_timeout, sock_read=read_timeout
    )


@lru_cache(maxsize=64)
def _per_socket_timeout(read_timeout: float | None) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(
        total=None, connect=read_timeout, sock_connect=read_timeout, sock_read=read_timeout
    )


def _classify_tls_drop(error: BaseException) -> BaseException:
    """Under TLS 1.3 the client finishes its handshake before the server has checked the client
    certificate; a server that then refuses it (none sent, or untrusted) closes the connection.
    asyncio reports a plain disconnect, or a reset when the close beat the alert to our socket
    (the server dropped our unread request). A fresh TLS 1.3 connection closed or reset before
    any answer is that refusal: a TLS failure, deterministic, not retried."""
    if isinstance(error, ReadError) and (
        error.cause == "ServerDisconnectedError" or error.reason == "connection reset"
    ):
        return TLSError(
            method=error.method, url=error.url, cause=error.cause,
            reason="the server closed the new TLS 1.3 connection without answering "
            "(it may require a client certificate)",
        )
    return error


class AiohttpTransport:
    __slots__ = ("_pool",)

    def __init__(self, pool: SessionPool | None = None, *, decompress: bool = True) -> None:
        self._pool = pool if pool is not None else SessionPool(session_factory(decompress))

    @property
    def pool(self) -> SessionPool:
        return self._pool

    async def aclose(self) -> None:
        """Close this transport's session on the running loop."""
        await self._pool.aclose()

    async def send(
        self,
        request: Request,
        total_timeout: float | None,
        on_sent: Callable[[], None] | None = None,
    ) -> Response:
        error: BaseException | None = None
        token = None if on_sent is None else _ON_SENT.set(on_sent)
        tls = _TLSAttempt() if request.url.startswith("https:") else None
        tls_token = None if tls is None else _TLS_ATTEMPT.set(tls)
        try:
            raw = await self._pending(request, _client_timeout(request.timeout, total_timeout))
        except Exception as exc:
            error = _denied(exc, request.method, request.url) or to_core_error(
                exc, request.method, request.url
            )
            if tls is not None and tls.fresh_tls13:
                error = _classify_tls_drop(error)
        finally:
            if token is not None:
                _ON_SENT.reset(token)
            if tls_token is not None:
                _TLS_ATTEMPT.reset(tls_token)
        if error is not None:  # raised outside the handler: see the module docstring
            raise error
        if request.stream:  # a stream keeps the connection until its body is read
            return Response(
                raw.status, raw.headers, None, reason=raw.reason, url=raw.url,
                method=request.method, raw=raw,
            )
        try:
            content = await raw.read()
        except Exception as exc:
            error = to_core_error(exc, request.method, request.url)
        finally:
            raw.release()
        if error is not None:
            raise error
        return Response(
            raw.status, raw.headers, content, reason=raw.reason, url=raw.url, method=request.method
        )

    def _pending(self, request: Request, timeout: aiohttp.ClientTimeout) -> Any:
        session = self._pool.get()
        proxy = request.proxy or env_proxy(request.url)
        plain = proxy is None and request.ssl is True and request.allow_redirects
        if plain and request.body is None and request.method in _BODYLESS:
            # The hot path: only what differs from aiohttp's defaults (every keyword is packed
            # and bound twice on its way to ClientSession._request).
            return session.request(
                request.method, request.url, headers=request.headers, timeout=timeout
            )
        if plain and not _needs_skip(request):
            return session.request(
                request.method, request.url, headers=request.headers, data=request.body,
                timeout=timeout,
            )
        return session.request(
            request.method,
            request.url,
            headers=request.headers,
            data=request.body,
            ssl=request.ssl,
            timeout=timeout,
            allow_redirects=request.allow_redirects,
            proxy=proxy,
            skip_auto_headers=_NO_AUTO_CONTENT_TYPE if _needs_skip(request) else None,
        )


__all__ = ["AiohttpTransport", "Transport", "env_proxy", "session_factory"]
