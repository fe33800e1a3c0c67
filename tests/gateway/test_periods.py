"""Properties of the renewal-period parser, of the config's use of it, and of API-key
resolution."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from async_core.periods import ACCEPTED_FORMS, UNIT_SECONDS, InvalidPeriodError, parse_period
from mlflow.exceptions import MlflowException
from mlflow.gateway.base_models import MASK
from mlflow.gateway.config import EndpointConfig, OpenAIConfig
from mlflow.gateway.utils import resolve_api_key

from .helpers import endpoint

# The autouse flag fixture is function-scoped; these properties set their own environment.
properties = settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)

units = st.sampled_from(sorted(UNIT_SECONDS))
spaces = st.sampled_from(["", " ", "  ", "\t"])


def _cased(text: str, upper: bool) -> str:
    return text.upper() if upper else text


# ---------------------------------------------------------------------------------------------
# parse_period


@properties
@given(
    count=st.integers(min_value=1, max_value=10**9),
    unit=units,
    plural=st.booleans(),
    upper=st.booleans(),
    gap=spaces,
    pad=spaces,
)
def test_count_and_unit(count, unit, plural, upper, gap, pad):
    text = f"{pad}{count}{gap}{_cased(unit + ('s' if plural else ''), upper)}{pad}"
    assert parse_period(text) == count * UNIT_SECONDS[unit]


@properties
@given(unit=units, plural=st.booleans(), upper=st.booleans())
def test_bare_unit_is_one_of_it(unit, plural, upper):
    assert parse_period(_cased(unit + ("s" if plural else ""), upper)) == UNIT_SECONDS[unit]


@properties
@given(unit=units, zeros=st.integers(min_value=1, max_value=5))
def test_zero_count_is_rejected(unit, zeros):
    text = f"{'0' * zeros} {unit}s"
    with pytest.raises(InvalidPeriodError, match="the count must be at least 1") as info:
        parse_period(text)
    assert repr(text) in str(info.value)


@properties
@given(st.text(max_size=30))
def test_any_text_parses_to_whole_units_or_names_itself_in_the_error(text):
    try:
        seconds = parse_period(text)
    except InvalidPeriodError as e:
        assert repr(text) in str(e)
        assert ACCEPTED_FORMS in str(e) or "the count must be at least 1" in str(e)
    else:
        assert seconds >= 1
        assert any(seconds % size == 0 for size in UNIT_SECONDS.values())


@properties
@given(st.none() | st.integers() | st.floats(allow_nan=False) | st.binary(max_size=10))
def test_non_text_is_rejected(value):
    with pytest.raises(InvalidPeriodError, match="expected a string"):
        parse_period(value)


# The config accepts exactly the periods the throttle's parser accepts.

near_periods = st.one_of(
    st.text(max_size=15),
    st.builds(
        lambda count, unit, tail: f"{count}{unit}{tail}",
        st.sampled_from(["", "0", "1", "5 ", "12 ", "-1 ", "1.5 ", "x "]),
        st.sampled_from([*UNIT_SECONDS, "week", "month", "Minute", "sec", "hours"]),
        st.sampled_from(["", "s", "ss", " ", "/1"]),
    ),
)


@properties
@given(period=near_periods, calls=st.integers(min_value=-3, max_value=3))
def test_config_limit_accepts_exactly_what_the_parser_accepts(period, calls):
    try:
        parse_period(period)
        parsable = True
    except InvalidPeriodError:
        parsable = False
    entry = endpoint(limit={"calls": calls, "renewal_period": period})
    if parsable and calls >= 0:
        assert EndpointConfig(**entry).limit.renewal_period == period
    else:
        with pytest.raises(MlflowException, match="Failed to parse the rate limit configuration"):
            EndpointConfig(**entry)


# ---------------------------------------------------------------------------------------------
# API-key resolution

_ENV_ON = {
    "MLFLOW_GATEWAY_RESOLVE_API_KEY_FROM_ENV": "true",
    "MLFLOW_GATEWAY_RESOLVE_API_KEY_FROM_FILE": "true",
}
_ENV_OFF = {
    "MLFLOW_GATEWAY_RESOLVE_API_KEY_FROM_ENV": "false",
    "MLFLOW_GATEWAY_RESOLVE_API_KEY_FROM_FILE": "false",
}
env_names = st.from_regex(r"MLFLOW_AIO_PROP_[A-Z0-9_]{1,12}", fullmatch=True)
env_values = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), min_size=1
)
file_texts = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00\r"), max_size=40
)


@properties
@given(name=env_names, value=env_values)
def test_dollar_name_resolves_to_the_variable(name, value):
    with mock.patch.dict(os.environ, {**_ENV_ON, name: value}):
        assert resolve_api_key(f"${name}") == value


@properties
@given(name=env_names)
def test_dollar_name_of_an_unset_variable_names_it(name):
    with mock.patch.dict(os.environ, _ENV_ON):
        os.environ.pop(name, None)
        with pytest.raises(MlflowException, match=f"^Environment variable '{name}' is not set"):
            resolve_api_key(f"${name}")


@properties
@given(text=file_texts)
def test_file_path_resolves_to_its_text_without_trailing_newlines(text):
    with tempfile.TemporaryDirectory() as directory, mock.patch.dict(os.environ, _ENV_ON):
        path = Path(directory, "key")
        path.write_text(text, encoding="utf-8")
        assert resolve_api_key(str(path)) == text.rstrip("\n")


@properties
@given(st.text(max_size=300))
def test_other_text_is_the_key_itself(text):
    assume(not text.startswith("$"))
    try:
        assume(not Path(text).is_file())
    except (OSError, ValueError):
        pass
    with mock.patch.dict(os.environ, _ENV_ON):
        assert resolve_api_key(text) == text


@properties
@given(st.text(max_size=60))
def test_switched_off_resolution_is_the_identity(text):
    with mock.patch.dict(os.environ, {**_ENV_OFF, "MLFLOW_AIO_PROP_SET": "resolved"}):
        assert resolve_api_key(text) == text
        assert resolve_api_key("$MLFLOW_AIO_PROP_SET") == "$MLFLOW_AIO_PROP_SET"


@properties
@given(st.none() | st.integers() | st.lists(st.integers(), max_size=3) | st.binary(max_size=5))
def test_non_text_key_is_rejected(value):
    with pytest.raises(MlflowException, match="The api key provided is not a string"):
        resolve_api_key(value)


@properties
@given(st.from_regex(r"sk-[A-Za-z0-9]{16,40}", fullmatch=True))
def test_any_key_is_masked_in_reprs_and_kept_in_dumps(key):
    with mock.patch.dict(os.environ, _ENV_ON):
        config = OpenAIConfig(openai_api_key=key)
    for text in (repr(config), str(config)):
        assert key not in text
        assert MASK in text
    assert config.openai_api_key == key
    assert config.model_dump()["openai_api_key"] == key
