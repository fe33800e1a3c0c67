"""A fake of Cohere's v2 API (https://docs.cohere.com/v2/reference): ``POST /v2/chat`` (JSON, or
SSE events ``message-start`` ... ``message-end`` with ``stream: true``) and ``POST /v2/embed``;
a Bearer key; errors as ``{"message": ...}``."""

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
from mlflow.testing.replies import count_tokens, embedding_of, words_of

__all__ = ["CohereFake"]


def _error(status: int, message: str, headers=None) -> web.Response:
    return json_response({"message": message}, status, headers)


def _text(content: Any) -> str:
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


class CohereFake(ProviderFake):
    def _add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v2/chat", self._chat)
        app.router.add_post("/v2/embed", self._embed)

    def _not_found(self, request: web.Request) -> web.Response:
        return _error(404, f"path not found: {request.path}")

    def _check(self, request: web.Request) -> web.Response | None:
        sent = request.headers.get("Authorization", "")
        if self._key_ok(sent.removeprefix("Bearer ")):
            return None
        return _error(401, "invalid api token" + self._rejected_key_text(sent))

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        if (denied := self._check(request)) is not None:
            return denied
        body = await json_body(request)
        if body is INVALID_JSON or not isinstance(body, dict):
            return _error(400, "invalid request: could not parse the body as JSON")
        if not body.get("model") or not isinstance(body.get("messages"), list):
            return _error(400, "invalid request: model and messages are required")
        if unknown := {"top_p", "top_k", "stop", "n"} & set(body):
            return _error(400, f"invalid request: unknown field: {sorted(unknown)[0]}")
        last = _text(body["messages"][-1].get("content"))
        text = self._reply_to(last)
        prompt = count_tokens([_text(m.get("content")) for m in body["messages"]])
        usage = {"billed_units": {"input_tokens": prompt, "output_tokens": count_tokens(text)},
                 "tokens": {"input_tokens": prompt, "output_tokens": count_tokens(text)}}
        message_id = str(uuid.uuid4())
        use_tool = self.tool_call is not None and bool(body.get("tools"))
        if body.get("stream") is True:
            return await self._stream(request, message_id, text, usage, use_tool)
        if use_tool:
            message = {"role": "assistant", "tool_plan": "I will call the tool.", "tool_calls": [
                {"id": "call_0", "type": "function", "function": {
                    "name": self.tool_call["name"],
                    "arguments": json.dumps(self.tool_call["arguments"])}}]}
            reason = "TOOL_CALL"
        else:
            message = {"role": "assistant", "content": [{"type": "text", "text": text}]}
            reason = "COMPLETE"
        return json_response({"id": message_id, "finish_reason": reason, "message": message,
                              "usage": usage})

    async def _stream(self, request, message_id, text, usage, use_tool):
        def event(kind: str, **data: Any) -> bytes:
            return sse_frame({"type": kind, **data}, kind)

        frames = [event("message-start", id=message_id, delta={"message": {
            "role": "assistant", "content": [], "tool_plan": "", "tool_calls": [],
            "citations": []}})]
        if use_tool:
            arguments = json.dumps(self.tool_call["arguments"])
            frames.append(event("tool-call-start", index=0, delta={"message": {"tool_calls": {
                "id": "call_0", "type": "function",
                "function": {"name": self.tool_call["name"], "arguments": ""}}}}))
            frames.append(event("tool-call-delta", index=0, delta={"message": {"tool_calls": {
                "function": {"arguments": arguments}}}}))
            frames.append(event("tool-call-end", index=0))
            reason = "TOOL_CALL"
        else:
            frames.append(event("content-start", index=0, delta={"message": {"content": {
                "type": "text", "text": ""}}}))
            for word in words_of(text):
                frames.append(event("content-delta", index=0, delta={"message": {"content": {
                    "text": word}}}))
            frames.append(event("content-end", index=0))
            reason = "COMPLETE"
        frames.append(event("message-end", delta={"finish_reason": reason, "usage": usage}))
        error = event("message-end", delta={"finish_reason": "ERROR", "error": "internal error"})
        return await stream_frames(request, frames, delay=self.stream_delay, error_frame=error)

    async def _embed(self, request: web.Request) -> web.Response:
        if (denied := self._check(request)) is not None:
            return denied
        body = await json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("texts"), list):
            return _error(400, "invalid request: texts is required")
        if not body.get("input_type"):
            return _error(400, "invalid request: input_type is required for Embed v3 models")
        texts = body["texts"]
        return json_response({
            "id": str(uuid.uuid4()), "response_type": "embeddings_by_type",
            "embeddings": {"float": [embedding_of(t) for t in texts]}, "texts": texts,
            "meta": {"api_version": {"version": "2"},
                     "billed_units": {"input_tokens": count_tokens(texts)}},
        })
