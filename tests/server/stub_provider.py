"""An in-memory provider for tests of the server's own behaviour (routing, errors, streams,
fallbacks, reload) where no upstream is involved. Tests of upstream behaviour use the real
OpenAI provider against the packaged fake."""

from __future__ import annotations

import asyncio
from typing import Any

from mlflow.gateway.exceptions import AIGatewayException
from mlflow.gateway.providers.base import BaseProvider


class StubProvider(BaseProvider):
    NAME = "stub"
    SUPPORTED_ROUTE_TYPES = ("llm/v1/chat", "llm/v1/completions", "llm/v1/embeddings")

    def __init__(self, name: str, script: dict[str, Any]) -> None:
        self.name = name
        self.script = script  # shared across providers of one test: fail/delay per endpoint
        self.calls = 0

    def _fault(self) -> None:
        self.calls += 1
        fail = self.script.get("fail", {}).get(self.name)
        if fail:
            raise AIGatewayException(status_code=fail, detail=f"stub {self.name} failed")

    async def chat(self, payload):
        self._fault()
        if delay := self.script.get("delay"):
            await asyncio.sleep(delay)
        text = f"{self.name}: {payload['messages'][-1]['content']}"
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": self.name,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "tool_calls": None,
                                "refusal": None},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }

    async def chat_stream(self, payload):
        self._fault()
        words = f"{self.name} says hi".split()
        for i, word in enumerate(words):
            if self.script.get("mid_fail") and i == 1:
                raise AIGatewayException(status_code=502, detail="stub broke mid-stream")
            if delay := self.script.get("stream_delay"):
                await asyncio.sleep(delay)
            yield {
                "id": "chatcmpl-1",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": self.name,
                "choices": [{"index": 0, "delta": {"role": "assistant", "content": word},
                             "finish_reason": None}],
            }

    async def completions(self, payload):
        self._fault()
        return {"id": "cmpl-1", "object": "text_completion", "created": 1, "model": self.name,
                "choices": [{"index": 0, "text": payload["prompt"], "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}

    async def completions_stream(self, payload):
        self._fault()
        for word in payload["prompt"].split():
            yield {"id": "cmpl-1", "object": "text_completion_chunk", "created": 1,
                   "model": self.name,
                   "choices": [{"index": 0, "text": word, "finish_reason": None}]}

    async def embeddings(self, payload):
        self._fault()
        inputs = payload["input"] if isinstance(payload["input"], list) else [payload["input"]]
        return {"object": "list", "model": self.name,
                "data": [{"object": "embedding", "index": i, "embedding": [0.1, 0.2]}
                         for i, _ in enumerate(inputs)],
                "usage": {"prompt_tokens": 1, "total_tokens": 1}}


def stub_factory(script: dict[str, Any], built: dict[str, StubProvider] | None = None):
    def factory(endpoint, client, policy):
        provider = StubProvider(endpoint.name, script)
        if built is not None:
            built[endpoint.name] = provider
        return provider

    return factory
