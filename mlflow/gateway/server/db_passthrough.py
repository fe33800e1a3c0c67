"""Passthrough calls: a provider's own request body sent to that provider's own API, with the
stored model name and credentials filled in, and its answer passed back as it is (streams
forwarded chunk by chunk as they arrive). Seed 002's routes:

    /gateway/openai/v1/{chat/completions,embeddings,responses}   (model names the endpoint)
    /gateway/anthropic/v1/messages                                (model names the endpoint)
    /gateway/gemini/v1beta/models/{endpoint}:{generateContent,streamGenerateContent}

An upstream error is passed on with its status and its body, our credentials scrubbed out."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from aiohttp import web

from async_core import AsyncClient, Request, RetryPolicy
from mlflow.gateway.exceptions import AIGatewayException
from mlflow.gateway.providers._errors import map_transport_error, scrub
from mlflow.store.gateway.sqlalchemy_store import ResolvedModel

OPENAI_FAMILY = "openai"
ANTHROPIC_FAMILY = "anthropic"
GEMINI_FAMILY = "gemini"

# Providers that speak OpenAI's API, with their default base URLs.
_OPENAI_BASES = {
    "openai": "https://api.openai.com/v1",
    "groq": "https://api.groq.com/openai/v1",
    "deepseek": "https://api.deepseek.com",
    "xai": "https://api.x.ai/v1",
    "openrouter": "https://openrouter.ai/api/v1",
    "ollama": "http://localhost:11434/v1",
    "togetherai": "https://api.together.xyz/v1",
    "mistral": "https://api.mistral.ai/v1",
}
_FAMILIES = {
    OPENAI_FAMILY: set(_OPENAI_BASES),
    ANTHROPIC_FAMILY: {"anthropic"},
    GEMINI_FAMILY: {"gemini"},
}
ANTHROPIC_BASE = "https://api.anthropic.com/v1"
ANTHROPIC_VERSION = "2023-06-01"
GEMINI_BASE = "https://generativelanguage.googleapis.com/v1beta"
_logger = logging.getLogger("mlflow.gateway.server")
_FALLBACK_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def serves(family: str, model: ResolvedModel) -> bool:
    return model.provider in _FAMILIES[family]


@dataclass(frozen=True)
class UpstreamCall:
    url: str
    headers: dict[str, str]
    body: bytes
    secrets: tuple[str, ...]


def build_call(
    family: str, action: str, model: ResolvedModel, body: dict[str, Any]
) -> UpstreamCall:
    """``action``: an OpenAI path ("chat/completions", "embeddings", "responses"), "messages",
    "generateContent" or "streamGenerateContent"."""
    key = model.secret_value.get("api_key", "")
    auth = model.auth_config
    headers = {"Content-Type": "application/json"}
    if family == OPENAI_FAMILY:
        payload = {**body, "model": model.model_name}
        if auth.get("api_type") in ("azure", "azuread"):
            base = str(auth.get("api_base", "")).rstrip("/")
            deployment = quote(str(auth.get("deployment_name") or model.model_name), safe="")
            version = quote(str(auth.get("api_version", "")), safe="")
            url = f"{base}/openai/deployments/{deployment}/{action}?api-version={version}"
            if auth["api_type"] == "azuread":
                headers["Authorization"] = f"Bearer {key}"
            else:
                headers["api-key"] = key
            payload.pop("model")
        else:
            base = str(auth.get("api_base") or _OPENAI_BASES[model.provider]).rstrip("/")
            url = f"{base}/{action}"
            headers["Authorization"] = f"Bearer {key}"
            if auth.get("organization"):
                headers["OpenAI-Organization"] = str(auth["organization"])
    elif family == ANTHROPIC_FAMILY:
        payload = {**body, "model": model.model_name}
        base = str(auth.get("api_base") or ANTHROPIC_BASE).rstrip("/")
        url = f"{base}/messages"
        headers["x-api-key"] = key
        headers["anthropic-version"] = str(auth.get("version") or ANTHROPIC_VERSION)
    else:
        payload = dict(body)
        base = str(auth.get("api_base") or GEMINI_BASE).rstrip("/")
        url = f"{base}/models/{quote(model.model_name, safe='')}:{action}"
        if action == "streamGenerateContent":
            url += "?alt=sse"
        headers["x-goog-api-key"] = key
    body_bytes = json.dumps(payload, separators=(",", ":")).encode()
    return UpstreamCall(url, headers, body_bytes, tuple(v for v in model.secret_value.values()))


def _passed_headers(headers: Mapping[str, str]) -> dict[str, str]:
    kept = {}
    for name in ("Content-Type", "Retry-After", "request-id", "x-request-id"):
        value = headers.get(name)
        if value is not None:
            kept[name] = value
    return kept


class UpstreamFailed(Exception):
    """A failure before the first byte reached the caller: worth trying the next model."""

    def __init__(self, response: web.Response | None, error: AIGatewayException | None) -> None:
        super().__init__("upstream failed")
        self.response = response
        self.error = error


async def _error_response(upstream, call: UpstreamCall) -> web.Response:
    body = upstream.content if upstream.content is not None else b""
    if upstream.is_stream:
        chunks = []
        async for chunk in upstream.aiter_chunks():
            chunks.append(chunk)
        body = b"".join(chunks)
    text = scrub(body.decode("utf-8", errors="replace"), call.secrets)
    return web.Response(
        status=upstream.status, body=text.encode(), headers=_passed_headers(upstream.headers)
    )


async def send(
    request: web.Request,
    client: AsyncClient,
    policy: RetryPolicy,
    provider: str,
    call: UpstreamCall,
    stream: bool,
    timeout: float,
) -> web.StreamResponse:
    """One upstream attempt (with the engine's retries). Raises ``UpstreamFailed`` when nothing
    has been sent to the caller yet and another model may be tried."""
    upstream_request = Request("POST", call.url, dict(call.headers), call.body, timeout=timeout)
    try:
        if not stream:
            upstream = await client.send(upstream_request, policy=policy)
            if upstream.status >= 400:
                response = await _error_response(upstream, call)
                if upstream.status in _FALLBACK_STATUSES:
                    raise UpstreamFailed(response, None)
                return response
            return web.Response(
                status=upstream.status,
                body=upstream.content or b"",
                headers=_passed_headers(upstream.headers),
            )
        async with client.stream(upstream_request, policy=policy) as upstream:
            if upstream.status >= 400:
                response = await _error_response(upstream, call)
                if upstream.status in _FALLBACK_STATUSES:
                    raise UpstreamFailed(response, None)
                return response
            headers = _passed_headers(upstream.headers)
            headers.setdefault("Content-Type", "text/event-stream")
            headers["Cache-Control"] = "no-cache"
            response = web.StreamResponse(status=upstream.status, headers=headers)
            await response.prepare(request)
            try:
                async for chunk in upstream.aiter_chunks():
                    await response.write(chunk)
            except (ConnectionResetError, asyncio.CancelledError):
                raise  # the caller left: leaving the block releases the upstream connection
            except Exception as error:  # noqa: BLE001 - the status is sent: end the stream
                _logger.warning(
                    "Passthrough stream from the %s API failed mid-way (%s)",
                    provider,
                    type(error).__name__,
                )
                return response
            await response.write_eof()
            return response
    except UpstreamFailed:
        raise
    except Exception as error:  # noqa: BLE001 - engine errors become the gateway's answers
        mapped = map_transport_error(provider, call.url, error)
        if mapped is None:
            raise
        raise UpstreamFailed(None, mapped) from None


def failure_response(failure: UpstreamFailed) -> web.StreamResponse:
    if failure.response is not None:
        return failure.response
    error = failure.error
    assert error is not None
    return web.Response(
        status=error.status_code,
        body=json.dumps({"detail": error.detail}).encode(),
        headers={**error.headers, "Content-Type": "application/json"},
    )
