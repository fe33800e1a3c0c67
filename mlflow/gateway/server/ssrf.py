"""SSRF guard (opt-in, ``options.ssrf_guard``): providers may only be reached at public addresses.

Refused: loopback, link-local (cloud metadata services live there), private ranges (RFC 1918,
IPv6 unique-local), carrier-grade NAT (100.64.0.0/10), unspecified, multicast and reserved
addresses, also when written as IPv4-mapped IPv6.

Three places:
- :func:`check_config` at config load (and on every reload): each provider URL field
  (``*api_base``, ``*_url``) whose host is such an address, or resolves to one, fails the load with
  an ``MlflowException`` naming the endpoint and the host.
- :func:`guarded_transport` (and :func:`guarded_session_factory`) at connect time (DNS
  rebinding): its connector resolves through :class:`SSRFGuardResolver`, which refuses a name
  that now resolves to such an address, and creates sockets through
  :func:`guarded_socket_factory`, which refuses to connect to one (this also covers IP literals,
  which aiohttp never sends to a resolver). A refusal is final (never retried) and the caller
  gets a 502 naming the endpoint and the refused host.
- Redirects: a guarded session refuses to follow any redirect (a provider's 3xx could point
  anywhere); upstream requests should also be sent with ``allow_redirects=False``.
"""

from __future__ import annotations

import concurrent.futures
import ipaddress
import logging
import re
import socket
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from async_core.errors import ConnectionDenied, DestinationDenied
from async_core.messages import Request, Response
from async_core.sessions import SessionPool
from async_core.transport import AiohttpTransport, session_factory
from mlflow.exceptions import MlflowException
from mlflow.gateway.exceptions import AIGatewayException
from mlflow.gateway.server.context import current_request_info

_logger = logging.getLogger(__name__)

_URL_FIELD = re.compile(r"(api_base|_url|base_url|^url|endpoint)$")
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_RESOLVE_TIMEOUT = 5.0


class SSRFRefused(ConnectionDenied):
    """A connection the guard refused. Message: host and reason only (no URL, no credential).
    The engine turns it into a ``DestinationDenied`` (one attempt, never retried)."""


class RedirectRefused(aiohttp.ClientError):
    """A provider answered with a redirect, which a guarded session never follows."""


