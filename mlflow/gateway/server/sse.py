"""Server-sent events on the way out, through the project's one SSE codec."""

from __future__ import annotations

from typing import Any

from async_core.sse import DONE, encode
from mlflow.gateway.jsonio import dumps_text

__all__ = ["DONE", "encode_data", "encode_error"]


def encode_data(payload: Any) -> bytes:
    return encode(dumps_text(payload))


def encode_error(payload: Any) -> bytes:
    return encode(dumps_text(payload), event="error")
