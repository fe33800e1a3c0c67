"""``json=`` bodies: byte for byte what requests sends (json.dumps(..., allow_nan=False)), with
the same errors, and a kept encoder that stays correct after a failure and across threads."""

from __future__ import annotations

import collections
import json
import math
import threading

import pytest

from mlflow.utils import json_body
from mlflow.utils.json_body import _dumps_without_c_encoder, dumps


class _StrSubclass(str):
    pass


_PAYLOADS = [
    {"messages": [{"role": "user", "content": "hello"}], "temperature": 0.0},
    {"unicode": "h\u00e9llo \u2603 \U0001f600", "quote": 'say "hi"\n\t\\', "ctrl": "\x00\x1f"},
    {1: "int key", 2.5: "float key", False: "bool key", None: "none key"},
    {"big": 2**70, "neg": -3, "float": 1e-300, "exp": 1.5e300, "third": 1 / 3},
    [None, True, False, [], {}, (), [[[[1]]]]],
    ("a", "tuple", 1),
    "top-level string",
    3.25,
    None,
    collections.OrderedDict([("b", 1), ("a", 2)]),
    {"subclass": _StrSubclass("x"), _StrSubclass("k"): 1},
    {"shared": [1, 2], "again": [1, 2]},
]


@pytest.mark.parametrize("payload", _PAYLOADS, ids=range(len(_PAYLOADS)))
def test_same_bytes_as_requests(payload):
    expected = json.dumps(payload, allow_nan=False).encode("utf-8")
    assert dumps(payload) == expected
    assert _dumps_without_c_encoder(payload) == expected


def test_a_shared_container_is_not_a_cycle():
    inner = {"x": 1}
    payload = {"a": inner, "b": [inner, inner]}
    assert dumps(payload) == json.dumps(payload).encode()


def _error_of(fn, payload):
    with pytest.raises(Exception) as info:
        fn(payload)
    return type(info.value), str(info.value)


def _circular():
    loop = []
    loop.append({"again": loop})
    return loop


@pytest.mark.parametrize(
    "make",
    [
        lambda: {"t": math.nan},
        lambda: [math.inf],
        lambda: {"x": object()},
        lambda: {("tuple", "key"): 1},
        lambda: {"s": {1, 2}},
        _circular,
    ],
    ids=["nan", "inf", "object", "tuple-key", "set", "circular"],
)
def test_same_errors_as_requests(make):
    def reference(obj):
        return json.dumps(obj, allow_nan=False)

    assert _error_of(dumps, make()) == _error_of(reference, make())


def test_a_failure_midway_leaves_no_stale_markers():
    # The C encoder records each container it enters and forgets it on the way out, but not
    # when it fails inside: a kept encoder would then take the same container, sent again once
    # fixed, for a cycle.
    box = {"items": [1, 2]}
    box["items"].append(object())
    with pytest.raises(TypeError, match="not JSON serializable"):
        dumps(box)
    box["items"].pop()
    assert dumps(box) == b'{"items": [1, 2]}'


def test_each_thread_has_its_own_encoder():
    seen = []
    results = []

    def work(n):
        seen.append(json_body._local.encoder)
        payload = {"n": n, "items": list(range(n))}
        for _ in range(200):
            results.append(dumps(payload) == json.dumps(payload).encode())
        seen.append(json_body._local.encoder)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(1, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(results) == 800 and all(results)
    encoders = {id(e) for e in seen if e is not None}
    assert len(encoders) == 4  # one per thread, none shared