def forbidden_reason(address: str) -> str | None:
    """Why ``address`` (an IP literal) may not be reached, or None when it may."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_multicast:
        return "multicast"
    if ip.is_private or (isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT):
        return "private"
    if ip.is_reserved:
        return "reserved"
    return None


def _host_reason(host: str) -> tuple[str, str] | None:
    """(address, reason) when ``host`` is, or resolves to, a forbidden address."""
    bare = host.strip("[]")
    reason = forbidden_reason(bare)
    if reason:
        return bare, reason
    try:
        ipaddress.ip_address(bare)
        return None  # a public literal
    except ValueError:
        pass
    if bare.lower() == "localhost" or bare.lower().endswith(".localhost"):
        return bare, "loopback"
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(socket.getaddrinfo, bare, None, 0, socket.SOCK_STREAM)
        try:
            infos = future.result(timeout=_RESOLVE_TIMEOUT)
        except (OSError, concurrent.futures.TimeoutError):
            # Not resolvable now: the connect-time guard still checks every connection.
            _logger.warning("SSRF guard: could not resolve provider host %s at config load", bare)
            return None
    for info in infos:
        address = info[4][0]
        reason = forbidden_reason(address)
        if reason:
            return address, reason
    return None


def _fields(obj: Any) -> Iterator[tuple[str, Any]]:
    if obj is None:
        return
    if isinstance(obj, Mapping):
        yield from obj.items()
        return
    for name in getattr(type(obj), "model_fields", {}):
        yield name, getattr(obj, name, None)


def _provider_urls(model_config: Any, depth: int = 0) -> Iterator[str]:
    for name, value in _fields(model_config):
        if isinstance(value, str) and _URL_FIELD.search(name):
            yield value
        elif depth < 2 and (isinstance(value, Mapping) or hasattr(type(value), "model_fields")):
            yield from _provider_urls(value, depth + 1)


def _get(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def check_config(config: Any) -> None:
    """Refuse a gateway config (``GatewayConfig`` or its mapping) with a provider URL whose host
    is, or resolves to, a loopback, link-local or private address. Blocking (it may resolve
    names): on a running loop, call it in an executor."""
    for endpoint in _get(config, "endpoints") or []:
        model = _get(endpoint, "model")
        for url in _provider_urls(_get(model, "config")):
            try:
                host = urlsplit(url.strip()).hostname
            except ValueError:
                host = None
            if not host:
                continue
            found = _host_reason(host)
            if found:
                address, reason = found
                shown = host if address == host else f"{host} ({address})"
                raise MlflowException.invalid_parameter_value(
                    f"Endpoint '{_get(endpoint, 'name')}': the provider host {shown} is a "
                    f"{reason} address, which the SSRF guard refuses. Point the provider at a "
                    "public address, or start the gateway without the SSRF guard if this "
                    "provider is meant to be internal."
                )


class SSRFGuardResolver(AbstractResolver):
    """Wraps a resolver (aiohttp's default) and refuses names resolving to forbidden addresses
    (DNS rebinding: a name that was public at config load and is private now)."""

    def __init__(self, inner: AbstractResolver | None = None) -> None:
        self._inner = inner if inner is not None else aiohttp.resolver.DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            reason = forbidden_reason(result["host"])
            if reason:
                raise SSRFRefused(
                    f"SSRF guard: {host} resolves to a {reason} address; connection refused",
                    address=result["host"],
                )
        return results

    async def close(self) -> None:
        await self._inner.close()


def guarded_socket_factory(addr_info) -> socket.socket:
    """aiohttp ``TCPConnector(socket_factory=...)``: refuse to connect to forbidden addresses."""
    family, type_, proto, _, sockaddr = addr_info
    reason = forbidden_reason(str(sockaddr[0]))
    if reason:
        raise SSRFRefused(
            f"SSRF guard: refusing to connect to a {reason} address", address=str(sockaddr[0])
        )
    return socket.socket(family=family, type=type_, proto=proto)


async def _refuse_redirect(session, context, params) -> None:
    raise RedirectRefused(
        f"the provider answered {params.response.status} (a redirect); redirects from "
        "providers are not followed"
    )


def guarded_connector(**kwargs: Any) -> aiohttp.TCPConnector:
    kwargs.setdefault("limit", 100)
    kwargs.setdefault("limit_per_host", 0)
    return aiohttp.TCPConnector(
        resolver=SSRFGuardResolver(), socket_factory=guarded_socket_factory, **kwargs
    )


def guarded_session_factory(
    trace_configs: list | None = None,
    auto_decompress: bool = True,
    connector: aiohttp.BaseConnector | None = None,
    **options: Any,
) -> aiohttp.ClientSession:
    """Same signature and options as ``async_core.sessions.default_session_factory``, with the
    guarded connector and redirects refused. Call it on the loop that will use the session."""
    return aiohttp.ClientSession(
        connector=connector if connector is not None else guarded_connector(),
        trust_env=False,
        auto_decompress=auto_decompress,
        trace_configs=[*(trace_configs or []), _redirect_refusal()],
        **options,
    )


def _redirect_refusal() -> aiohttp.TraceConfig:
    refuse = aiohttp.TraceConfig()
    refuse.on_request_redirect.append(_refuse_redirect)
    return refuse


def _refused_answer(url: str, error: DestinationDenied) -> AIGatewayException:
    """502 naming the endpoint, the provider host and the refused address (never the URL's
    path or query, which may carry a key)."""
    info = current_request_info.get()
    named = info is not None and info.endpoint
    endpoint = f"Endpoint '{info.endpoint}': the" if named else "The"
    try:
        host = urlsplit(url).hostname or "?"
    except ValueError:
        host = "?"
    address = error.address.strip("[]")
    shown = host if not address or address == host else f"{host} ({address})"
    reason = error.reason.removeprefix("SSRF guard: ")
    return AIGatewayException(
        status_code=502,
        detail=f"{endpoint} SSRF guard refused to connect to the provider host {shown}: "
        f"{reason}. Point the provider at a public address, or start the gateway without "
        "--ssrf-guard if this provider is meant to be internal.",
    )


class GuardedTransport:
    """The engine's aiohttp transport on the guarded connector, redirects refused. A refused
    destination is final (the engine never retries a ``DestinationDenied``) and answers 502."""

    __slots__ = ("_inner",)

    def __init__(self, *, decompress: bool = True) -> None:
        factory = session_factory(
            decompress, connector=guarded_connector, trace_configs=[_redirect_refusal()]
        )
        self._inner = AiohttpTransport(SessionPool(factory), decompress=decompress)

    @property
    def pool(self) -> SessionPool:
        return self._inner.pool

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def send(
        self, request: Request, total_timeout: float | None, on_sent: Any = None
    ) -> Response:
        try:
            return await self._inner.send(request, total_timeout, on_sent)
        except DestinationDenied as error:
            refused = _refused_answer(request.url, error)
        _logger.warning("%s", refused.detail)
        raise refused


def guarded_transport(*, decompress: bool = True) -> GuardedTransport:
    """An ``async_core`` transport whose sessions are guarded: pass it as
    ``AsyncClient(transport=guarded_transport())`` and close it with ``await transport.aclose()``
    (a client does not close a transport it was given)."""
    return GuardedTransport(decompress=decompress)
