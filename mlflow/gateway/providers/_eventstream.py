"""AWS's binary event-stream framing (``application/vnd.amazon.eventstream``), as Bedrock's
ConverseStream sends it: each message is a 12-byte prelude (total length, headers length, CRC32 of
those 8 bytes), headers (name length, name, value type, value), a payload and a CRC32 of the whole
message. Decoded incrementally; encoded for the loopback fake."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

_PRELUDE = struct.Struct(">III")
_STRING = 7  # header value type: UTF-8 string (the only type Bedrock's stream headers use)
_MAX_MESSAGE = 16 * 1024 * 1024


class EventStreamError(ValueError):
    """The bytes are not a valid event stream (bad length or checksum)."""


@dataclass(slots=True)
class EventMessage:
    headers: dict[str, str]
    payload: bytes


def _parse_headers(data: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        name_len = data[pos]
        name = data[pos + 1 : pos + 1 + name_len].decode()
        pos += 1 + name_len
        kind = data[pos]
        pos += 1
        if kind == _STRING or kind == 6:  # string or byte array, both length-prefixed
            (length,) = struct.unpack_from(">H", data, pos)
            value = data[pos + 2 : pos + 2 + length]
            headers[name] = value.decode("utf-8", errors="replace")
            pos += 2 + length
        elif kind in (0, 1):  # bool true / false
            headers[name] = "true" if kind == 0 else "false"
        else:
            # Fixed-size types: byte, short, int, long, timestamp, uuid.
            size = {2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16}.get(kind)
            if size is None:
                raise EventStreamError(f"unknown event-stream header type {kind}")
            headers[name] = data[pos : pos + size].hex()
            pos += size
    return headers


class EventStreamDecoder:
    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[EventMessage]:
        self._buffer += chunk
        messages = []
        while len(self._buffer) >= _PRELUDE.size:
            total, headers_len, prelude_crc = _PRELUDE.unpack_from(self._buffer)
            if zlib.crc32(self._buffer[:8]) != prelude_crc:
                raise EventStreamError("event-stream prelude checksum mismatch")
            if total > _MAX_MESSAGE or total < _PRELUDE.size + headers_len + 4:
                raise EventStreamError("event-stream message length out of range")
            if len(self._buffer) < total:
                break
            message, self._buffer = self._buffer[:total], self._buffer[total:]
            (crc,) = struct.unpack_from(">I", message, total - 4)
            if zlib.crc32(message[:-4]) != crc:
                raise EventStreamError("event-stream message checksum mismatch")
            start = _PRELUDE.size
            headers = _parse_headers(message[start : start + headers_len])
            messages.append(EventMessage(headers, message[start + headers_len : total - 4]))
        return messages

    @property
    def pending(self) -> bool:
        return bool(self._buffer)


def encode_message(headers: dict[str, str], payload: bytes) -> bytes:
    encoded = b""
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        encoded += bytes([len(raw_name)]) + raw_name + bytes([_STRING])
        encoded += struct.pack(">H", len(raw_value)) + raw_value
    total = _PRELUDE.size + len(encoded) + len(payload) + 4
    first = struct.pack(">II", total, len(encoded))
    message = first + struct.pack(">I", zlib.crc32(first)) + encoded + payload
    return message + struct.pack(">I", zlib.crc32(message))
