"""``requests.Response`` views of the engine's responses: buffered, streamed asynchronously, and
streamed for blocking callers (each read run on the background loop)."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator, Iterator
from functools import lru_cache

import requests
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

from async_core import CoreError, get_runner, run_sync
from mlflow.utils.http_errors import _mlflow_error


class _EngineResponse(requests.Response):
    """A ``requests.Response`` filled from an engine response.

    The cookie jar, the case-insensitive header dict and the history list are built on first
    use, and attributes that keep requests' defaults live on the class: most callers read only
    the status and the body, and setting everything eagerly cost more than the rest of the
    conversion.
    """

    _headers = None
    _cookies = None
    _history = None
    _url = None
    _next = None
    raw = None
    request = None
    elapsed = datetime.timedelta(0)

    def __init__(self, core) -> None:  # requests.Response.__init__ is skipped on purpose
        content = core.content
        self._core = core
        self._content = False if content is None else content
        self._content_consumed = content is not None
        self.status_code = core.status
        self.reason = core.reason
        content_type = core.headers.get("Content-Type")
        self.encoding = _encoding_of(content_type) if content_type else None

    @property
    def url(self) -> str:
        if self._url is None:
            self._url = self._core.url
        return self._url

    @url.setter
    def url(self, value) -> None:
        self._url = value

    @property
    def headers(self) -> CaseInsensitiveDict:
        if self._headers is None:
            self._headers = CaseInsensitiveDict(self._core.headers)
        return self._headers

    @headers.setter
    def headers(self, value) -> None:
        self._headers = value

    @property
    def cookies(self):
        if self._cookies is None:
            self._cookies = requests.cookies.RequestsCookieJar()
        return self._cookies

    @cookies.setter
    def cookies(self, value) -> None:
        self._cookies = value

    @property
    def history(self) -> list:
        if self._history is None:
            self._history = []
        return self._history

    @history.setter
    def history(self, value) -> None:
        self._history = value


@lru_cache(maxsize=64)
def _encoding_of(content_type: str) -> str | None:
    return get_encoding_from_headers({"content-type": content_type})


class AsyncStreamResponse(_EngineResponse):
    """A ``requests.Response`` whose body is still on the wire, read asynchronously."""

    async def aiter_bytes(self, chunk_size: int = 65536) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._core.aiter_chunks(chunk_size):
                yield chunk
        except CoreError as e:
            raise _mlflow_error(e, self.url, None) from e
        self._content_consumed = True

    async def aiter_lines(self, chunk_size: int = 65536) -> AsyncIterator[bytes]:
        """Lines without their endings, split like ``requests.Response.iter_lines``."""
        pending = b""
        async for chunk in self.aiter_bytes(chunk_size):
            lines = (pending + chunk).splitlines(keepends=True)
            pending = lines.pop() if lines and not lines[-1].endswith((b"\n", b"\r")) else b""
            for line in lines:
                yield line.rstrip(b"\r\n")
        if pending:
            yield pending

    async def aread(self) -> bytes:
        if self._content is False:
            self._content = b"".join([chunk async for chunk in self.aiter_bytes()])
        return self._content

    @property
    def content(self):
        if self._content is False:
            raise RuntimeError(
                "The body of a streamed async response must be read with `await resp.aread()`, "
                "`resp.aiter_bytes()` or `resp.aiter_lines()`."
            )
        return self._content

    async def aclose(self) -> None:
        self._core.close() if not self._content_consumed else self._core.release()

    def close(self) -> None:
        self._core.close()

    async def __aenter__(self) -> AsyncStreamResponse:
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.aclose()


class _BlockingRaw:
    """A ``raw`` for a streamed sync ``requests.Response``: each read runs on the runner loop."""

    __slots__ = ("_core",)

    def __init__(self, core) -> None:
        self._core = core

    def read(self, amt: int | None = None, decode_content: bool = True) -> bytes:
        if amt is None:
            return b"".join(self.stream())
        return self._read_chunk(amt)

    def stream(self, amt: int = 65536, decode_content: bool = True) -> Iterator[bytes]:
        while True:
            chunk = self._read_chunk(amt or 65536)
            if not chunk:
                return
            yield chunk

    def _read_chunk(self, amt: int) -> bytes:
        try:
            return run_sync(self._core.read_chunk(amt))
        except CoreError as e:
            raise _mlflow_error(e, self._core.url, None) from e

    def close(self) -> None:
        # aiohttp objects belong to the runner loop: close there, not from this thread.
        get_runner().loop.call_soon_threadsafe(self._core.close)

    def release_conn(self) -> None:
        get_runner().loop.call_soon_threadsafe(self._core.release)


def _blocking_stream_response(core) -> requests.Response:
    response = _EngineResponse(core)
    response.raw = _BlockingRaw(core)
    return response
