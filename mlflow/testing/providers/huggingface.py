"""A fake of Hugging Face Text Generation Inference
(https://huggingface.github.io/text-generation-inference/): ``POST /generate``,
``/generate_stream`` (SSE ``data:`` token events, the last with ``generated_text`` and
``details``) and the Messages API ``/v1/chat/completions``; errors as ``{"error",
"error_type"}``. No credential."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mlflow.testing.loopback import json_body, json_response, sse_frame, stream_frames
from mlflow.testing.openai_server import OpenAIServer
from mlflow.testing.replies import count_tokens, words_of

__all__ = ["TGIFake"]


def tgi_error(status: int, message: str, kind: str = "validation") -> web.Response:
    return json_response({"error": message, "error_type": kind}, status)


class TGIFake(OpenAIServer):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("api_key", None)
        kwargs.setdefault("models", ("tgi",))
        super().__init__(**kwargs)

    def _add_routes(self, app: web.Application) -> None:
        super()._add_routes(app)
        app.router.add_post("/generate", self._generate)
        app.router.add_post("/generate_stream", self._generate_stream)

    def _not_found(self, request: web.Request) -> web.Response:
        return tgi_error(404, "Not Found", "not_found")

    async def _parsed(self, request: web.Request):
        body = await json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("inputs"), str):
            return None, tgi_error(422, "Failed to deserialize the JSON body into the target "
                                   "type: missing field `inputs`")
        params = body.get("parameters") or {}
        if (temperature := params.get("temperature")) is not None and temperature <= 0:
            return None, tgi_error(422, "`temperature` must be strictly positive")
        return body, None

    async def _generate(self, request: web.Request) -> web.Response:
        body, error = await self._parsed(request)
        if error is not None:
            return error
        text = f"Echo: {body['inputs']}"
        prefill = [{"id": i, "text": w, "logprob": None}
                   for i, w in enumerate(body["inputs"].split())]
        details = {"finish_reason": "eos_token", "generated_tokens": count_tokens(text),
                   "seed": None}
        if (body.get("parameters") or {}).get("decoder_input_details"):
            details["prefill"] = prefill
        return json_response({"generated_text": text, "details": details})

    async def _generate_stream(self, request: web.Request) -> web.StreamResponse:
        body, error = await self._parsed(request)
        if error is not None:
            return error
        words = words_of(f"Echo: {body['inputs']}")
        frames = []
        for i, word in enumerate(words):
            event: dict[str, Any] = {"index": i + 1, "token": {
                "id": i, "text": word, "logprob": -0.1, "special": False},
                "generated_text": None, "details": None}
            if i == len(words) - 1:
                event["generated_text"] = "".join(words)
                event["details"] = {"finish_reason": "eos_token",
                                    "generated_tokens": len(words), "seed": None}
            frames.append(sse_frame(event))
        error_frame = sse_frame({"error": "Request failed during generation: Server error: "
                                 "CUDA out of memory", "error_type": "generation"})
        return await stream_frames(request, frames, delay=self.stream_delay,
                                   error_frame=error_frame)
