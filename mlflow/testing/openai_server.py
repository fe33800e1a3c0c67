"""An OpenAI-compatible API under ``/v1`` (and Azure's ``/openai/deployments/<name>/...``), as
the deployments client's ``openai`` target and the gateway's OpenAI provider see it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from mlflow.testing.loopback import (
    Handler,
    LoopbackServer,
    json_body,
    json_response,
    sse_frame,
    sse_json,
)
from mlflow.testing.replies import (
    chat_chunks,
    chat_reply,
    chat_response,
    completion_reply,
    completions_chunks,
    completions_response,
    count_tokens,
    embeddings_response,
)

__all__ = ["OpenAIServer", "openai_error"]

def openai_error(message: str, status: int, code: str | None, param: str | None = None):
    return json_response(
        {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": param,
                "code": code,
            }
        },
        status,
    )


class OpenAIServer(LoopbackServer):
    """An OpenAI-compatible API under ``/v1`` (and Azure's ``/openai/deployments/<name>/...``).

    Args:
        api_key: The accepted key (``Authorization: Bearer <key>``, or ``api-key`` for Azure);
            ``None`` accepts any request.
        models: The model ids of ``GET /v1/models``.
        stream_delay: Seconds between streamed chunks.
        echo_key_in_errors: A 401 names the key it was sent (some APIs echo the credential back;
            the gateway must scrub it).
        message: A scripted assistant message for chat answers (tool calls, refusal...), in
            place of the echo.
    """

    def __init__(
        self,
        *,
        api_key: str | None = "sk-test-key",
        models: Sequence[str] = ("gpt-4o-mini", "gpt-3.5-turbo-instruct", "text-embedding-3-small"),
        stream_delay: float = 0.0,
        record: bool = True,
        echo_key_in_errors: bool = False,
        message: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(record=record)
        self.api_key = api_key
        self.models = list(models)
        self.stream_delay = stream_delay
        self.echo_key_in_errors = echo_key_in_errors
        self.message = message

    @property
    def api_base(self) -> str:
        """The value for ``OPENAI_API_BASE``."""
        return f"{self.base_url}/v1"

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/models", self._list_models)
        app.router.add_get("/v1/models/{model}", self._get_model)
        for task in ("chat/completions", "completions", "embeddings"):
            app.router.add_post(f"/v1/{task}", self._make_handler(task, azure=False))
            app.router.add_post(
                f"/openai/deployments/{{deployment}}/{task}", self._make_handler(task, azure=True)
            )

    def _not_found(self, request: web.Request) -> web.Response:
        return openai_error(f"Invalid URL ({request.method} {request.path})", 404, None)

    def _unauthorized(self, request: web.Request, azure: bool) -> web.Response | None:
        if self.api_key is None:
            return None
        if azure and request.headers.get("api-key") == self.api_key:
            return None
        if request.headers.get("Authorization") == f"Bearer {self.api_key}":
            return None
        if self.echo_key_in_errors:
            sent = request.headers.get("api-key") or request.headers.get("Authorization", "")
            return openai_error(f"Incorrect API key provided: {sent}.", 401, "invalid_api_key")
        return openai_error("Incorrect API key provided.", 401, "invalid_api_key")

    def _model(self, model_id: str) -> dict[str, Any]:
        return {"id": model_id, "object": "model", "created": 1700000000, "owned_by": "system"}

    async def _list_models(self, request: web.Request) -> web.Response:
        if (denied := self._unauthorized(request, azure=False)) is not None:
            return denied
        return json_response({"object": "list", "data": [self._model(m) for m in self.models]})

    async def _get_model(self, request: web.Request) -> web.Response:
        if (denied := self._unauthorized(request, azure=False)) is not None:
            return denied
        model = request.match_info["model"]
        if model not in self.models:
            return openai_error(
                f"The model '{model}' does not exist", 404, "model_not_found", "model"
            )
        return json_response(self._model(model))

    def _make_handler(self, task: str, *, azure: bool) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            if (denied := self._unauthorized(request, azure)) is not None:
                return denied
            if azure and "api-version" not in request.query:
                return openai_error("Missing required query parameter: api-version", 404, None)
            payload = await json_body(request)
            if not isinstance(payload, dict):
                return openai_error("We could not parse the JSON body of your request.", 400, None)
            model = request.match_info["deployment"] if azure else payload.get("model")
            if not model:
                return openai_error("you must provide a model parameter", 400, None, "model")
            return await self._answer(request, task, model, payload)

        return handler

    async def _answer(self, request, task: str, model: str, payload: dict) -> web.StreamResponse:
        stream = payload.get("stream") is True
        if task == "chat/completions":
            messages = payload.get("messages")
            if not isinstance(messages, list):
                return openai_error("'messages' is a required property", 400, None, "messages")
            if stream:
                chunks = chat_chunks(model, chat_reply(messages))
                return await self._stream(request, payload, chunks)
            answer = chat_response(model, messages)
            if self.message is not None:
                answer["choices"][0]["message"] = dict(self.message)
                if self.message.get("tool_calls"):
                    answer["choices"][0]["finish_reason"] = "tool_calls"
            return json_response(answer)
        if task == "completions":
            prompt = payload.get("prompt")
            if prompt is None:
                return openai_error("'prompt' is a required property", 400, None, "prompt")
            if stream:
                chunks = completions_chunks(model, completion_reply(prompt))
                return await self._stream(request, payload, chunks)
            return json_response(completions_response(model, prompt))
        inputs = payload.get("input")
        if not isinstance(inputs, str | list):
            return openai_error("'input' is a required property", 400, None, "input")
        return json_response(embeddings_response(model, inputs))

    #: Whether the last content chunk always carries ``usage`` (Mistral, Together) instead of a
    #: separate usage chunk sent only when ``stream_options.include_usage`` asks (OpenAI).
    USAGE_IN_LAST_CHUNK = False

    def _stream_error_frame(self) -> bytes:
        return sse_frame({"error": {"message": "The server had an error while processing your "
                                    "request.", "type": "server_error", "param": None,
                                    "code": None}})

    async def _stream(self, request, payload: dict, chunks: list[dict]) -> web.StreamResponse:
        if chunks:
            prompt = count_tokens(payload.get("messages") or payload.get("prompt") or "")
            words = len(chunks)  # one word per chunk
            usage = {"prompt_tokens": prompt, "completion_tokens": words,
                     "total_tokens": prompt + words}
            if self.USAGE_IN_LAST_CHUNK:
                chunks = [*chunks[:-1], {**chunks[-1], "usage": usage}]
            elif (payload.get("stream_options") or {}).get("include_usage"):
                # OpenAI ends with a chunk of no choices that carries the usage.
                chunks = [*chunks, {**chunks[-1], "choices": [], "usage": usage}]
        return await sse_json(
            request, chunks, done=True, delay=self.stream_delay,
            error_frame=self._stream_error_frame(),
        )
