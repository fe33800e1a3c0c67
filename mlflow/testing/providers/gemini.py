"""A fake of Google's Gemini API (https://ai.google.dev/api): ``POST
/v1beta/models/{model}:generateContent``, ``:streamGenerateContent?alt=sse`` (``data:`` events
separated by CRLF, as Google sends them), ``:embedContent`` and ``:batchEmbedContents``; the key
in ``x-goog-api-key`` (or ``?key=``); errors as ``{"error": {"code", "message", "status"}}``."""

from __future__ import annotations

import json
import uuid
from typing import Any

from aiohttp import web

from mlflow.testing.loopback import INVALID_JSON, json_body, json_response, stream_frames
from mlflow.testing.providers._base import ProviderFake
from mlflow.testing.replies import count_tokens, embedding_of, words_of

__all__ = ["GeminiFake", "gemini_error"]

_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
           404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}


def gemini_error(status: int, message: str, headers=None) -> web.Response:
    body = {"error": {"code": status, "message": message,
                      "status": _STATUS.get(status, "UNKNOWN")}}
    return json_response(body, status, headers)


def _frame(data: Any) -> bytes:
    return f"data: {json.dumps(data)}\r\n\r\n".encode()


def _text_of(parts: list[dict[str, Any]]) -> str:
    return " ".join(p.get("text", "") for p in parts if isinstance(p, dict) and "text" in p)


class GeminiFake(ProviderFake):
    API_PREFIX = "/v1beta"

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1beta/models/{target}", self._dispatch)

    def _not_found(self, request: web.Request) -> web.Response:
        return gemini_error(404, f"Method not found: {request.path}")

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        sent = request.headers.get("x-goog-api-key") or request.query.get("key")
        if not self._key_ok(sent):
            return gemini_error(400, "API key not valid. Please pass a valid API key."
                                + self._rejected_key_text(sent))
        model, _, method = request.match_info["target"].partition(":")
        body = await json_body(request)
        if body is INVALID_JSON or not isinstance(body, dict):
            return gemini_error(400, "Invalid JSON payload received.")
        if method == "generateContent":
            return self._generate(model, body)
        if method == "streamGenerateContent":
            if request.query.get("alt") != "sse":
                return gemini_error(400, "This fake streams only with alt=sse.")
            return await self._stream(request, model, body)
        if method == "embedContent":
            text = _text_of((body.get("content") or {}).get("parts") or [])
            return json_response({"embedding": {"values": embedding_of(text)}})
        if method == "batchEmbedContents":
            requests = body.get("requests")
            if not isinstance(requests, list) or not requests:
                return gemini_error(400, "* BatchEmbedContentsRequest.requests: must not be empty")
            return json_response({"embeddings": [
                {"values": embedding_of(_text_of((r.get("content") or {}).get("parts") or []))}
                for r in requests]})
        return gemini_error(404, f"Method not found: {method}")

    def _answer_parts(self, body: dict[str, Any]) -> tuple[list[dict[str, Any]], str, int]:
        contents = body.get("contents")
        if not isinstance(contents, list) or not contents:
            raise ValueError("* GenerateContentRequest.contents: contents is not specified")
        last = _text_of(contents[-1].get("parts") or [])
        prompt = count_tokens([_text_of(c.get("parts") or []) for c in contents])
        if self.tool_call is not None and body.get("tools"):
            return [{"functionCall": {"name": self.tool_call["name"],
                                      "args": self.tool_call["arguments"]}}], "", prompt
        return [{"text": self._reply_to(last)}], self._reply_to(last), prompt

    def _generate(self, model: str, body: dict[str, Any]) -> web.Response:
        try:
            parts, text, prompt = self._answer_parts(body)
        except ValueError as e:
            return gemini_error(400, str(e))
        out = count_tokens(text) if text else 1
        return json_response({
            "candidates": [{"content": {"parts": parts, "role": "model"},
                            "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": prompt, "candidatesTokenCount": out,
                              "totalTokenCount": prompt + out},
            "modelVersion": model,
            "responseId": uuid.uuid4().hex[:22],
        })

    async def _stream(self, request: web.Request, model: str, body: dict[str, Any]):
        try:
            parts, text, prompt = self._answer_parts(body)
        except ValueError as e:
            return gemini_error(400, str(e))
        response_id = uuid.uuid4().hex[:22]
        pieces = [[{"text": w}] for w in words_of(text)] if text else [parts]
        frames = []
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            candidate: dict[str, Any] = {"content": {"parts": piece, "role": "model"},
                                         "index": 0}
            chunk: dict[str, Any] = {"candidates": [candidate], "modelVersion": model,
                                     "responseId": response_id}
            if last:
                out = count_tokens(text) if text else 1
                candidate["finishReason"] = "STOP"
                chunk["usageMetadata"] = {"promptTokenCount": prompt,
                                          "candidatesTokenCount": out,
                                          "totalTokenCount": prompt + out}
            frames.append(_frame(chunk))
        error = _frame({"error": {"code": 500, "message": "An internal error has occurred.",
                                  "status": "INTERNAL"}})
        return await stream_frames(request, frames, delay=self.stream_delay, error_frame=error)
