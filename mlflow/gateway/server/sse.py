"""Server-sent events on the way out, through the project's one SSE codec."""

from __future__ import annotations

import json
from typing import Any

from async_core.sse import DONE, encode

__all__ = ["DONE", "encode_data", "encode_error"]


def encode_data(payload: Any) -> bytes:
    return encode(json.dumps(payload, separators=(",", ":")))


def encode_error(payload: Any) -> bytes:
    return encode(json.dumps(payload, separators=(",", ":")), event="error")
