"""The private SSE decoder: events across chunk boundaries and line-ending styles."""

from mlflow.gateway.providers._sse import SSEDecoder


def decode(*chunks: bytes):
    decoder = SSEDecoder()
    events = [e for c in chunks for e in decoder.feed(c)]
    return [(e.event, e.data) for e in events + decoder.flush()]


def test_events_split_anywhere_and_any_line_ending():
    raw = b"event: a\r\ndata: 1\r\ndata: 2\r\n\r\n: comment\n\ndata:x\r\rdata: last"
    expected = [("a", "1\n2"), ("message", "x"), ("message", "last")]
    assert decode(raw) == expected
    for cut in range(1, len(raw)):
        assert decode(raw[:cut], raw[cut:]) == expected, cut
    assert decode(*[raw[i:i + 1] for i in range(len(raw))]) == expected
