"""The provider interface the server calls, and the plumbing every provider shares.

Requests and responses are MLflow's gateway schemas as plain dicts (``mlflow.gateway.schemas``:
a request as ``parse_request`` returns it, a response as ``schemas.shapes`` builds it); streams
are async iterators of chunk dicts.

Errors: a provider raises ``AIGatewayException`` with the status to answer: upstream connect
failure 502, timeout or spent retry budget 504, an upstream 4xx/5xx passed on with its status and
a message scrubbed of our credentials, a 429 (or 503) with Retry-After in whole seconds. A stream
raises before its first chunk if the upstream refused the request, so the server can still
answer with the real status; a failure after that raises ``AIGatewayException`` (502) from the
iterator, and the server ends the stream with an error event."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import aclosing
from typing import Any

from pydantic import BaseModel

from async_core.client import AsyncClient
from async_core.engine import Auth
from async_core.messages import Request, Response
from async_core.policy import RetryPolicy
from async_core.sse import Event, EventStreamDecoder, EventStreamError, is_done
from mlflow.gateway import jsonio
from mlflow.gateway.base_models import _SecretAwareModel
from mlflow.gateway.exceptions import AIGatewayException
from mlflow.gateway.providers._errors import map_transport_error, upstream_error
from mlflow.gateway.schemas import shapes

CHAT = "llm/v1/chat"
COMPLETIONS = "llm/v1/completions"
EMBEDDINGS = "llm/v1/embeddings"

#: Seconds one attempt may wait to connect or between two bytes: MLflow's default
#: MLFLOW_GATEWAY_ROUTE_TIMEOUT_SECONDS.
DEFAULT_ATTEMPT_TIMEOUT = 300.0

#: The largest single SSE event accepted from an upstream (a bound on buffered bytes).
MAX_EVENT_BYTES = 8 * 1024 * 1024

_JSON_HEADERS = {"Content-Type": "application/json"}


def _secret_values(model: Any) -> Iterable[str]:
    """Every credential a config holds (fields marked secret), nested models included."""
    if not isinstance(model, BaseModel):
        return
    secret_fields = model._secret_fields if isinstance(model, _SecretAwareModel) else ()
    for name in type(model).model_fields:
        value = getattr(model, name, None)
        if name in secret_fields:
            if isinstance(value, str):
                yield value
            elif isinstance(value, Mapping):
                yield from (v for v in value.values() if isinstance(v, str))
        elif isinstance(value, BaseModel):
            yield from _secret_values(value)


class BaseProvider:
    NAME: str = ""  # the display name used in messages
    #: The endpoint types this provider serves. The server refuses, at start-up, an endpoint it
    #: cannot serve (see ``mlflow.gateway.providers.provider_support_error``).
    SUPPORTED_ROUTE_TYPES: tuple[str, ...] = ()
    #: The endpoint types the upstream streams; others stream one chunk made from the full reply.
    STREAMING_ROUTE_TYPES: tuple[str, ...] = ()

    def __init__(
        self,
        config: Any,
        client: AsyncClient,
        policy: RetryPolicy | None = None,
        *,
        attempt_timeout: float | None = DEFAULT_ATTEMPT_TIMEOUT,
        api_base: str | None = None,
    ) -> None:
        self.config = config  # an EndpointConfig
        self.client = client
        self.policy = policy if policy is not None else client.policy
        self.attempt_timeout = attempt_timeout
        provider = config.model.provider
        #: MLflow's ``provider`` field of chat responses: the configured provider's value.
        self.provider_name = str(getattr(provider, "value", provider))
        self.model_name: str = config.model.name or ""
        #: Where to send: ``api_base`` if given, else the config's base field, else the
        #: provider's documented default (see ``_base_url``).
        self._api_base_override = api_base
        self._secrets = tuple(
            sorted(set(_secret_values(config.model.config)), key=len, reverse=True)
        )

    #: The config field holding a base URL (when the config has one) and the documented default.
    API_BASE_FIELD: str | None = None
    DEFAULT_API_BASE: str = ""

    def _base_url(self) -> str:
        if self._api_base_override:
            return self._api_base_override.rstrip("/")
        configured = getattr(self.config.model.config, self.API_BASE_FIELD or "", None)
        return (configured or self.DEFAULT_API_BASE).rstrip("/")

    @classmethod
    def config_error(cls, config: Any) -> str | None:
        """A reason this provider cannot serve ``config`` (checked at start-up), or None."""
        return None

    # -- the interface ------------------------------------------------------------------------

    async def chat(self, payload: dict[str, Any]) -> dict[str, Any]:
        raise self._not_served(CHAT)

    def chat_stream(self, payload: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        return self._single_chunk_chat(payload)

    async def completions(self, payload: dict[str, Any]) -> dict[str, Any]:
        raise self._not_served(COMPLETIONS)

    def completions_stream(self, payload: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        return self._single_chunk_completions(payload)

    async def embeddings(self, payload: dict[str, Any]) -> dict[str, Any]:
        raise self._not_served(EMBEDDINGS)

    # -- shared helpers -----------------------------------------------------------------------

    def _not_served(self, route_type: str) -> AIGatewayException:
        return AIGatewayException(
            status_code=501,
            detail=f"The {route_type} route is not implemented for {self.NAME} models.",
        )

    @staticmethod
    def _as_chat(payload: dict[str, Any]) -> dict[str, Any]:
        """A completions payload as a chat one: the prompt becomes the one user message, every
        other field is kept (for providers that serve completions through their chat API)."""
        payload = dict(payload)
        prompt = payload.pop("prompt")  # before the copy below, so "prompt" is not sent on
        return {**payload, "messages": [{"role": "user", "content": prompt}]}

    @staticmethod
    def reject_model_field(payload: Mapping[str, Any]) -> None:
        """MLflow's rule: the endpoint fixes the model, a request may not name one."""
        if "model" in payload:
            raise AIGatewayException(
                status_code=422,
                detail="The parameter 'model' is not permitted to be passed. The route being "
                "queried already defines a model instance.",
            )

    def _request(
        self, url: str, body: Any, headers: Mapping[str, str] | None, *, method: str = "POST"
    ) -> Request:
        all_headers = {**_JSON_HEADERS, **headers} if headers else dict(_JSON_HEADERS)
        data = None if body is None else jsonio.dumps(body)
        return Request(method, url, all_headers, data, timeout=self.attempt_timeout)

    async def _send(self, request: Request, auth: Auth | None) -> Response:
        try:
            return await self.client.send(request, policy=self.policy, auth=auth)
        except Exception as error:
            mapped = map_transport_error(self.NAME, request.url, error)
            if mapped is None:
                raise
            raise mapped from None

    def _refused(self, response: Response, body: bytes) -> AIGatewayException:
        return upstream_error(
            self.NAME, response.status, body, response.headers, self._secrets,
            self.client.clock.time(),
        )

    async def _post_json(
        self,
        url: str,
        body: Any,
        headers: Mapping[str, str] | None = None,
        *,
        auth: Auth | None = None,
        method: str = "POST",
    ) -> Any:
        """Send a JSON request through the client (retries, deadline, pool) and return the JSON
        answer; a refusal or failure becomes ``AIGatewayException``."""
        request = self._request(url, body, headers, method=method)
        response = await self._send(request, auth)
        content = response.content or b""
        if response.status >= 400:
            raise self._refused(response, content)
        try:
            return jsonio.loads(content)
        except ValueError:
            raise AIGatewayException(
                status_code=502,
                detail=f"The {self.NAME} API returned a response that is not JSON "
                f"(HTTP {response.status}).",
            ) from None

    async def _open_stream(
        self,
        url: str,
        body: Any,
        headers: Mapping[str, str] | None = None,
        *,
        auth: Auth | None = None,
    ) -> Response:
        """Open a streamed request; an upstream refusal raises here, before any chunk."""
        request = self._request(url, body, headers)
        request.stream = True
        response = await self._send(request, auth)
        if response.status >= 400:
            try:
                content = await _read_all(response)
            except Exception:
                content = b""
            finally:
                response.release()
            raise self._refused(response, content)
        return response

    async def _iter_bytes(self, response: Response) -> AsyncIterator[bytes]:
        """The streamed body as it arrives; a broken connection becomes a 502 and an abandoned
        stream drops its connection (so the upstream stops generating)."""
        done = False
        try:
            while True:
                try:
                    chunk = await response.read_chunk()
                except Exception as error:
                    mapped = map_transport_error(self.NAME, response.url, error)
                    raise (mapped or AIGatewayException(
                        status_code=502,
                        detail=f"The stream from the {self.NAME} API broke off.",
                    )) from None
                if not chunk:
                    done = True
                    return
                yield chunk
        finally:
            if done:
                response.release()
            else:
                response.close()

    async def _stream_events(
        self,
        url: str,
        body: Any,
        headers: Mapping[str, str] | None = None,
        *,
        auth: Auth | None = None,
    ) -> AsyncIterator[Event]:
        """Server-Sent Events of a streamed request, each as soon as its blank line arrives."""
        response = await self._open_stream(url, body, headers, auth=auth)
        decoder = EventStreamDecoder(max_event_size=MAX_EVENT_BYTES)
        try:
            async with aclosing(self._iter_bytes(response)) as chunks:
                async for chunk in chunks:
                    for event in decoder.feed(chunk):
                        yield event
                for event in decoder.close():
                    yield event
        except EventStreamError:
            raise AIGatewayException(
                status_code=502,
                detail=f"The {self.NAME} stream sent an event over {MAX_EVENT_BYTES} bytes.",
            ) from None

    async def _stream_json(
        self,
        url: str,
        body: Any,
        headers: Mapping[str, str] | None = None,
        *,
        auth: Auth | None = None,
    ) -> AsyncIterator[tuple[str, Any]]:
        """``(event name, parsed data)`` for each SSE event with JSON data; ``[DONE]`` ends the
        stream. An upstream error event becomes ``AIGatewayException``."""
        async with aclosing(self._stream_events(url, body, headers, auth=auth)) as events:
            async for event in events:
                data = event.data
                if not data:
                    continue
                if is_done(event):
                    return
                try:
                    parsed = jsonio.loads(data)
                except ValueError:
                    continue  # MLflow skips what is not JSON
                error = parsed.get("error") if isinstance(parsed, dict) else None
                if event.event == "error" or isinstance(error, dict) or (
                    isinstance(error, str) and error
                ):
                    raise self._stream_error(parsed)
                yield event.event or "message", parsed

    def _stream_error(self, parsed: Any) -> AIGatewayException:
        raw = json.dumps(parsed).encode()
        error = upstream_error(self.NAME, 502, raw, None, self._secrets, 0.0)
        return AIGatewayException(
            status_code=502, detail=f"The {self.NAME} stream failed: {error.detail}"
        )

    # -- one-chunk streams for providers whose upstream does not stream ----------------------

    async def _single_chunk_chat(self, payload: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        response = await self.chat({k: v for k, v in payload.items() if k != "stream"})
        for choice in response["choices"]:
            message = choice["message"]
            yield shapes.chat_chunk(
                model=response["model"],
                id=response["id"],
                created=response["created"],
                index=choice["index"],
                role=message["role"],
                content=message["content"],
                tool_calls=[
                    {"index": i, **call} for i, call in enumerate(message["tool_calls"] or [])
                ] or None,
                finish_reason=choice["finish_reason"],
                usage_block=response["usage"],
                provider=self.provider_name,
            )

    async def _single_chunk_completions(
        self, payload: dict[str, Any]
    ) -> AsyncIterator[dict[str, Any]]:
        response = await self.completions({k: v for k, v in payload.items() if k != "stream"})
        for choice in response["choices"]:
            yield shapes.completions_chunk(
                model=response["model"],
                id=response["id"],
                created=response["created"],
                index=choice["index"],
                text=choice["text"],
                finish_reason=choice["finish_reason"],
                usage_block=response["usage"],
            )

    @staticmethod
    def _now() -> int:
        return int(time.time())


async def _read_all(response: Response, limit: int = 1 << 20) -> bytes:
    parts: list[bytes] = []
    size = 0
    while size < limit:
        chunk = await response.read_chunk()
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts)


StreamFactory = Callable[[dict[str, Any]], AsyncIterator[dict[str, Any]]]
