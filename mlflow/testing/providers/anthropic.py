"""A fake of Anthropic's Messages API (https://docs.anthropic.com/en/api/messages): ``POST
/v1/messages`` with ``x-api-key`` and ``anthropic-version``; errors as
``{"type": "error", "error": {"type": ..., "message": ...}}``; streams as named SSE events
(``message_start`` ... ``message_stop``, ``ping``, and ``error`` for a failure mid-stream)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from aiohttp import web

from mlflow.testing.loopback import (
    INVALID_JSON,
    json_body,
    json_response,
    sse_frame,
    stream_frames,
)
from mlflow.testing.providers._base import ProviderFake
from mlflow.testing.replies import count_tokens, words_of

__all__ = ["AnthropicFake", "anthropic_error"]


def anthropic_error(status: int, kind: str, message: str, headers=None) -> web.Response:
    body = {"type": "error", "error": {"type": kind, "message": message}}
    return json_response(body, status, headers)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(b.get("text", "") for b in content if isinstance(b, dict))
    return ""


class AnthropicFake(ProviderFake):
    API_PREFIX = "/v1"

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/messages", self._messages)

    def _not_found(self, request: web.Request) -> web.Response:
        return anthropic_error(404, "not_found_error", "Not Found")

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        sent = request.headers.get("x-api-key")
        if not self._key_ok(sent):
            return anthropic_error(401, "authentication_error",
                                   "invalid x-api-key" + self._rejected_key_text(sent))
        if "anthropic-version" not in request.headers:
            return anthropic_error(400, "invalid_request_error",
                                   "anthropic-version: header is required")
        body = await json_body(request)
        if body is INVALID_JSON or not isinstance(body, dict):
            return anthropic_error(400, "invalid_request_error", "Invalid JSON body")
        for field in ("model", "max_tokens", "messages"):
            if field not in body:
                return anthropic_error(400, "invalid_request_error", f"{field}: Field required")
        messages = body["messages"]
        if not messages or messages[0].get("role") != "user":
            return anthropic_error(400, "invalid_request_error",
                                   "messages: first message must use the \"user\" role")
        last = _text_of(messages[-1].get("content"))
        input_tokens = count_tokens([_text_of(m.get("content")) for m in messages])
        message_id = f"msg_{uuid.uuid4().hex[:24]}"
        use_tool = self.tool_call is not None and bool(body.get("tools"))
        text = self._reply_to(last)
        if body.get("stream") is True:
            return await self._stream(request, body, message_id, text, input_tokens, use_tool)
        if use_tool:
            content = [{"type": "tool_use", "id": "toolu_01", "name": self.tool_call["name"],
                        "input": self.tool_call["arguments"]}]
            stop = "tool_use"
        else:
            content, stop = [{"type": "text", "text": text}], "end_turn"
        return json_response({
            "id": message_id, "type": "message", "role": "assistant", "model": body["model"],
            "content": content, "stop_reason": stop, "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": count_tokens(text)},
        })

    async def _stream(self, request, body, message_id, text, input_tokens, use_tool):
        frames = [sse_frame({"type": "message_start", "message": {
            "id": message_id, "type": "message", "role": "assistant", "model": body["model"],
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": 1}}}, "message_start")]
        if use_tool:
            frames.append(sse_frame({"type": "content_block_start", "index": 0, "content_block": {
                "type": "tool_use", "id": "toolu_01", "name": self.tool_call["name"],
                "input": {}}}, "content_block_start"))
            arguments = json.dumps(self.tool_call["arguments"])
            half = len(arguments) // 2
            for part in (arguments[:half], arguments[half:]):
                frames.append(sse_frame({"type": "content_block_delta", "index": 0, "delta": {
                    "type": "input_json_delta", "partial_json": part}}, "content_block_delta"))
            stop = "tool_use"
        else:
            frames.append(sse_frame({"type": "content_block_start", "index": 0,
                                     "content_block": {"type": "text", "text": ""}},
                                    "content_block_start"))
            frames.append(sse_frame({"type": "ping"}, "ping"))
            for word in words_of(text):
                frames.append(sse_frame({"type": "content_block_delta", "index": 0, "delta": {
                    "type": "text_delta", "text": word}}, "content_block_delta"))
            stop = "end_turn"
        frames.append(sse_frame({"type": "content_block_stop", "index": 0}, "content_block_stop"))
        frames.append(sse_frame({"type": "message_delta", "delta": {
            "stop_reason": stop, "stop_sequence": None},
            "usage": {"output_tokens": count_tokens(text)}}, "message_delta"))
        frames.append(sse_frame({"type": "message_stop"}, "message_stop"))
        error = sse_frame({"type": "error", "error": {"type": "overloaded_error",
                                                      "message": "Overloaded"}}, "error")
        return await stream_frames(request, frames, delay=self.stream_delay, error_frame=error)
