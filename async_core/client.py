"""``AsyncClient``: an HTTP engine you can hold. It owns its connection pool (one aiohttp session
per event loop), its retry policy, an optional limiter, auth and hooks, and closes with
``aclose()`` or ``async with``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any

from async_core.clock import SYSTEM_CLOCK, Clock
from async_core.engine import Admission, Auth, Transport, send
from async_core.hooks import Hooks, RetryEvent
from async_core.messages import Request, Response
from async_core.policy import RetryPolicy
from async_core.sessions import SessionFactory
from async_core.transport import AiohttpTransport

_NO_HOOKS = Hooks()


class AsyncClient:
    """Sends requests with retries. Usable from any event loop (each gets its own session);
    ``aclose()`` closes the running loop's session, and every other loop's session closes when
    that loop shuts down."""

    def __init__(
        self,
        *,
        transport: Transport | None = None,
        policy: RetryPolicy | None = None,
        limiter: Admission | None = None,
        auth: Auth | None = None,
        hooks: Hooks | None = None,
        clock: Clock = SYSTEM_CLOCK,
        decompress: bool = True,
    ) -> None:
        self._owns_transport = transport is None
        self.transport = transport if transport is not None else AiohttpTransport(
            decompress=decompress
        )
        self.policy = policy if policy is not None else RetryPolicy()
        self.limiter = limiter
        self.auth = auth
        self.hooks = hooks if hooks is not None else _NO_HOOKS
        self.clock = clock
        self._closed = False

    def set_session_factory(self, factory: SessionFactory) -> None:
        """Build this client's later sessions with ``factory`` (its own transport only)."""
        if not isinstance(self.transport, AiohttpTransport):
            raise TypeError("set_session_factory applies to the built-in aiohttp transport")
        self.transport.pool.set_factory(factory)

    def send(
        self,
        request: Request,
        *,
        policy: RetryPolicy | None = None,
        raise_on_status: bool = False,
        limiter: Admission | None = None,
        auth: Auth | None = None,
    ) -> Awaitable[Response]:
        """``await client.send(request)``: one response or one error. A streamed request's
        response must be released. (A plain function returning the engine's coroutine: no extra
        frame per request.)"""
        if self._closed:
            raise RuntimeError("this AsyncClient is closed")
        return send(
            request,
            policy if policy is not None else self.policy,
            transport=self.transport,
            auth=auth if auth is not None else self.auth,
            admission=limiter if limiter is not None else self.limiter,
            raise_on_status=raise_on_status,
            clock=self.clock,
            on_retry=self.hooks.on_retry,
        )

    @asynccontextmanager
    async def stream(self, request: Request, **kwargs: Any) -> AsyncIterator[Response]:
        """``async with client.stream(request) as response``: the body is read as it arrives and
        the connection is given back when the block ends."""
        request.stream = True
        response = await self.send(request, **kwargs)
        try:
            yield response
        finally:
            response.release()

    async def aclose(self) -> None:
        self._closed = True
        if self._owns_transport:
            aclose = getattr(self.transport, "aclose", None)
            if aclose is not None:
                await aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


__all__ = ["AsyncClient", "Hooks", "RetryEvent"]
