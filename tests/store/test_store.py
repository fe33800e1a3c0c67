"""The SQL store against a real SQLite file: CRUD, constraints, cascades, clear errors, and
nothing half-written."""

from __future__ import annotations

import math
import sqlite3

import pytest

from mlflow.entities import GatewayResourceType
from mlflow.exceptions import MlflowException


def _code(info) -> str:
    return info.value.error_code


async def test_model_definition_crud(store):
    secret = await store.create_secret("k1", {"api_key": "sk-aaaaaaaaaaaaaaaa"}, "openai")
    created = await store.create_model_definition("m1", secret.secret_id, "openai", "gpt-4o")
    assert created.secret_name == "k1" and created.created_at > 0
    assert await store.get_model_definition(created.model_definition_id) == created
    updated = await store.update_model_definition(
        created.model_definition_id, model_name="gpt-4.1", updated_by="bob"
    )
    assert updated.model_name == "gpt-4.1" and updated.last_updated_by == "bob"
    assert updated.last_updated_at > created.last_updated_at
    assert [d.name for d in await store.list_model_definitions(provider="openai")] == ["m1"]
    assert await store.list_model_definitions(provider="anthropic") == []
    await store.delete_model_definition(created.model_definition_id)
    with pytest.raises(MlflowException, match="does not exist") as info:
        await store.get_model_definition(created.model_definition_id)
    assert _code(info) == "RESOURCE_DOES_NOT_EXIST"


async def test_endpoint_crud_with_weights_tags_and_bindings(store, openai_definition):
    other = await store.create_model_definition("gpt-b", None, "openai", "gpt-4o")
    endpoint = await store.create_endpoint(
        "chat",
        [
            {"model_definition_id": openai_definition.model_definition_id, "weight": 3},
            {"model_definition_id": other.model_definition_id},
        ],
        created_by="alice",
    )
    assert [m.weight for m in endpoint.model_mappings] == [3.0, 1.0]
    assert endpoint.model_mappings[0].model_definition.secret_name == "openai-key"
    assert (await store.get_endpoint(name="chat")) == endpoint

    mapping = endpoint.model_mappings[1]
    changed = await store.update_endpoint_model_mapping(mapping.mapping_id, 0.5)
    assert changed.weight == 0.5

    await store.set_endpoint_tag(endpoint.endpoint_id, "team", "search")
    await store.set_endpoint_tag(endpoint.endpoint_id, "team", "ads")  # overwrite
    await store.set_endpoint_tag(endpoint.endpoint_id, "empty", None)
    got = await store.get_endpoint(endpoint.endpoint_id)
    assert [(t.key, t.value) for t in got.tags] == [("empty", None), ("team", "ads")]

    binding = await store.create_endpoint_binding(endpoint.endpoint_id, "scorer_job", "job-1")
    assert binding.resource_type is GatewayResourceType.SCORER_JOB
    with pytest.raises(MlflowException, match="already bound") as info:
        await store.create_endpoint_binding(endpoint.endpoint_id, "scorer_job", "job-1")
    assert _code(info) == "RESOURCE_ALREADY_EXISTS"
    assert len(await store.list_endpoint_bindings(endpoint_id=endpoint.endpoint_id)) == 1

    renamed = await store.update_endpoint(endpoint.endpoint_id, name="chat2", updated_by="bob")
    assert renamed.name == "chat2"
    assert [e.name for e in await store.list_endpoints(provider="openai")] == ["chat2"]
    assert await store.list_endpoints(provider="anthropic") == []

    await store.detach_model_from_endpoint(endpoint.endpoint_id, other.model_definition_id)
    assert len((await store.get_endpoint(endpoint.endpoint_id)).model_mappings) == 1
    await store.delete_endpoint_tag(endpoint.endpoint_id, "team")
    await store.delete_endpoint_binding(endpoint.endpoint_id, "scorer_job", "job-1")
    assert await store.list_endpoint_bindings() == []


async def test_delete_endpoint_removes_its_children(store, openai_definition, db_uri):
    endpoint = await store.create_endpoint(
        "chat", [{"model_definition_id": openai_definition.model_definition_id}]
    )
    await store.set_endpoint_tag(endpoint.endpoint_id, "k", "v")
    await store.create_endpoint_binding(endpoint.endpoint_id, "scorer_job", "job-1")
    await store.delete_endpoint(endpoint.endpoint_id)
    path = db_uri.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        for table in (
            "gateway_endpoints",
            "gateway_endpoint_model_mappings",
            "gateway_endpoint_tags",
            "gateway_endpoint_bindings",
        ):
            assert conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone() == (0,), table
    # The model definition is shared: it stays.
    assert await store.get_model_definition(openai_definition.model_definition_id)


