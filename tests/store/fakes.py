"""OpenAI's Responses API (``POST /v1/responses``, plain and streamed as named SSE events), added
to the packaged OpenAI fake for the ``/gateway/openai/v1/responses`` passthrough route. The other
providers' fakes are the packaged ones (``mlflow.testing.providers``)."""

from __future__ import annotations

from aiohttp import web

from mlflow.testing.loopback import (
    json_body,
    json_response,
    sse_frame,
    stream_frames,
)
from mlflow.testing.openai_server import OpenAIServer


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


__all__ = ["OpenAIWithResponses"]
