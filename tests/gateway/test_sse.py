"""The one SSE codec (async_core/sse.py): the OpenAI SDK's decoder as a control on the same bytes,
random chunk splits, the spec's corner cases, and the encoder's round trip."""

from __future__ import annotations

import asyncio
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai._streaming import SSEDecoder

from async_core import sse

CHAT_STREAM = (
    b'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,'
    b'"delta":{"role":"assistant","content":""},"finish_reason":null}]}\n\n'
    b'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,'
    b'"delta":{"content":"Hel"},"finish_reason":null}]}\n\n'
    b'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,'
    b'"delta":{"content":"lo \xe2\x9c\x93"},"finish_reason":"stop"}]}\n\n'
    b"data: [DONE]\n\n"
)
NAMED_EVENTS = (
    b"event: message_start\r\n"
    b'data: {"type":"message_start"}\r\n\r\n'
    b": keep-alive\r\n\r\n"
    b"event: content_block_delta\r\nid: 7\r\nretry: 1500\r\n"
    b'data: {"type":"content_block_delta",\r\n'
    b'data:  "delta":{"text":"hi"}}\r\n\r\n'
)
CR_ONLY = b"data: a\rdata:b\r\rdata\r\rid: x\0y\rdata: c\r\r"
SPLIT_JSON = b'data: {"a":\ndata: 1}\n\n'

CORPUS = [CHAT_STREAM, NAMED_EVENTS, CR_ONLY, SPLIT_JSON, b"data: x"]


def _ours(chunks) -> list[tuple]:
    return [(e.event, e.data, e.id, e.retry) for e in sse.iter_events(chunks)]


def _openai(chunks) -> list[tuple]:
    return [(e.event, e.data, e.id, e.retry) for e in SSEDecoder().iter_bytes(iter(chunks))]


def _every_split(stream: bytes):
    yield [stream]
    yield [stream[i : i + 1] for i in range(len(stream))]
    for cut in range(1, len(stream)):
        yield [stream[:cut], stream[cut:]]


@pytest.mark.parametrize("stream", CORPUS, ids=["chat", "named", "cr", "split-json", "no-end"])
def test_same_events_as_the_openai_sdk_for_every_split(stream):
    expected = _openai([stream])
    for chunks in _every_split(stream):
        assert _ours(chunks) == expected


def test_the_corpus_decodes_to_the_expected_events():
    assert _ours([SPLIT_JSON]) == [(None, '{"a":\n1}', None, None)]
    assert json.loads(_ours([SPLIT_JSON])[0][1]) == {"a": 1}
    named = _ours([NAMED_EVENTS])
    assert named[0] == ("message_start", '{"type":"message_start"}', None, None)
    assert named[1][0] == "content_block_delta" and named[1][2:] == ("7", 1500)
    assert json.loads(named[1][1]) == {"type": "content_block_delta", "delta": {"text": "hi"}}
    # CR endings; a bare "data" field is an empty line of data; an id holding NUL is ignored.
    assert _ours([CR_ONLY]) == [(None, "a\nb", None, None), (None, "", None, None),
                                (None, "c", None, None)]
    # The unterminated last event is dropped (the spec; the SDK agrees).
    assert _ours([b"data: x"]) == []


_value = st.text(st.sampled_from(list("ab :{}\"\0é✓ ")), max_size=8)
_data_line = st.one_of(
    st.builds(lambda v: f"data:{v}", _value),
    st.builds(lambda v: f"data: {v}", _value),
    st.just("data"),
)
_field_line = st.one_of(
    _data_line,
    st.builds(lambda v: f"event: {v}", st.sampled_from(["", "delta", "ping"])),
    st.builds(lambda v: f"id: {v}", st.sampled_from(["", "1", "a b", "x\0y"])),
    st.builds(lambda v: f"retry: {v}", st.sampled_from(["0", "1500", "12"])),
    st.builds(lambda v: f":{v}", _value),
    st.sampled_from(["unknown: x", "dat: y", "DATA: z"]),
)


