"""One invocation: a target's candidates tried in order (a traffic route falls back to the next
destination when one fails before its first byte), then a JSON answer or an incremental SSE
stream. A stream's first chunk is pulled before the 200 is committed, so a failure before it
gets its real status and a JSON error."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from async_core.errors import CoreError
from mlflow.gateway.exceptions import AIGatewayException
from mlflow.gateway.server.context import REQUEST_INFO_KEY, RequestInfo
from mlflow.gateway.server.errors import json_response, to_gateway_exception
from mlflow.gateway.server.runtime import Destination, Target
from mlflow.gateway.server.sse import DONE, encode_data, encode_error
from mlflow.gateway.server.validation import CHAT, COMPLETIONS, EMBEDDINGS

_logger = logging.getLogger("mlflow.gateway.server")

#: The monotonic time a request arrived (set by the server's context middleware).
STARTED_KEY = web.RequestKey("mlflow_gateway_started", float)

_FALLBACK_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

_CALLS = {CHAT: "chat", COMPLETIONS: "completions", EMBEDDINGS: "embeddings"}
_STREAMS = {CHAT: "chat_stream", COMPLETIONS: "completions_stream"}


def _worth_falling_back(error: BaseException) -> bool:
    if isinstance(error, AIGatewayException):
        return error.status_code in _FALLBACK_STATUSES or error.status_code >= 500
    return isinstance(error, CoreError | TimeoutError | OSError)


async def invoke(
    request: web.Request, target: Target, payload: dict[str, Any], stream: bool
) -> web.StreamResponse:
    info: RequestInfo = request[REQUEST_INFO_KEY]
    info.streamed = stream
    candidates = target.candidates()
    cooldowns = target.cooldowns
    for index, (name, destination) in enumerate(candidates):
        info.endpoint, info.provider = destination.name, destination.provider_name
        info.upstream_attempts += 1
        try:
            if stream:
                iterator, first = await _open_stream(destination, target.endpoint_type, payload)
            else:
                result = await getattr(destination.provider, _CALLS[target.endpoint_type])(payload)
        except Exception as error:
            worth = _worth_falling_back(error)
            if cooldowns is not None and worth:
                cooldowns.failed(name)
            if worth and index + 1 < len(candidates):
                _logger.warning(
                    "Destination '%s' of route '%s' failed before its first byte (%s); "
                    "trying '%s'", name, target.name, _describe(error), candidates[index + 1][0],
                )
                continue
            raise
        if cooldowns is not None:
            cooldowns.succeeded(name)
        if stream:
            return await _stream(request, info, iterator, first)
        return json_response(result)
    raise AIGatewayException(status_code=503, detail=f"No destination of '{target.name}' is set.")


def _describe(error: BaseException) -> str:
    if isinstance(error, AIGatewayException):
        return f"status {error.status_code}"
    return type(error).__name__


async def _open_stream(
    destination: Destination, endpoint_type: str, payload: dict[str, Any]
) -> tuple[AsyncIterator[dict[str, Any]], dict[str, Any] | None]:
    method = _STREAMS.get(endpoint_type)
    if method is None:
        raise AIGatewayException(
            status_code=400,
            detail=f"Streaming is not supported for endpoints of type '{endpoint_type}'.",
        )
    iterator = getattr(destination.provider, method)(payload)
    try:
        first = await anext(iterator)
    except StopAsyncIteration:
        return iterator, None
    except BaseException:
        await _close(iterator)
        raise
    return iterator, first


async def _close(iterator: AsyncIterator[Any]) -> None:
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        try:
            await aclose()
        except Exception:  # noqa: BLE001 - closing an upstream that already failed
            pass


def _error_event(error: BaseException) -> dict[str, Any]:
    if not isinstance(error, AIGatewayException):
        error = to_gateway_exception(error) or AIGatewayException(
            status_code=500, detail="The stream failed."
        )
    return {
        "error": {
            "message": error.detail if isinstance(error.detail, str) else "The stream failed.",
            "type": "upstream_error",
            "code": error.status_code,
        }
    }


async def _stream(
    request: web.Request,
    info: RequestInfo,
    iterator: AsyncIterator[dict[str, Any]],
    first: dict[str, Any] | None,
) -> web.StreamResponse:
    response = web.StreamResponse(
        status=200,
        headers={"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"},
    )
    try:
        await response.prepare(request)
        if first is not None:
            await response.write(encode_data(first))
            started = request.get(STARTED_KEY)
            if started is not None:
                info.first_byte_seconds = time.monotonic() - started
            try:
                async for chunk in iterator:
                    await response.write(encode_data(chunk))
            except (ConnectionResetError, asyncio.CancelledError):
                raise  # the caller left: the finally below cancels the upstream request
            except Exception as error:  # noqa: BLE001 - reported in the stream, not raised
                _logger.warning("Stream of '%s' failed mid-way (%s)", info.endpoint,
                                _describe(error))
                await response.write(encode_error(_error_event(error)))
                await response.write_eof()
                return response
        await response.write(DONE)
        await response.write_eof()
        return response
    finally:
        await _close(iterator)
