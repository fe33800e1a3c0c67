"""Gateway entities: lossless round trips through proto and JSON (property tests), the seed's
None/"" mapping, and clear errors for malformed input."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlflow.entities import (
    GatewayEndpoint,
    GatewayEndpointBinding,
    GatewayEndpointModelMapping,
    GatewayEndpointTag,
    GatewayModelDefinition,
    GatewayResourceType,
)
from mlflow.exceptions import MlflowException
from mlflow.protos import service_pb2

texts = st.text(max_size=20)
maybe_text = st.none() | texts
timestamps = st.integers(min_value=-(2**63), max_value=2**63 - 1)
weights = st.floats(min_value=0, max_value=1e12, allow_nan=False, allow_infinity=False)

model_definitions = st.builds(
    GatewayModelDefinition,
    model_definition_id=texts,
    name=texts,
    secret_id=maybe_text,
    secret_name=maybe_text,
    provider=texts,
    model_name=texts,
    created_at=timestamps,
    last_updated_at=timestamps,
    created_by=maybe_text,
    last_updated_by=maybe_text,
)
mappings = st.builds(
    GatewayEndpointModelMapping,
    mapping_id=texts,
    endpoint_id=texts,
    model_definition_id=texts,
    model_definition=st.none() | model_definitions,
    weight=weights,
    created_at=timestamps,
    created_by=maybe_text,
)
tags = st.builds(GatewayEndpointTag, key=texts, value=maybe_text)
endpoints = st.builds(
    GatewayEndpoint,
    endpoint_id=texts,
    name=maybe_text,
    created_at=timestamps,
    last_updated_at=timestamps,
    model_mappings=st.lists(mappings, max_size=3),
    tags=st.lists(tags, max_size=3),
    created_by=maybe_text,
    last_updated_by=maybe_text,
)
bindings = st.builds(
    GatewayEndpointBinding,
    endpoint_id=texts,
    resource_type=st.sampled_from(list(GatewayResourceType)),
    resource_id=texts,
    created_at=timestamps,
    last_updated_at=timestamps,
    created_by=maybe_text,
    last_updated_by=maybe_text,
)

ALL = [model_definitions, mappings, tags, endpoints, bindings]


@pytest.mark.parametrize("strategy", ALL, ids=lambda s: "entity")
def test_round_trips_are_lossless(strategy):
    @settings(max_examples=60, deadline=None)
    @given(strategy)
    def check(entity):
        cls = type(entity)
        proto = entity.to_proto()
        # Through the wire bytes too, not just the in-memory message.
        reparsed = type(proto).FromString(proto.SerializeToString())
        assert cls.from_proto(reparsed) == entity
        assert cls.from_dict(json.loads(json.dumps(entity.to_dict()))) == entity

    check()


def test_seed_maps_empty_strings_to_none():
    endpoint = GatewayEndpoint("e1", "", 1, 2, created_by="", last_updated_by="")
    assert endpoint.name is None and endpoint.created_by is None
    proto = endpoint.to_proto()
    assert proto.name == "" and proto.created_by == ""  # the seed writes "" for None
    tag = GatewayEndpointTag.from_proto(service_pb2.GatewayEndpointTag(key="k", value=""))
    assert tag.value is None


def test_secret_id_keeps_none_and_empty_apart():
    orphan = GatewayModelDefinition("m", "n", None, None, "openai", "gpt", 1, 1)
    assert not orphan.to_proto().HasField("secret_id")
    assert GatewayModelDefinition.from_proto(orphan.to_proto()).secret_id is None
    empty = GatewayModelDefinition("m", "n", "", "", "openai", "gpt", 1, 1)
    assert GatewayModelDefinition.from_proto(empty.to_proto()).secret_id == ""
    assert "secret_id" not in orphan.to_dict() and empty.to_dict()["secret_id"] == ""


def test_nested_model_definition_survives():
    definition = GatewayModelDefinition("m", "n", "s", "sn", "openai", "gpt-4o", 5, 6, "me")
    mapping = GatewayEndpointModelMapping("map", "e", "m", definition, 0.25, 7)
    endpoint = GatewayEndpoint("e", "chat", 1, 2, [mapping], [GatewayEndpointTag("k", "v")])
    again = GatewayEndpoint.from_proto(endpoint.to_proto())
    assert again.model_mappings[0].model_definition == definition
    assert again.model_mappings[0].weight == 0.25


def test_bad_resource_type_is_a_clear_error():
    with pytest.raises(MlflowException, match="Invalid resource_type 'job'.*'scorer_job'") as info:
        GatewayEndpointBinding("e", "job", "r", 1, 1)
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    proto = service_pb2.GatewayEndpointBinding(endpoint_id="e", resource_type="nope")
    with pytest.raises(MlflowException, match="nope"):
        GatewayEndpointBinding.from_proto(proto)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "x"}, "missing the required field 'endpoint_id'"),
        ({"endpoint_id": 3, "created_at": 1, "last_updated_at": 1}, "endpoint_id must be str"),
        ({"endpoint_id": "e", "created_at": True, "last_updated_at": 1}, "created_at must be int"),
        ([], "must be a JSON object"),
    ],
)
def test_from_dict_rejects_malformed_json(data, message):
    with pytest.raises(MlflowException, match=message) as info:
        GatewayEndpoint.from_dict(data)
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"


def test_binding_resource_type_is_an_enum_value_in_json():
    binding = GatewayEndpointBinding("e", GatewayResourceType.SCORER_JOB, "r", 1, 2)
    assert binding.to_dict()["resource_type"] == "scorer_job"
    assert binding.to_proto().resource_type == "scorer_job"
