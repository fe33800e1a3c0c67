"""aiohttp's (and asyncio's, and ssl's) failures as the engine's errors.

The only module that names aiohttp's exception types. Each error becomes a ``TransportError``
subclass built from fields chosen here: the method, the redacted URL, a fixed phrase and the
original class name. Never the original's text: aiohttp's reprs carry request headers, and
parser messages can echo response bytes.
"""

from __future__ import annotations

import asyncio
import errno
import ssl

import aiohttp

from async_core.errors import (
    ConnectError,
    CoreError,
    InvalidURL,
    ProtocolError,
    ReadError,
    TLSError,
    TransportError,
    TransportTimeout,
)
from async_core.redact import redact_url

# Parser failures (the cause chain of a ClientResponseError) by class name: fixed phrases.
_PARSER_PHRASES = {
    "BadStatusLine": "malformed status line",
    "BadHttpMessage": "malformed response",
    "BadHttpMethod": "malformed response",
    "LineTooLong": "response header line too long",
    "InvalidHeader": "malformed response header",
    "TooManyHeaders": "too many response headers",
    "ContentLengthError": "response body shorter than its Content-Length",
    "TransferEncodingError": "malformed chunked body",
    "ContentEncodingError": "undecodable compressed body",
}


def to_core_error(exc: BaseException, method: str, url: object) -> BaseException:
    """The engine's error for ``exc``; ``exc`` itself when it is not a transport failure
    (a bug, a cancellation, or already one of ours)."""
    if isinstance(exc, CoreError) or not isinstance(exc, Exception):
        return exc
    kind = _classify(exc)
    if kind is None:
        return exc
    cls, reason = kind
    safe_url = redact_url(url)
    if cls is InvalidURL:
        return InvalidURL(f"invalid URL: {safe_url}", url=safe_url)
    return cls(method=method, url=safe_url, cause=type(exc).__name__, reason=reason)


def _classify(exc: Exception) -> tuple[type, str] | None:
    tls = _ssl_error_in_chain(exc)
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        verify = getattr(exc.certificate_error, "verify_message", None)
        return TLSError, f"certificate verify failed ({verify})" if verify else "certificate " \
            "verify failed"
    if isinstance(exc, (aiohttp.ClientSSLError, aiohttp.ServerFingerprintMismatch)) or tls:
        code = getattr(tls, "reason", None)
        return TLSError, f"TLS failure ({code})" if code else "TLS failure"
    if isinstance(exc, (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError)):
        return InvalidURL, "invalid URL"
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return TransportTimeout, "connect timeout"
    if isinstance(exc, aiohttp.SocketTimeoutError):
        return TransportTimeout, "read timeout"
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return TransportTimeout, "timeout"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return ConnectError, "name resolution failed"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return ConnectError, _os_phrase(exc.os_error, "connection failed")
    if isinstance(exc, aiohttp.TooManyRedirects):
        return ProtocolError, "too many redirects"
    if isinstance(exc, aiohttp.ClientResponseError):
        return ProtocolError, _parser_phrase(exc, "malformed response")
    if isinstance(exc, aiohttp.ClientPayloadError):
        phrase = _parser_phrase(exc, "response body incomplete")
        return ReadError, phrase
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return ReadError, "server disconnected"
    if isinstance(exc, (aiohttp.ClientOSError, ConnectionError)):
        return ReadError, _os_phrase(exc, "connection error")
    if isinstance(exc, aiohttp.ClientConnectionError):
        return ReadError, "connection lost"
    if isinstance(exc, aiohttp.ClientError):
        return ProtocolError, "HTTP client error"
    if isinstance(exc, OSError):
        return ConnectError if _is_connect_errno(exc) else ReadError, _os_phrase(exc, "OS error")
    return None


def _ssl_error_in_chain(exc: BaseException) -> ssl.SSLError | None:
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 8:
        if isinstance(current, ssl.SSLError):
            return current
        seen += 1
        current = current.__cause__ or current.__context__
    return None


def _parser_phrase(exc: BaseException, default: str) -> str:
    current: BaseException | None = exc
    for _ in range(8):
        if current is None:
            break
        phrase = _PARSER_PHRASES.get(type(current).__name__)
        if phrase is not None:
            return phrase
        current = current.__cause__ or current.__context__
    return default


def _os_phrase(error: BaseException | None, default: str) -> str:
    code = getattr(error, "errno", None)
    if code == errno.ECONNREFUSED:
        return "connection refused"
    if code == errno.ECONNRESET:
        return "connection reset"
    if code in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return "host unreachable"
    name = errno.errorcode.get(code) if isinstance(code, int) else None
    return f"{default} ({name})" if name else default


def _is_connect_errno(error: OSError) -> bool:
    return error.errno in (errno.ECONNREFUSED, errno.ENETUNREACH, errno.EHOSTUNREACH)


__all__ = ["to_core_error", "TransportError"]
