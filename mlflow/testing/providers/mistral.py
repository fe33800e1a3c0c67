"""A fake of Mistral AI's API (https://docs.mistral.ai/api/): OpenAI-style ``/v1/chat/
completions`` and ``/v1/embeddings`` with a Bearer key; a 401 is ``{"message": "Unauthorized",
"request_id": ...}``; unknown fields (``stream_options``) are a 422 as Mistral's validation
answers; the last streamed chunk carries ``usage``."""

from __future__ import annotations

import uuid

from aiohttp import web

from mlflow.testing.loopback import json_response
from mlflow.testing.openai_server import OpenAIServer

__all__ = ["MistralFake"]

_KNOWN = {
    "model", "messages", "temperature", "top_p", "max_tokens", "stream", "stop", "random_seed",
    "response_format", "tools", "tool_choice", "presence_penalty", "frequency_penalty", "n",
    "safe_prompt", "prediction", "parallel_tool_calls", "input", "encoding_format",
    "output_dimension", "output_dtype",
}


class MistralFake(OpenAIServer):
    USAGE_IN_LAST_CHUNK = True

    def __init__(self, *, api_key: str | None = "test-key", **kwargs) -> None:
        kwargs.setdefault("models", ("mistral-small-latest", "mistral-embed"))
        super().__init__(api_key=api_key, **kwargs)

    def _unauthorized(self, request: web.Request, azure: bool) -> web.Response | None:
        if self.api_key is None or request.headers.get("Authorization") == (
                f"Bearer {self.api_key}"):
            return None
        message = "Unauthorized"
        if self.echo_key_in_errors:
            message += f" ({request.headers.get('Authorization', '')})"
        return json_response({"message": message, "request_id": uuid.uuid4().hex}, 401)

    async def _answer(self, request, task: str, model: str, payload: dict):
        if unknown := sorted(set(payload) - _KNOWN):
            detail = [{"type": "extra_forbidden", "loc": ["body", name],
                       "msg": "Extra inputs are not permitted", "input": payload[name]}
                      for name in unknown]
            return json_response({"object": "error", "message": {"detail": detail},
                                  "type": "invalid_request_error", "param": None,
                                  "code": None}, 422)
        if task == "completions":
            return json_response({"object": "error", "message": "Not Found",
                                  "type": "invalid_request_error"}, 404)
        return await super()._answer(request, task, model, payload)
