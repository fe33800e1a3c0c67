"""``mlflow.deployments.server.config.Endpoint``: MLflow's JSON shape, and parsing server JSON."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from mlflow.deployments.server.config import Endpoint
from mlflow.gateway.config import EndpointConfig, EndpointModelInfo, Limit

from .helpers import endpoint

EXAMPLE = {
    "name": "openai-completions",
    "endpoint_type": "llm/v1/completions",
    "model": {"name": "gpt-4o-mini", "provider": "openai"},
    "endpoint_url": "/endpoints/completions/invocations",
    "limit": {"calls": 1, "key": None, "renewal_period": "minute"},
}


def test_json_schema_carries_mlflows_example():
    schema = Endpoint.model_json_schema()
    assert schema["example"] == EXAMPLE
    assert set(schema["required"]) == {"name", "endpoint_type", "model", "endpoint_url", "limit"}


def test_round_trip_through_json_keeps_mlflows_shape():
    endpoint_ = Endpoint(
        name="openai-completions",
        endpoint_type="llm/v1/completions",
        model=EndpointModelInfo(name="gpt-4o-mini", provider="openai"),
        endpoint_url="/endpoints/completions/invocations",
        limit=Limit(calls=1, renewal_period="minute"),
    )
    assert endpoint_.model_dump() == EXAMPLE
    text = endpoint_.model_dump_json()
    assert json.loads(text) == EXAMPLE
    assert Endpoint.model_validate_json(text) == endpoint_
    assert Endpoint(**json.loads(text)) == endpoint_


def test_no_limit_dumps_as_null():
    endpoint_ = Endpoint.model_validate({**EXAMPLE, "limit": None})
    assert endpoint_.limit is None
    assert json.loads(endpoint_.model_dump_json())["limit"] is None


def test_server_json_with_unknown_fields_and_unusual_limits_parses():
    # A newer or foreign server: extra fields are ignored, a limit the throttle would reject is
    # kept as reported (the throttle, not the parser, refuses it when used).
    payload = {
        **EXAMPLE,
        "description": "new field",
        "model": {"name": None, "provider": "some-new-provider", "task": "chat"},
        "limit": {"calls": -5, "key": "user", "renewal_period": "fortnight", "burst": 3},
    }
    endpoint_ = Endpoint.model_validate_json(json.dumps(payload))
    assert endpoint_.model.provider == "some-new-provider"
    assert endpoint_.model.name is None
    assert endpoint_.limit == Limit(calls=-5, key="user", renewal_period="fortnight")
    assert endpoint_.model_dump() == {
        **EXAMPLE,
        "model": {"name": None, "provider": "some-new-provider"},
        "limit": {"calls": -5, "key": "user", "renewal_period": "fortnight"},
    }


def test_missing_required_field_is_a_validation_error():
    payload = {k: v for k, v in EXAMPLE.items() if k != "endpoint_url"}
    with pytest.raises(ValidationError, match="endpoint_url"):
        Endpoint.model_validate(payload)


def test_endpoint_config_round_trips_through_endpoint_json():
    config = EndpointConfig(**endpoint("chat", limit={"calls": 5, "renewal_period": "10 seconds"}))
    served = config.to_endpoint()
    parsed = Endpoint.model_validate_json(served.model_dump_json())
    assert parsed == served
    assert parsed.endpoint_url == "/gateway/chat/invocations"
    assert type(parsed.endpoint_type) is str and parsed.endpoint_type == "llm/v1/chat"
    assert type(parsed.model.provider) is str and parsed.model.provider == "openai"


limits = st.none() | st.builds(
    Limit,
    calls=st.integers(min_value=-(2**31), max_value=2**31),
    key=st.none() | st.text(max_size=20),
    renewal_period=st.text(max_size=20),
)
endpoints = st.builds(
    Endpoint,
    name=st.text(max_size=30),
    endpoint_type=st.sampled_from(["llm/v1/completions", "llm/v1/chat", "llm/v1/embeddings"])
    | st.text(max_size=20),
    model=st.builds(
        EndpointModelInfo, name=st.none() | st.text(max_size=30), provider=st.text(max_size=30)
    ),
    endpoint_url=st.text(max_size=60),
    limit=limits,
)


@given(endpoints)
def test_any_endpoint_round_trips_through_json(endpoint_):
    text = endpoint_.model_dump_json()
    assert Endpoint.model_validate_json(text) == endpoint_
    assert json.loads(text) == endpoint_.model_dump()
    assert list(json.loads(text)) == ["name", "endpoint_type", "model", "endpoint_url", "limit"]
