"""Reading and validating request bodies, with FastAPI's error shapes (MLflow's gateway is a
FastAPI app): 422 ``{"detail": [{"type", "loc", "msg", "input"}]}`` for a body that is not JSON
or does not fit the route's schema; 413 for a body over the configured cap."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mlflow.gateway import jsonio
from mlflow.gateway.exceptions import AIGatewayException


class InvalidRequestBody(Exception):
    """A body that fails parsing or validation; ``errors`` are FastAPI-shaped entries."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("invalid request body")
        self.errors = errors


def _too_large(size: int | None, limit: int) -> AIGatewayException:
    got = f" ({size} bytes)" if size is not None else ""
    return AIGatewayException(
        status_code=413,
        detail=f"The request body{got} is larger than this gateway's limit of {limit} bytes. "
        "Send a smaller body, or raise the limit (max_body_bytes) when starting the gateway.",
    )


#: The parsed body, kept for a second reader of the same request (the rate-limit layer reads
#: ``model`` on /v1 before the handler does): parsed once.
_PARSED_KEY = web.RequestKey("mlflow_gateway_parsed_body", dict)


async def read_json_object(request: web.Request, limit: int) -> dict[str, Any]:
    parsed = request.get(_PARSED_KEY)
    if parsed is not None:
        return parsed
    length = request.content_length
    if length is not None and length > limit:
        raise _too_large(length, limit)
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise _too_large(None, limit) from None
    if not raw:
        raise InvalidRequestBody(
            [{"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}]
        )
    try:
        payload = jsonio.loads(raw, finite_only=True)
    except (ValueError, UnicodeDecodeError) as e:
        position = getattr(e, "pos", 0) or 0
        reason = getattr(e, "msg", None) or "invalid UTF-8"
        raise InvalidRequestBody(
            [
                {
                    "type": "json_invalid",
                    "loc": ["body", position],
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": reason},
                }
            ]
        ) from None
    if not isinstance(payload, dict):
        raise InvalidRequestBody(
            [
                {
                    "type": "model_attributes_type",
                    "loc": ["body"],
                    "msg": "Input should be a valid dictionary or object to extract fields from",
                    "input": payload,
                }
            ]
        )
    request[_PARSED_KEY] = payload
    return payload


def fastapi_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """pydantic ``ValidationError.errors()`` as FastAPI reports them (under ``body``)."""
    out = []
    for error in errors:
        entry = {
            "type": error.get("type"),
            "loc": ["body", *error.get("loc", ())],
            "msg": error.get("msg"),
            "input": error.get("input"),
        }
        ctx = error.get("ctx")
        if ctx:
            entry["ctx"] = {k: v if isinstance(v, str | int | float) else str(v)
                            for k, v in ctx.items()}
        out.append(entry)
    return out
