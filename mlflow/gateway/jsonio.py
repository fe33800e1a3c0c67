"""JSON on the gateway's request path (bodies in, provider bodies out and back, answers and stream
chunks), on orjson, with the standard library for what orjson does differently.

Reading gives what ``json.loads`` gives, always. orjson reads integers outside
[-2**63, 2**64 - 1] as floats, so a body with a run of 19 or more digits (2**63 has 19) goes to
the standard library, as does anything orjson refuses (NaN and Infinity tokens, numbers out of
float range, lone surrogates, UTF-16/32 bodies), which the standard library then accepts or
refuses as it always did. With ``finite_only`` (a caller's body), NaN, Infinity and numbers
beyond float range are refused: they are not JSON, and no provider could be sent them.

Writing gives compact UTF-8 (FastAPI's shape: no spaces, no ``\\uXXXX`` escapes for non-ASCII
text). A float NaN or infinity, which has no JSON token, is written as ``null``. What orjson
cannot encode (integers beyond 64 bits, non-string keys, lone surrogates) is written by the
standard library with the same separators, as before, and raises what it raises."""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

_LONG_DIGITS_BYTES = re.compile(rb"\d{19}")
_LONG_DIGITS_TEXT = re.compile(r"\d{19}")


class NonFiniteNumber(ValueError):
    """A NaN, Infinity or out-of-range number in a body read with ``finite_only``."""

    def __init__(self, token: str) -> None:
        shown = token if len(token) <= 40 else token[:40] + "..."
        self.msg = (
            f"{shown} is not a JSON number (NaN, Infinity and numbers beyond float range are "
            "not allowed); send a finite number or null"
        )
        self.pos = 0
        super().__init__(self.msg)


def _refuse_constant(token: str) -> float:
    raise NonFiniteNumber(token)


def _finite_float(token: str) -> float:
    value = float(token)
    if value - value != 0.0:  # inf (NaN only comes as a constant)
        raise NonFiniteNumber(token)
    return value


def loads(data: bytes | str, *, finite_only: bool = False) -> Any:
    pattern = _LONG_DIGITS_TEXT if isinstance(data, str) else _LONG_DIGITS_BYTES
    if pattern.search(data) is None:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    if finite_only:
        return json.loads(data, parse_constant=_refuse_constant, parse_float=_finite_float)
    return json.loads(data)


def dumps(obj: Any) -> bytes:
    try:
        return orjson.dumps(obj)
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(obj, separators=(",", ":")).encode("ascii")


def dumps_text(obj: Any) -> str:
    return dumps(obj).decode("utf-8")
