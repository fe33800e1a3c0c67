"""A fake of Amazon Bedrock's runtime API and of STS AssumeRole, on one loopback host.

- ``POST /model/{modelId}/converse``: Converse JSON.
- ``POST /model/{modelId}/converse-stream``: an ``application/vnd.amazon.eventstream`` of
  ``messageStart``, ``contentBlockStart``/``Delta``/``Stop``, ``messageStop`` and ``metadata``;
  a stream failure is an exception message (``:message-type: exception``).
- ``POST /model/{modelId}/invoke``: Titan (``{"inputText"}``) or Cohere (``{"texts"}``)
  embeddings.
- ``POST /`` with ``Action=AssumeRole``: STS's XML answer with temporary credentials, which the
  fake then accepts.

Every request must carry a SigV4 ``Authorization`` for an accepted access key (tests verify the
signature itself independently); errors are ``{"message": ...}`` with ``x-amzn-ErrorType``."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web

from mlflow.gateway.providers._eventstream import encode_message
from mlflow.testing.loopback import INVALID_JSON, json_body, json_response, stream_frames
from mlflow.testing.providers._base import ProviderFake
from mlflow.testing.replies import count_tokens, embedding_of, words_of

__all__ = ["BedrockFake", "bedrock_error"]

_EVENTSTREAM = "application/vnd.amazon.eventstream"


def bedrock_error(status: int, kind: str, message: str, headers=None) -> web.Response:
    return json_response({"message": message}, status,
                         {"x-amzn-ErrorType": f"{kind}:http://internal.amazon.com/", **(
                             headers or {})})


def _event(kind: str, payload: dict[str, Any]) -> bytes:
    return encode_message({":event-type": kind, ":content-type": "application/json",
                           ":message-type": "event"}, json.dumps(payload).encode())


def _text(blocks: Any) -> str:
    return " ".join(b.get("text", "") for b in blocks or [] if isinstance(b, dict))


class BedrockFake(ProviderFake):
    """Args (beyond :class:`ProviderFake`'s): ``access_key`` accepted in the SigV4 credential
    scope (the secret is not checked here), ``region`` expected in that scope."""

    def __init__(self, *, access_key: str = "AKIDEXAMPLE", region: str = "us-east-1",
                 **kwargs: Any) -> None:
        kwargs.setdefault("api_key", None)
        super().__init__(**kwargs)
        self.access_keys = {access_key}
        self.region = region
        self.assumed: list[dict[str, str]] = []  # the AssumeRole calls received

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_post("/model/{model}/{action}", self._model)
        app.router.add_post("/", self._sts)

    def _not_found(self, request: web.Request) -> web.Response:
        return bedrock_error(404, "UnknownOperationException", "Unknown operation")

    def _unsigned(self, request: web.Request, service: str) -> web.Response | None:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("AWS4-HMAC-SHA256 ") or "x-amz-date" not in request.headers:
            return bedrock_error(403, "MissingAuthenticationTokenException",
                                 "Missing Authentication Token")
        credential = auth.split("Credential=", 1)[-1].split(",", 1)[0]
        key, _, scope = credential.partition("/")
        parts = scope.split("/")
        if key not in self.access_keys:
            return bedrock_error(403, "UnrecognizedClientException",
                                 "The security token included in the request is invalid.")
        if len(parts) != 4 or parts[1] != self.region or parts[2] != service:
            return bedrock_error(403, "InvalidSignatureException",
                                 f"Credential should be scoped to a valid region and service "
                                 f"'{service}'.")
        return None

    async def _sts(self, request: web.Request) -> web.Response:
        if (denied := self._unsigned(request, "sts")) is not None:
            return denied
        form = {k: v[0] for k, v in parse_qs((await request.read()).decode()).items()}
        if form.get("Action") != "AssumeRole" or "RoleArn" not in form:
            return web.Response(status=400, text="<ErrorResponse><Error><Code>InvalidAction"
                                "</Code></Error></ErrorResponse>", content_type="text/xml")
        self.assumed.append(form)
        key = f"ASIA{uuid.uuid4().hex[:16].upper()}"
        self.access_keys.add(key)
        xml = (
            '<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
            "<AssumeRoleResult><Credentials>"
            f"<AccessKeyId>{key}</AccessKeyId>"
            "<SecretAccessKey>assumed-secret</SecretAccessKey>"
            "<SessionToken>assumed-session-token</SessionToken>"
            "<Expiration>2099-01-01T00:00:00Z</Expiration>"
            "</Credentials><AssumedRoleUser>"
            f"<Arn>{form['RoleArn']}/{form.get('RoleSessionName', '')}</Arn>"
            "</AssumedRoleUser></AssumeRoleResult></AssumeRoleResponse>"
        )
        return web.Response(text=xml, content_type="text/xml")

    async def _model(self, request: web.Request) -> web.StreamResponse:
        if (denied := self._unsigned(request, "bedrock")) is not None:
            return denied
        model, action = request.match_info["model"], request.match_info["action"]
        body = await json_body(request)
        if body is INVALID_JSON or not isinstance(body, dict):
            return bedrock_error(400, "ValidationException", "Malformed input request")
        if action == "invoke":
            return self._invoke(model, body)
        if action not in ("converse", "converse-stream"):
            return self._not_found(request)
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return bedrock_error(400, "ValidationException",
                                 "A conversation must start with a user message.")
        last = _text(messages[-1].get("content"))
        prompt = count_tokens([_text(m.get("content")) for m in messages])
        use_tool = self.tool_call is not None and bool(body.get("toolConfig"))
        text = self._reply_to(last)
        out = count_tokens(text)
        usage = {"inputTokens": prompt, "outputTokens": out, "totalTokens": prompt + out}
        if action == "converse-stream":
            return await self._stream(request, text, usage, use_tool)
        if use_tool:
            content = [{"toolUse": {"toolUseId": "tooluse_0", "name": self.tool_call["name"],
                                    "input": self.tool_call["arguments"]}}]
            stop = "tool_use"
        else:
            content, stop = [{"text": text}], "end_turn"
        return json_response({"output": {"message": {"role": "assistant", "content": content}},
                              "stopReason": stop, "usage": usage,
                              "metrics": {"latencyMs": 1}})

    async def _stream(self, request, text, usage, use_tool) -> web.StreamResponse:
        frames = [_event("messageStart", {"role": "assistant"})]
        if use_tool:
            frames.append(_event("contentBlockStart", {"contentBlockIndex": 0, "start": {
                "toolUse": {"toolUseId": "tooluse_0", "name": self.tool_call["name"]}}}))
            frames.append(_event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {
                "toolUse": {"input": json.dumps(self.tool_call["arguments"])}}}))
            stop = "tool_use"
        else:
            for word in words_of(text):
                frames.append(_event("contentBlockDelta", {"contentBlockIndex": 0,
                                                           "delta": {"text": word}}))
            stop = "end_turn"
        frames.append(_event("contentBlockStop", {"contentBlockIndex": 0}))
        frames.append(_event("messageStop", {"stopReason": stop}))
        frames.append(_event("metadata", {"usage": usage, "metrics": {"latencyMs": 1}}))
        error = encode_message({":message-type": "exception",
                                ":exception-type": "modelStreamErrorException",
                                ":content-type": "application/json"},
                               json.dumps({"message": "The model stream failed."}).encode())
        return await stream_frames(request, frames, delay=self.stream_delay,
                                   content_type=_EVENTSTREAM, error_frame=error)

    def _invoke(self, model: str, body: dict[str, Any]) -> web.Response:
        if model.startswith("cohere."):
            texts = body.get("texts")
            if not isinstance(texts, list) or "input_type" not in body:
                return bedrock_error(400, "ValidationException",
                                     "Malformed input request: texts and input_type required")
            return json_response({"embeddings": [embedding_of(t) for t in texts],
                                  "id": uuid.uuid4().hex, "response_type": "embeddings_floats",
                                  "texts": texts})
        text = body.get("inputText")
        if not isinstance(text, str):
            return bedrock_error(400, "ValidationException",
                                 "Malformed input request: #: required key [inputText] not "
                                 "found")
        return json_response({"embedding": embedding_of(text),
                              "inputTextTokenCount": count_tokens(text)})
