"""The gateway's JSON: reading gives exactly what the standard library gives (orjson's big-integer
floats and refusals handed back to it); writing is compact UTF-8 that reads back equal."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlflow.gateway import jsonio

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=5), inner, max_size=4)),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(_values, st.sampled_from(["compact", "spaced", "ascii"]))
def test_reading_equals_the_standard_library(value, style) -> None:
    text = {
        "compact": json.dumps(value, separators=(",", ":"), ensure_ascii=False),
        "spaced": json.dumps(value, indent=1, ensure_ascii=False),
        "ascii": json.dumps(value),
    }[style]
    raw = text.encode("utf-8", "surrogatepass")
    expected = json.loads(raw)
    got = jsonio.loads(raw)
    assert got == expected
    assert repr(got) == repr(expected)  # same types: an int stays an int, -0.0 stays -0.0
    assert repr(jsonio.loads(text)) == repr(expected)


@settings(max_examples=400, deadline=None)
@given(_values)
def test_writing_reads_back_equal(value) -> None:
    raw = jsonio.dumps(value)
    assert isinstance(raw, bytes)
    assert json.loads(raw) == value
    assert jsonio.dumps_text(value) == raw.decode("utf-8")


@pytest.mark.parametrize("number", [-(2**63) - 1, -(2**63), 2**63, 2**64 - 1, 2**64, 10**19,
                                    -(10**18), 10**40])
def test_integers_at_the_64_bit_edges_stay_exact(number) -> None:
    assert jsonio.loads(f"[{number}]".encode()) == [number]
    assert type(jsonio.loads(f"[{number}]".encode())[0]) is int


def test_big_integers_keep_every_digit() -> None:
    raw = b'{"seed": 123456789012345678901234567890, "n": 18446744073709551617}'
    assert jsonio.loads(raw) == {"seed": 123456789012345678901234567890,
                                 "n": 18446744073709551617}
    assert jsonio.dumps({"seed": 10**30}) == b'{"seed":1000000000000000000000000000000}'


def test_writing_is_compact_utf8() -> None:
    assert jsonio.dumps({"a": [1, 2.5], "b": "é ✓"}) == '{"a":[1,2.5],"b":"é ✓"}'.encode()


def test_what_orjson_refuses_is_read_as_before() -> None:
    assert math.isnan(jsonio.loads(b"[NaN]")[0])
    assert jsonio.loads(b"[1e400]") == [math.inf]
    assert jsonio.loads(b'"\\ud800"') == "\ud800"
    assert jsonio.loads('{"x": "é"}'.encode("utf-16")) == {"x": "é"}
    with pytest.raises(json.JSONDecodeError):
        jsonio.loads(b"{nope")


@pytest.mark.parametrize("raw, token", [(b'{"t": NaN}', "NaN"), (b'[-Infinity]', "-Infinity"),
                                        (b'{"x": 1e400}', "1e400")])
def test_a_callers_body_may_not_hold_non_finite_numbers(raw, token) -> None:
    with pytest.raises(jsonio.NonFiniteNumber) as caught:
        jsonio.loads(raw, finite_only=True)
    assert caught.value.msg.startswith(f"{token} is not a JSON number")
    assert "send a finite number or null" in caught.value.msg
    assert isinstance(caught.value, ValueError)


def test_non_finite_floats_are_written_as_null() -> None:
    assert jsonio.dumps({"x": math.nan, "y": math.inf}) == b'{"x":null,"y":null}'


def test_what_orjson_cannot_write_goes_through_the_standard_library() -> None:
    assert jsonio.dumps({1: "a"}) == b'{"1":"a"}'
    assert jsonio.dumps("\ud800") == b'"\\ud800"'
    with pytest.raises(TypeError):
        jsonio.dumps({"x": object()})
