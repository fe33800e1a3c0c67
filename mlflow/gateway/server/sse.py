"""Server-sent events on the way out, through the project's one SSE codec."""

from __future__ import annotations

import json
from typing import Any

from async_core.sse import DONE, encode

__all__ = ["DONE", "encode_data", "encode_error"]


# One encoder for the process: json.dumps with options builds a new one per call (per chunk).
_dumps = json.JSONEncoder(separators=(",", ":")).encode


def encode_data(payload: Any) -> bytes:
    return encode(_dumps(payload))


def encode_error(payload: Any) -> bytes:
    return encode(_dumps(payload), event="error")