async def test_tag_limits_are_enforced(store):
    endpoint = await store.create_endpoint("e", [])
    await store.set_endpoint_tag(endpoint.endpoint_id, "k" * 250, "v" * 5000)
    with pytest.raises(MlflowException, match="251 characters; the limit is 250") as info:
        await store.set_endpoint_tag(endpoint.endpoint_id, "k" * 251, "v")
    assert _code(info) == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException, match="5001 characters; the limit is 5000"):
        await store.set_endpoint_tag(endpoint.endpoint_id, "k", "v" * 5001)
    with pytest.raises(MlflowException, match="non-empty string"):
        await store.set_endpoint_tag(endpoint.endpoint_id, "", "v")
    with pytest.raises(MlflowException, match="5001 characters"):
        await store.create_endpoint("e2", [], tags=[{"key": "k", "value": "v" * 5001}])
    with pytest.raises(MlflowException, match="tags must be a list"):
        await store.create_endpoint("e2", [], tags=["k=v"])
    with pytest.raises(MlflowException, match="same key more than once"):
        await store.create_endpoint("e2", [], tags=[{"key": "k"}, {"key": "k", "value": "v"}])
    with pytest.raises(MlflowException, match="does not exist"):
        await store.get_endpoint(name="e2")  # nothing half-written


@pytest.mark.parametrize("weight", [-1, math.nan, math.inf, -math.inf, "1", True])
async def test_bad_weights_are_refused_and_nothing_is_written(store, openai_definition, weight):
    config = [{"model_definition_id": openai_definition.model_definition_id, "weight": weight}]
    with pytest.raises(MlflowException, match="weight must be") as info:
        await store.create_endpoint("chat", config)
    assert _code(info) == "INVALID_PARAMETER_VALUE"
    assert await store.list_endpoints() == []
    endpoint = await store.create_endpoint("ok", [])
    with pytest.raises(MlflowException, match="weight must be"):
        await store.attach_model_to_endpoint(
            endpoint.endpoint_id, openai_definition.model_definition_id, weight
        )
    assert (await store.get_endpoint(endpoint.endpoint_id)).model_mappings == []


async def test_unknown_model_definition_rolls_back_the_endpoint(store, openai_definition):
    configs = [
        {"model_definition_id": openai_definition.model_definition_id},
        {"model_definition_id": "d-missing"},
    ]
    version = await store.config_version()
    with pytest.raises(MlflowException, match="'d-missing' does not exist") as info:
        await store.create_endpoint("chat", configs)
    assert _code(info) == "RESOURCE_DOES_NOT_EXIST"
    assert await store.list_endpoints() == []
    assert await store.config_version() == version


async def test_duplicates_and_unknown_ids(store, openai_definition):
    await store.create_endpoint("chat", [])
    with pytest.raises(MlflowException, match="'chat' already exists") as info:
        await store.create_endpoint("chat", [])
    assert _code(info) == "RESOURCE_ALREADY_EXISTS"
    with pytest.raises(MlflowException, match="already exists"):
        await store.create_model_definition("gpt", None, "openai", "x")
    with pytest.raises(MlflowException, match="already exists"):
        await store.create_secret("openai-key", {"api_key": "x"})
    for call in (
        store.get_endpoint("e-nope"),
        store.delete_endpoint("e-nope"),
        store.update_endpoint("e-nope", name="x"),
        store.set_endpoint_tag("e-nope", "k", "v"),
        store.create_endpoint_binding("e-nope", "scorer_job", "r"),
        store.attach_model_to_endpoint("e-nope", openai_definition.model_definition_id),
        store.update_model_definition("d-nope", name="x"),
        store.get_secret_info("s-nope"),
        store.delete_secret("s-nope"),
        store.create_model_definition("m2", "s-nope", "openai", "x"),
    ):
        with pytest.raises(MlflowException) as info:
            await call
        assert _code(info) == "RESOURCE_DOES_NOT_EXIST", info.value.message


async def test_invalid_provider_and_names(store):
    with pytest.raises(MlflowException, match="provider 'nope' is not supported") as info:
        await store.create_model_definition("m", None, "nope", "x")
    assert _code(info) == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException, match="Invalid endpoint name 'a/b'"):
        await store.create_endpoint("a/b", [])
    with pytest.raises(MlflowException, match="Invalid resource_type"):
        endpoint = await store.create_endpoint("e", [])
        await store.create_endpoint_binding(endpoint.endpoint_id, "notebook", "r")


async def test_model_definition_in_use_cannot_be_deleted(store, openai_definition):
    await store.create_endpoint(
        "chat", [{"model_definition_id": openai_definition.model_definition_id}]
    )
    with pytest.raises(MlflowException, match="used by endpoint.*'chat'; detach"):
        await store.delete_model_definition(openai_definition.model_definition_id)


async def test_deleting_a_secret_orphans_its_model_definitions(store, openai_definition):
    await store.delete_secret(openai_definition.secret_id)
    orphan = await store.get_model_definition(openai_definition.model_definition_id)
    assert orphan.secret_id is None and orphan.secret_name is None


async def test_writes_bump_the_config_version(store, openai_definition):
    before = await store.config_version()
    endpoint = await store.create_endpoint("chat", [])
    await store.set_endpoint_tag(endpoint.endpoint_id, "k", "v")
    assert await store.config_version() == before + 2


async def test_two_stores_on_one_file_and_reopen(db_uri, store):
    from mlflow.store.gateway.sqlalchemy_store import GatewayStore
    from tests.store.conftest import PASSPHRASE

    await store.create_endpoint("chat", [])
    other = await GatewayStore.open(db_uri, passphrase=PASSPHRASE)
    try:
        assert (await other.get_endpoint(name="chat")).name == "chat"
    finally:
        await other.aclose()