@st.composite
def _streams(draw):
    """Blocks of field lines, each with at least one data line, separated by one blank line,
    with any mix of CRLF / LF / CR endings: the grammar on which the SDK follows the spec."""
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 5))):
        block = draw(st.lists(_field_line, max_size=5))
        block.insert(draw(st.integers(0, len(block))), draw(_data_line))
        lines.extend(block)
        lines.append("")
    endings = draw(st.lists(st.sampled_from(["\n", "\r\n", "\r"]), min_size=len(lines),
                            max_size=len(lines)))
    stream = "".join(line + end for line, end in zip(lines, endings, strict=True)).encode()
    cuts = sorted(draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    bounds = [0, *cuts, len(stream)]
    return stream, [stream[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_streams())
def test_random_streams_and_random_splits_match_the_openai_sdk(case):
    stream, chunks = case
    assert _ours(chunks) == _openai([stream])
    assert _ours(chunks) == _ours([stream])


def test_where_the_spec_and_the_sdk_differ_we_follow_the_spec():
    # One leading BOM is ignored (the SDK treats it as part of the first field name).
    assert _ours([b"\xef\xbb\xbfdata: x\n\n"]) == [(None, "x", None, None)]
    assert _ours([b"\xef\xbb", b"\xbfdata: x\n\n"]) == [(None, "x", None, None)]
    assert _openai([b"\xef\xbb\xbfdata: x\n\n"]) == []
    # A block without data dispatches nothing (the SDK yields an empty event).
    assert _ours([b"event: ping\n\n"]) == []
    assert _openai([b"event: ping\n\n"]) == [("ping", "", None, None)]
    # retry must be ASCII digits only.
    assert _ours([b"retry: +5\ndata: x\n\n"]) == [(None, "x", None, None)]
    # Invalid UTF-8 becomes U+FFFD instead of aborting the stream.
    assert _ours([b"data: \xff\n\n"]) == [(None, "\ufffd", None, None)]
    # The last id carries over, but extra blank lines dispatch nothing.
    assert _ours([b"id: 1\ndata: a\n\n\n\ndata: b\n\n"]) == [
        (None, "a", "1", None), (None, "b", "1", None)]


def test_a_crlf_split_between_chunks_is_one_line_end():
    decoder = sse.EventStreamDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"") == []
    assert decoder.feed(b"\n") == []
    assert decoder.feed(b"\r\n") == [sse.Event(data="a")]


def test_max_event_size_bounds_the_buffer():
    decoder = sse.EventStreamDecoder(max_event_size=64)
    with pytest.raises(sse.EventStreamError, match="64 bytes"):
        for _ in range(100):
            decoder.feed(b"x" * 10)
    decoder = sse.EventStreamDecoder(max_event_size=64)
    with pytest.raises(sse.EventStreamError):
        for _ in range(100):
            decoder.feed(b"data: 0123456789\n")
    # Many small events never add up.
    decoder = sse.EventStreamDecoder(max_event_size=64)
    assert len(decoder.feed(b"data: 0123456789\n\n" * 100)) == 100
    with pytest.raises(ValueError, match="max_event_size"):
        sse.EventStreamDecoder(max_event_size=float("nan"))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40), st.integers(1, 7))
def test_encode_round_trips_through_both_decoders(data, step):
    encoded = sse.encode(data)
    chunks = [encoded[i : i + step] for i in range(0, len(encoded), step)]
    normalized = data.replace("\r\n", "\n").replace("\r", "\n")
    assert _ours(chunks) == [(None, normalized, None, None)]
    if not normalized.startswith("\ufeff"):
        assert _openai([encoded]) == [(None, normalized, None, None)]


def test_encoder_fields_done_and_comment():
    assert sse.encode("hi") == b"data: hi\n\n"
    assert sse.encode("a\nb") == b"data: a\ndata: b\n\n"
    assert sse.encode("x", event="delta", id="3", retry=10) == (
        b"event: delta\nid: 3\nretry: 10\ndata: x\n\n")
    assert sse.DONE == b"data: [DONE]\n\n"
    assert sse.comment("ping") == b": ping\n\n"
    assert _ours([sse.comment("ping"), sse.encode("x"), sse.DONE]) == [
        (None, "x", None, None), (None, "[DONE]", None, None)]
    with pytest.raises(ValueError, match="line break"):
        sse.encode("x", event="a\nb")
    with pytest.raises(ValueError, match="NUL"):
        sse.encode("x", id="a\0b")
    with pytest.raises(TypeError):
        sse.encode(b"x")


def test_aiter_data_stops_at_done():
    async def chunks():
        for piece in (b"data: 1\n", b"\ndata: [DO", b"NE]\n\ndata: 2\n\n"):
            yield piece

    async def collect():
        return [d async for d in sse.aiter_data(chunks())]

    assert asyncio.run(collect()) == ["1"]


def test_async_core_sse_names_nothing_of_mlflow():
    with open(sse.__file__, encoding="utf-8") as f:
        source = f.read().lower()
    assert "mlflow" not in source


def test_on_other_line_errors_come_after_the_events_before_them():
    def refuse(line):
        raise ValueError(f"refused {line!r}")

    events = sse.iter_events([b"data: 1\n\n: note\ndata: 2\n\n"], on_other_line=refuse)
    assert next(events).data == "1"
    with pytest.raises(ValueError, match="refused ': note'"):
        next(events)
    seen = []
    assert _ours([b"data: 1\n\n"]) == [(None, "1", None, None)]
    list(sse.iter_events([b"event: x\nid: 2\ndata: 3\n\n"], on_other_line=seen.append))
    assert seen == ["event: x", "id: 2"]
