"""A fake of Together AI's OpenAI-compatible API (https://docs.together.ai/reference):
``/v1/chat/completions``, ``/v1/completions`` and ``/v1/embeddings`` with a Bearer key; errors as
``{"id": ..., "error": {"message", "type", "param", "code"}}``; the last streamed chunk carries
``usage``."""

from __future__ import annotations

import uuid

from aiohttp import web

from mlflow.testing.loopback import json_response
from mlflow.testing.openai_server import OpenAIServer

__all__ = ["TogetherAIFake"]


class TogetherAIFake(OpenAIServer):
    USAGE_IN_LAST_CHUNK = True

    def __init__(self, *, api_key: str | None = "test-key", **kwargs) -> None:
        kwargs.setdefault("models", ("meta-llama/Llama-3.3-70B-Instruct-Turbo",))
        super().__init__(api_key=api_key, **kwargs)

    def _unauthorized(self, request: web.Request, azure: bool) -> web.Response | None:
        if self.api_key is None or request.headers.get("Authorization") == (
                f"Bearer {self.api_key}"):
            return None
        sent = request.headers.get("Authorization", "")
        message = "Invalid API key provided."
        if self.echo_key_in_errors:
            message += f" You passed: {sent}"
        return json_response({"id": uuid.uuid4().hex, "error": {
            "message": message, "type": "invalid_request_error", "param": None,
            "code": "invalid_api_key"}}, 401)
