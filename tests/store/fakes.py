"""Loopback fakes for the passthrough routes, speaking each API's documented wire format:
OpenAI's Responses API (added to the packaged OpenAI fake), Anthropic's Messages API and
Gemini's generateContent / streamGenerateContent (``?alt=sse``), with their error shapes."""

from __future__ import annotations

from aiohttp import web

from mlflow.testing.loopback import (
    LoopbackServer,
    json_body,
    json_response,
    sse_frame,
    stream_frames,
)
from mlflow.testing.openai_server import OpenAIServer, openai_error


class OpenAIWithResponses(OpenAIServer):
    def _add_routes(self, app: web.Application) -> None:
        super()._add_routes(app)
        app.router.add_post("/v1/responses", self._responses)

    async def _responses(self, request: web.Request) -> web.StreamResponse:
        if (denied := self._unauthorized(request, azure=False)) is not None:
            return denied
        payload = await json_body(request)
        text = f"echo: {payload.get('input')}"
        response = {
            "id": "resp_1",
            "object": "response",
            "model": payload.get("model"),
            "status": "completed",
            "output": [
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": text}],
                }
            ],
        }
        if payload.get("stream"):
            frames = [
                sse_frame(
                    {"type": "response.created", "response": {**response, "output": []}},
                    "response.created",
                ),
                sse_frame(
                    {"type": "response.output_text.delta", "delta": text},
                    "response.output_text.delta",
                ),
                sse_frame(
                    {"type": "response.completed", "response": response}, "response.completed"
                ),
            ]
            return await stream_frames(request, frames)
        return json_response(response)


class AnthropicServer(LoopbackServer):
    def __init__(self, api_key: str = "sk-ant-test-key-123456", **kwargs) -> None:
        super().__init__(**kwargs)
        self.api_key = api_key

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/v1"

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/messages", self._messages)

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("x-api-key") != self.api_key:
            return json_response(
                {
                    "type": "error",
                    "error": {"type": "authentication_error", "message": "invalid x-api-key"},
                },
                401,
            )
        if not request.headers.get("anthropic-version"):
            return json_response(
                {
                    "type": "error",
                    "error": {
                        "type": "invalid_request_error",
                        "message": "anthropic-version header is required",
                    },
                },
                400,
            )
        payload = await json_body(request)
        text = "echo: " + str(payload["messages"][-1]["content"])
        message = {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": payload["model"],
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 3, "output_tokens": 2},
        }
        if not payload.get("stream"):
            return json_response(message)
        start = {**message, "content": [], "stop_reason": None}
        frames = [
            sse_frame({"type": "message_start", "message": start}, "message_start"),
            sse_frame(
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
                "content_block_start",
            ),
            sse_frame(
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": text},
                },
                "content_block_delta",
            ),
            sse_frame({"type": "content_block_stop", "index": 0}, "content_block_stop"),
            sse_frame(
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn"},
                    "usage": {"output_tokens": 2},
                },
                "message_delta",
            ),
            sse_frame({"type": "message_stop"}, "message_stop"),
        ]
        return await stream_frames(request, frames)


class GeminiServer(LoopbackServer):
    def __init__(self, api_key: str = "gemini-test-key-123456", **kwargs) -> None:
        super().__init__(**kwargs)
        self.api_key = api_key

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/v1beta"

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1beta/models/{model}:generateContent", self._generate)
        app.router.add_post("/v1beta/models/{model}:streamGenerateContent", self._stream)

    def _denied(self, request: web.Request) -> web.Response | None:
        if request.headers.get("x-goog-api-key") == self.api_key:
            return None
        return json_response(
            {
                "error": {
                    "code": 400,
                    "message": "API key not valid. Please pass a valid API key.",
                    "status": "INVALID_ARGUMENT",
                }
            },
            400,
        )

    @staticmethod
    def _candidate(request: web.Request, payload: dict, text: str) -> dict:
        return {
            "candidates": [
                {
                    "content": {"parts": [{"text": text}], "role": "model"},
                    "finishReason": "STOP",
                    "index": 0,
                }
            ],
            "usageMetadata": {
                "promptTokenCount": 2,
                "candidatesTokenCount": 2,
                "totalTokenCount": 4,
            },
            "modelVersion": request.match_info["model"],
        }

    async def _generate(self, request: web.Request) -> web.Response:
        if (denied := self._denied(request)) is not None:
            return denied
        payload = await json_body(request)
        text = "echo: " + payload["contents"][-1]["parts"][0]["text"]
        return json_response(self._candidate(request, payload, text))

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        if (denied := self._denied(request)) is not None:
            return denied
        if request.query.get("alt") != "sse":
            return json_response(
                {"error": {"code": 400, "message": "use alt=sse", "status": "INVALID_ARGUMENT"}},
                400,
            )
        payload = await json_body(request)
        words = ["echo:", payload["contents"][-1]["parts"][0]["text"]]
        frames = [sse_frame(self._candidate(request, payload, w)) for w in words]
        return await stream_frames(request, frames)


__all__ = ["AnthropicServer", "GeminiServer", "OpenAIWithResponses", "openai_error"]
