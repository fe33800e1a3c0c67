"""Issue 12 item 4: a YAML alias bomb anywhere in a gateway configuration fails fast with a short
message, never hangs formatting the expanded value; every echoed value is bounded."""

from __future__ import annotations

import pytest

from mlflow.exceptions import MlflowException
from mlflow.gateway.config import _load_gateway_config
from mlflow.gateway.utils import describe_value, quoted_text

DEPTH = 9  # 9**9 = 387 million leaves once expanded: formatting it would never finish


def _bomb_anchors() -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, DEPTH):
        refs = ",".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines)


BOMB = f"*a{DEPTH - 1}"
PLACES = {
    "provider": ("provider: openai", f"provider: {BOMB}"),
    "endpoint_type": ("endpoint_type: llm/v1/chat", f"endpoint_type: {BOMB}"),
    "name": ("- name: chat", f"- name: {BOMB}"),
    "model name": ("name: gpt-4o-mini", f"name: {BOMB}"),
    "api key": ("openai_api_key: sk-x", f"openai_api_key: {BOMB}"),
    "api type": ("openai_api_key: sk-x", f"openai_api_key: sk-x, openai_api_type: {BOMB}"),
    "limit calls": ("calls: 5", f"calls: {BOMB}"),
    "renewal period": ("renewal_period: minute", f"renewal_period: {BOMB}"),
    "limit": ("limit: {calls: 5, renewal_period: minute}", f"limit: {BOMB}"),
    "endpoints": ("endpoints:\n  - name: chat", f"endpoints: {BOMB}\nx:\n  - name: chat"),
}
GOOD = """
endpoints:
  - name: chat
    endpoint_type: llm/v1/chat
    model:
      provider: openai
      name: gpt-4o-mini
      config: {openai_api_key: sk-x}
    limit: {calls: 5, renewal_period: minute}
"""


@pytest.mark.timeout(20)
@pytest.mark.parametrize("place", sorted(PLACES))
def test_an_alias_bomb_fails_fast_with_a_short_message(place, tmp_path):
    old, new = PLACES[place]
    assert old in GOOD
    path = tmp_path / "config.yaml"
    path.write_text(_bomb_anchors() + "\n" + GOOD.replace(old, new, 1))
    with pytest.raises(MlflowException) as info:
        _load_gateway_config(path)
    assert len(info.value.message) < 2000, info.value.message[:300]
    assert "lol', 'lol', 'lol', 'lol', 'lol" not in info.value.message


def test_the_good_config_loads(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(_bomb_anchors() + "\n" + GOOD)
    assert _load_gateway_config(path).endpoints[0].name == "chat"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("openai", "'openai'"),
        ("x" * 100, "'" + "x" * 80 + "'... (str of 100 characters)"),
        (5, "5"),
        (None, "None"),
        ([1, 2, 3, 4, 5, 6], "[1, 2, 3, 4, ...] (list of 6 items)"),
        ({"a": [[[1]]]}, "{'a': [[...]]} (dict of 1 items)"),
    ],
)
def test_describe_value_is_bounded(value, expected):
    assert describe_value(value) == expected


def test_quoted_text_keeps_mlflows_wording_for_short_strings():
    assert quoted_text("openai") == "'openai'"
    assert quoted_text(["x"]) == "['x'] (list of 1 items)"
