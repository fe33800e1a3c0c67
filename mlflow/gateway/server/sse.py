"""Server-sent events on the way out: one encoder (the project's SSE codec when present)."""

from __future__ import annotations

import json
from typing import Any

try:  # the project's one SSE codec
    from async_core.sse import encode_event as _encode_event  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - until the codec lands
    _encode_event = None

DONE = b"data: [DONE]\n\n"


def encode_data(payload: Any) -> bytes:
    data = json.dumps(payload, separators=(",", ":"))
    if _encode_event is not None:
        return _encode_event(data=data)
    return f"data: {data}\n\n".encode()


def encode_error(payload: Any) -> bytes:
    data = json.dumps(payload, separators=(",", ":"))
    if _encode_event is not None:
        return _encode_event(data=data, event="error")
    return f"event: error\ndata: {data}\n\n".encode()
