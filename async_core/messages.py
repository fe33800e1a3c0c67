"""The engine's request and response objects: plain, slotted, transport-neutral."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from typing import Any

#: bytes, or an async iterable of bytes (streamed upload: not retried once sent).
Body = bytes | AsyncIterable[bytes] | None


class Request:
    """One logical request. ``url`` is final (query included) and ``body`` is bytes, so a retry or a
    signer sees exactly what goes on the wire, or an async iterable of bytes streamed through
    (retried only if the connection never opened). ``extensions`` carries transport extras."""

    __slots__ = (
        "method",
        "url",
        "headers",
        "body",
        "timeout",
        "ssl",
        "allow_redirects",
        "stream",
        "proxy",
        "extensions",
    )

    def __init__(
        self,
        method: str,
        url: str,
        headers: dict[str, str] | None = None,
        body: Body = None,
        *,
        timeout: float | None = None,
        ssl: Any = True,
        allow_redirects: bool = True,
        stream: bool = False,
        proxy: str | None = None,
        extensions: dict[str, Any] | None = None,
    ) -> None:
        self.method = method.upper()
        self.url = url
        self.headers = headers if headers is not None else {}
        self.body = body
        self.timeout = timeout  # per attempt: connect and between-bytes read, like requests
        self.ssl = ssl
        self.allow_redirects = allow_redirects
        self.stream = stream
        self.proxy = proxy
        self.extensions = extensions

    def copy_with_headers(self, headers: dict[str, str], url: str | None = None) -> Request:
        clone = Request.__new__(Request)
        for name in Request.__slots__:
            setattr(clone, name, getattr(self, name))
        clone.headers = headers
        if url is not None:
            clone.url = url
        return clone

    def __repr__(self) -> str:
        # Headers are left out on purpose: they carry credentials.
        return f"<Request {self.method} {self.url}>"


class Response:
    """A response. Buffered (``content`` is bytes) unless the request streamed, in which case
    ``aiter_chunks()`` reads the body and ``release()`` must be called (``close()`` aborts)."""

    __slots__ = (
        "status", "reason", "headers", "_url", "method", "content", "_raw", "_abandoned",
        "__weakref__",
    )

    def __init__(
        self,
        status: int,
        headers: Mapping[str, str],
        content: bytes | None,
        *,
        reason: str | None = None,
        url: Any = "",
        method: str = "GET",
        raw: Any = None,
    ) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self._url = url  # a str, or a URL object turned into one when first read
        self.method = method
        self.content = content
        self._raw = raw
        # A stream dropped without release() must still give its connection back: closed on
        # its own loop (thread-safe wake-up), wherever the garbage collector happens to run.
        self._abandoned = None
        if raw is not None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
            if loop is not None:
                self._abandoned = weakref.finalize(self, _close_abandoned, loop, raw)

    @property
    def url(self) -> str:
        url = self._url
        if url.__class__ is not str:
            url = self._url = str(url)
        return url

    @url.setter
    def url(self, value: Any) -> None:
        self._url = value

    @property
    def is_stream(self) -> bool:
        return self._raw is not None

    async def aiter_chunks(self, chunk_size: int = 65536) -> AsyncIterator[bytes]:
        if self._raw is None:
            if self.content:
                yield self.content
            return
        try:
            while True:
                chunk = await self.read_chunk(chunk_size)
                if not chunk:
                    return
                yield chunk
        finally:
            self.release()

    async def read_chunk(self, size: int = 65536) -> bytes:
        """The next chunk of a streamed body, b"" at the end."""
        if self._raw is None:
            data, self.content = self.content or b"", b""
            return data
        error = None
        try:
            data = await self._raw.content.read(size)
        except Exception as exc:
            from async_core.errormap import to_core_error  # only a failing stream pays the import

            error = to_core_error(exc, self.method, self.url)
        if error is not None:  # outside the handler: the library's error is not our context
            self.close()
            raise error
        if not data:
            self.release()
        return data

    def release(self) -> None:
        """Give the connection back to the pool (the body, if unread, is discarded)."""
        raw, self._raw = self._raw, None
        if raw is not None:
            self._detach()
            raw.release()

    def close(self) -> None:
        """Drop the connection (used when a stream is abandoned midway)."""
        raw, self._raw = self._raw, None
        if raw is not None:
            self._detach()
            raw.close()

    def _detach(self) -> None:
        if self._abandoned is not None:
            self._abandoned.detach()
            self._abandoned = None

    def __repr__(self) -> str:
        return f"<Response [{self.status}] {self.method} {self.url}>"


def _close_abandoned(loop: asyncio.AbstractEventLoop, raw: Any) -> None:
    try:
        loop.call_soon_threadsafe(raw.close)
    except RuntimeError:  # the loop is closed: its connections are gone with it
        pass
