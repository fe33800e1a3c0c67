"""``AsyncClient``: an HTTP engine you can hold. It owns its connection pools (one aiohttp session
per event loop), its retry policy, an optional limiter, auth and hooks, and closes with
``aclose()`` or ``async with``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from async_core.clock import SYSTEM_CLOCK, Clock
from async_core.engine import Admission, Auth, send
from async_core.messages import Request, Response
from async_core.policy import RetryPolicy
from async_core.transport import AiohttpTransport, Transport


@dataclass(frozen=True, slots=True)
class RetryEvent:
    """One retry about to happen: what failed, and how long the engine waits before the next try."""

    method: str
    url: str  # redacted
    attempt: int  # the attempt that failed, from 1
    max_attempts: int
    wait: float
    status: int | None  # the retryable status, or None after a transport error
    cause: str | None  # the transport error's class name, or None after a status


@dataclass(frozen=True, slots=True)
class Hooks:
    """Observers of a client's requests. Each is optional and must not raise."""

    on_retry: Callable[[RetryEvent], None] | None = None


class AsyncClient:
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
        self.transport = transport if transport is not None else AiohttpTransport.owned(
            decompress=decompress
        )
        self.policy = policy if policy is not None else RetryPolicy()
        self.limiter = limiter
        self.auth = auth
        self.hooks = hooks
        self.clock = clock
        self._closed = False

    async def send(
        self,
        request: Request,
        *,
        policy: RetryPolicy | None = None,
        raise_on_status: bool = False,
        limiter: Admission | None = None,
        auth: Auth | None = None,
    ) -> Response:
        """One response or one error. A streamed request's response must be released."""
        if self._closed:
            raise RuntimeError("this AsyncClient is closed")
        return await send(
            request,
            policy if policy is not None else self.policy,
            transport=self.transport,
            auth=auth if auth is not None else self.auth,
            admission=limiter if limiter is not None else self.limiter,
            raise_on_status=raise_on_status,
            clock=self.clock,
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
            await self.transport.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
