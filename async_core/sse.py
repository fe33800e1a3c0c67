"""One server-sent-events codec (the WHATWG "event stream" format), for readers and writers.

Decoding is incremental: feed bytes as they arrive, in chunks of any size, and get back the
events completed so far. It follows the spec's interpretation rules:

- lines end at CRLF, LF or CR, including a CRLF split between two chunks;
- one byte-order mark at the start of the stream is ignored;
- ``data:`` lines accumulate and are joined with "\\n"; an empty line dispatches the event;
- comments (``:...``) and unknown fields are ignored; ``event``, ``id`` and ``retry`` are exposed;
- an ``id`` holding NUL is ignored and the last id carries over to later events; ``retry`` is
  kept only when it is all ASCII digits;
- a block with no ``data`` line dispatches nothing, and an event left unterminated when the
  stream ends is dropped.

Lines are decoded as UTF-8 with replacement characters (the spec's decoding), so a bad byte never
aborts a stream. ``max_event_size`` bounds the bytes buffered for one event, so an endless line
from a hostile peer cannot exhaust memory.

Encoding writes ``data: <line>`` per line of the payload and a blank line, so any text (with any
line endings) round-trips through the decoder. ``DONE`` is the ``[DONE]`` sentinel event that
OpenAI-style streams end with.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass

__all__ = [
    "DONE",
    "DONE_DATA",
    "Event",
    "EventStreamDecoder",
    "EventStreamError",
    "aiter_data",
    "aiter_events",
    "comment",
    "encode",
    "is_done",
    "iter_events",
]

DONE_DATA = "[DONE]"

_LINE_END = re.compile(rb"\r\n|\r|\n")
_TEXT_LINE_END = re.compile(r"\r\n|\r|\n")
_BOM = "\ufeff"


class EventStreamError(ValueError):
    """The stream broke a limit set on the decoder (an event larger than ``max_event_size``)."""


@dataclass(frozen=True, slots=True)
class Event:
    """One dispatched event. ``event`` is None for the default type ("message")."""

    data: str
    event: str | None = None
    id: str | None = None
    retry: int | None = None


class EventStreamDecoder:
    """Incremental decoder: ``feed(chunk)`` returns the events each chunk completes,
    ``close()`` ends the stream (an unterminated last event is dropped, as the spec says)."""

    __slots__ = (
        "_buffer",
        "_data",
        "_event",
        "_last_id",
        "_retry",
        "_skip_lf",
        "_started",
        "_pending_size",
        "_failure",
        "max_event_size",
        "on_other_line",
        "reconnection_time",
    )

    def __init__(
        self,
        *,
        max_event_size: int | None = None,
        on_other_line: Callable[[str], None] | None = None,
    ) -> None:
        if max_event_size is not None and (
            isinstance(max_event_size, bool) or not isinstance(max_event_size, int)
            or max_event_size <= 0
        ):
            raise ValueError(
                f"max_event_size must be a positive integer or None, got "
                f"{type(max_event_size).__name__}"
            )
        self.max_event_size = max_event_size
        # Called with each non-empty line that is not a ``data`` field (comments included), for
        # readers that must reject what a lenient decoder skips; it may raise.
        self.on_other_line = on_other_line
        self.reconnection_time: int | None = None  # the last valid ``retry`` seen (ms)
        self._buffer = bytearray()  # the current, unfinished line
        self._skip_lf = False  # the previous chunk ended with CR: a leading LF is its pair
        self._started = False  # the first line (which may carry a BOM) was seen
        self._data: list[str] = []
        self._event: str | None = None
        self._last_id: str | None = None
        self._retry: int | None = None
        self._pending_size = 0  # bytes held for the event being built
        self._failure: BaseException | None = None  # raised by on_other_line, not yet surfaced

    def feed(self, chunk: bytes | bytearray | memoryview) -> list[Event]:
        """The events this chunk completes. If ``on_other_line`` raised on a line, the events
        before that line are returned and the error is raised by ``check()`` (and by every later
        call), so a reader sees what came before the fault, in order."""
        self.check()
        events: list[Event] = []
        chunk = bytes(chunk)
        if not chunk:
            return events
        start = 0
        if self._skip_lf and chunk[:1] == b"\n":
            start = 1
        self._skip_lf = False
        for match in _LINE_END.finditer(chunk, start):
            end = match.start()
            if self._buffer:
                self._buffer += chunk[start:end]
                line = bytes(self._buffer)
                self._buffer.clear()
            else:
                line = chunk[start:end]
            start = match.end()
            try:
                event = self._line(line)
            except Exception as e:
                self._failure = e
                return events
            if event is not None:
                events.append(event)
        if start < len(chunk):
            self._buffer += chunk[start:]
            self._check_size(len(self._buffer))
        elif chunk.endswith(b"\r"):
            self._skip_lf = True
        return events

    def close(self) -> list[Event]:
        """End of stream: a last line without its ending still counts as a line, but an event
        without the blank line that dispatches it is discarded."""
        self.check()
        if self._buffer:
            line = bytes(self._buffer)
            self._buffer.clear()
            self._line(line)
        self._data = []
        self._event = None
        self._retry = None
        self._pending_size = 0
        return []

    def check(self) -> None:
        """Raise the error ``on_other_line`` raised, if any."""
        if self._failure is not None:
            raise self._failure

    def _check_size(self, extra: int) -> None:
        limit = self.max_event_size
        if limit is not None and self._pending_size + extra > limit:
            raise EventStreamError(
                f"a server-sent event exceeded the limit of {limit} bytes"
            )

    def _line(self, raw: bytes) -> Event | None:
        if raw:
            self._check_size(len(raw))
            self._pending_size += len(raw)
        line = raw.decode("utf-8", errors="replace")
        if not self._started:
            self._started = True
            if line.startswith(_BOM):
                line = line[1:]
        if not line:
            return self._dispatch()
        name, colon, value = line.partition(":")
        if self.on_other_line is not None and name != "data":
            self.on_other_line(line)
        if not name:
            return None  # a comment
        if colon and value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._last_id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self._retry = self.reconnection_time = int(value)
        return None

    def _dispatch(self) -> Event | None:
        data, event, retry = self._data, self._event, self._retry
        self._data, self._event, self._retry = [], None, None
        self._pending_size = 0
        if not data:
            return None
        return Event(data="\n".join(data), event=event or None, id=self._last_id, retry=retry)


def iter_events(
    chunks: Iterable[bytes], *, max_event_size: int | None = None, on_other_line=None
) -> Iterator[Event]:
    """Every event of a stream given as an iterable of byte chunks."""
    decoder = EventStreamDecoder(max_event_size=max_event_size, on_other_line=on_other_line)
    for chunk in chunks:
        yield from decoder.feed(chunk)
        decoder.check()
    yield from decoder.close()


async def aiter_events(
    chunks: AsyncIterable[bytes], *, max_event_size: int | None = None, on_other_line=None
) -> AsyncIterator[Event]:
    """Every event of a stream given as an async iterable of byte chunks."""
    decoder = EventStreamDecoder(max_event_size=max_event_size, on_other_line=on_other_line)
    async for chunk in chunks:
        for event in decoder.feed(chunk):
            yield event
        decoder.check()
    for event in decoder.close():
        yield event


def is_done(event: Event) -> bool:
    """True for the ``[DONE]`` sentinel (surrounding whitespace tolerated)."""
    return event.data.strip() == DONE_DATA


async def aiter_data(
    chunks: AsyncIterable[bytes], *, max_event_size: int | None = None, on_other_line=None
) -> AsyncIterator[str]:
    """The ``data`` of each event up to a ``[DONE]`` event or the end of the stream."""
    async for event in aiter_events(
        chunks, max_event_size=max_event_size, on_other_line=on_other_line
    ):
        if is_done(event):
            return
        yield event.data


def _single_line(name: str, value: str) -> str:
    if _TEXT_LINE_END.search(value):
        raise ValueError(f"an event's {name} cannot contain a line break")
    return value


def encode(
    data: str, *, event: str | None = None, id: str | None = None, retry: int | None = None
) -> bytes:
    """One event as bytes: ``data: <line>`` for each line of ``data``, then a blank line."""
    if not isinstance(data, str):
        raise TypeError(f"data must be str, got {type(data).__name__}")
    parts: list[str] = []
    if event is not None:
        parts.append(f"event: {_single_line('event', event)}\n")
    if id is not None:
        if "\0" in id:
            raise ValueError("an event's id cannot contain NUL")
        parts.append(f"id: {_single_line('id', id)}\n")
    if retry is not None:
        if isinstance(retry, bool) or not isinstance(retry, int) or retry < 0:
            raise ValueError("retry must be a non-negative integer (milliseconds)")
        parts.append(f"retry: {retry}\n")
    parts.extend(f"data: {line}\n" for line in _TEXT_LINE_END.split(data))
    parts.append("\n")
    return "".join(parts).encode("utf-8")


def comment(text: str = "") -> bytes:
    """A comment line (e.g. a keep-alive) that every decoder ignores."""
    return f": {_single_line('comment', text)}\n\n".encode()


DONE = encode(DONE_DATA)
