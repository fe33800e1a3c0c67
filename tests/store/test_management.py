"""The management REST API (MLflow's /api/3.0/mlflow/gateway/... routes and JSON shapes) and its
client, blocking and awaitable, against a real server on a SQLite file."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer

from mlflow.exceptions import RestException
from mlflow.gateway.db_client import GatewayStoreClient
from mlflow.gateway.server.app import create_app
from mlflow.gateway.server.options import ServerOptions
from mlflow.testing.openai_server import OpenAIServer
from tests.store.conftest import serve_in_thread

API = "/api/3.0/mlflow/gateway"
KEY = "sk-management-test-key-0123456789"


@pytest.fixture
async def api(store, db_uri, passphrase_env):
    app = create_app(ServerOptions(backend_store_uri=db_uri, retry_budget_seconds=0))
    async with TestClient(TestServer(app)) as client:
        yield client


async def _ok(response):
    assert response.status == 200, await response.text()
    return await response.json()


async def test_crud_over_rest(api):
    secret = (
        await _ok(
            await api.post(
                f"{API}/secrets/create",
                json={
                    "secret_name": "openai",
                    "secret_value": {"api_key": KEY},
                    "provider": "openai",
                    "auth_config": {"api_base": "http://127.0.0.1:9/v1"},
                },
            )
        )
    )["secret"]
    assert secret["masked_values"] == {"api_key": "sk-...6789"}
    assert secret["auth_config"] == {"api_base": "http://127.0.0.1:9/v1"}
    definition = (
        await _ok(
            await api.post(
                f"{API}/model-definitions/create",
                json={
                    "name": "gpt",
                    "secret_id": secret["secret_id"],
                    "provider": "openai",
                    "model_name": "gpt-4o-mini",
                },
            )
        )
    )["model_definition"]
    assert definition["secret_name"] == "openai"
    endpoint = (
        await _ok(
            await api.post(
                f"{API}/endpoints/create",
                json={
                    "name": "chat",
                    "created_by": "alice",
                    "model_configs": [
                        {
                            "model_definition_id": definition["model_definition_id"],
                            "weight": 2.5,
                            "linkage_type": "PRIMARY",
                        }
                    ],
                },
            )
        )
    )["endpoint"]
    assert endpoint["model_mappings"][0]["weight"] == 2.5
    assert endpoint["model_mappings"][0]["model_definition"]["model_name"] == "gpt-4o-mini"
    endpoint_id = endpoint["endpoint_id"]

    got = await _ok(await api.get(f"{API}/endpoints/get", params={"name": "chat"}))
    assert got["endpoint"] == endpoint
    mapping_id = endpoint["model_mappings"][0]["mapping_id"]
    mapping = await _ok(
        await api.patch(
            f"{API}/endpoints/models/update", json={"mapping_id": mapping_id, "weight": 0.5}
        )
    )
    assert mapping["mapping"]["weight"] == 0.5
    await _ok(
        await api.post(
            f"{API}/endpoints/set-tag",
            json={"endpoint_id": endpoint_id, "key": "team", "value": "ml"},
        )
    )
    await _ok(
        await api.post(
            f"{API}/endpoints/bindings/create",
            json={
                "endpoint_id": endpoint_id,
                "resource_type": "scorer_job",
                "resource_id": "job-7",
            },
        )
    )
    bindings = await _ok(
        await api.get(f"{API}/endpoints/bindings/list", params={"endpoint_id": endpoint_id})
    )
    assert [b["resource_id"] for b in bindings["bindings"]] == ["job-7"]
    renamed = await _ok(
        await api.patch(
            f"{API}/endpoints/update", json={"endpoint_id": endpoint_id, "name": "chat2"}
        )
    )
    assert renamed["endpoint"]["name"] == "chat2"
    assert renamed["endpoint"]["tags"] == [{"key": "team", "value": "ml"}]
    listed = await _ok(await api.get(f"{API}/endpoints/list", params={"provider": "openai"}))
    assert [e["name"] for e in listed["endpoints"]] == ["chat2"]

    await _ok(
        await api.post(
            f"{API}/endpoints/models/detach",
            json={
                "endpoint_id": endpoint_id,
                "model_definition_id": definition["model_definition_id"],
            },
        )
    )
    await _ok(
        await api.delete(
            f"{API}/endpoints/delete-tag", json={"endpoint_id": endpoint_id, "key": "team"}
        )
    )
    await _ok(await api.delete(f"{API}/endpoints/delete", json={"endpoint_id": endpoint_id}))
    await _ok(
        await api.delete(
            f"{API}/model-definitions/delete",
            json={"model_definition_id": definition["model_definition_id"]},
        )
    )
    secrets = await _ok(await api.get(f"{API}/secrets/list"))
    assert [s["secret_name"] for s in secrets["secrets"]] == ["openai"]
    await _ok(await api.delete(f"{API}/secrets/delete", params={"secret_id": secret["secret_id"]}))
    assert (await _ok(await api.get(f"{API}/secrets/list")))["secrets"] == []


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code", "message"),
    [
        (
            "get",
            "/endpoints/get",
            {"endpoint_id": "e-nope"},
            404,
            "RESOURCE_DOES_NOT_EXIST",
            "Endpoint 'e-nope' does not exist",
        ),
        (
            "post",
            "/endpoints/create",
            {"name": "x", "model_configs": [{"model_definition_id": "d-1", "weight": -1}]},
            400,
            "INVALID_PARAMETER_VALUE",
            "weight must be a finite number >= 0",
        ),
        (
            "post",
            "/model-definitions/create",
            {"name": "m", "provider": "nope", "model_name": "x"},
            400,
            "INVALID_PARAMETER_VALUE",
            "The provider 'nope' is not supported",
        ),
        (
            "post",
            "/secrets/create",
            {"secret_name": "s", "secret_value": "sk-plain"},
            400,
            "INVALID_PARAMETER_VALUE",
            "secret_value must be a non-empty JSON object",
        ),
        (
            "post",
            "/endpoints/set-tag",
            {"endpoint_id": "e-nope", "key": "k" * 251},
            400,
            "INVALID_PARAMETER_VALUE",
            "251 characters; the limit is 250",
        ),
        (
            "delete",
            "/endpoints/delete",
            {},
            400,
            "INVALID_PARAMETER_VALUE",
            "Missing value for required parameter 'endpoint_id'",
        ),
    ],
)
async def test_errors_use_mlflows_rest_shape(api, method, path, body, status, code, message):
    response = await getattr(api, method)(
        API + path, **({"params": body} if method == "get" else {"json": body})
    )
    assert response.status == status
    error = await response.json()
    assert error["error_code"] == code and message in error["message"]


async def test_duplicate_names_are_already_exists(api):
    body = {"name": "chat", "model_configs": []}
    await _ok(await api.post(f"{API}/endpoints/create", json=body))
    response = await api.post(f"{API}/endpoints/create", json=body)
    assert response.status == 400
    assert (await response.json())["error_code"] == "RESOURCE_ALREADY_EXISTS"


async def test_a_write_takes_effect_on_the_serving_routes_at_once(api, store):
    async with OpenAIServer(api_key=KEY) as first, OpenAIServer(api_key=KEY) as second:
        ids = []
        for name, fake in (("first", first), ("second", second)):
            secret = (
                await _ok(
                    await api.post(
                        f"{API}/secrets/create",
                        json={
                            "secret_name": name,
                            "secret_value": {"api_key": KEY},
                            "auth_config": {"api_base": fake.api_base},
                        },
                    )
                )
            )["secret"]
            ids.append(
                (
                    await _ok(
                        await api.post(
                            f"{API}/model-definitions/create",
                            json={
                                "name": name,
                                "secret_id": secret["secret_id"],
                                "provider": "openai",
                                "model_name": "gpt-4o-mini",
                            },
                        )
                    )
                )["model_definition"]["model_definition_id"]
            )
        endpoint = (
            await _ok(
                await api.post(
                    f"{API}/endpoints/create",
                    json={"name": "chat", "model_configs": [{"model_definition_id": ids[0]}]},
                )
            )
        )["endpoint"]
        chat = {"messages": [{"role": "user", "content": "hi"}]}
        await _ok(await api.post("/gateway/chat/mlflow/invocations", json=chat))
        await _ok(
            await api.patch(
                f"{API}/endpoints/update",
                json={
                    "endpoint_id": endpoint["endpoint_id"],
                    "model_configs": [{"model_definition_id": ids[1]}],
                },
            )
        )
        await _ok(await api.post("/gateway/chat/mlflow/invocations", json=chat))
        assert len(first.requests_to("/v1/chat/completions")) == 1
        assert len(second.requests_to("/v1/chat/completions")) == 1
        # The secret never shows in any management answer.
        for path in ("/secrets/list", "/endpoints/list", "/model-definitions/list"):
            assert KEY not in await (await api.get(API + path)).text()


def test_client_blocking_and_awaitable(store, db_uri, passphrase_env):
    import asyncio

    options = ServerOptions(backend_store_uri=db_uri, retry_budget_seconds=0)
    with serve_in_thread(lambda: create_app(options)) as url:
        client = GatewayStoreClient(url)
        assert "127.0.0.1" in repr(client)
        secret = client.create_secret("k", {"api_key": KEY}, "openai")
        assert KEY not in repr(secret) and secret.masked_values["api_key"] == "sk-...6789"
        definition = client.create_model_definition("gpt", secret.secret_id, "openai", "gpt-4o")
        endpoint = client.create_gateway_endpoint(
            "chat", [{"model_definition_id": definition.model_definition_id, "weight": 2}]
        )
        assert endpoint.model_mappings[0].model_definition == definition

        async def twins():
            got = await client.aget_gateway_endpoint(name="chat")
            assert got == endpoint
            mapping = await client.aupdate_endpoint_model_mapping(
                got.model_mappings[0].mapping_id, 0.25
            )
            assert mapping.weight == 0.25
            await client.aset_gateway_endpoint_tag(got.endpoint_id, "k", "v")
            binding = await client.acreate_endpoint_binding(got.endpoint_id, "scorer_job", "j1")
            assert binding.resource_id == "j1"
            return await client.alist_gateway_endpoints()

        listed = asyncio.run(twins())
        assert [t.key for t in listed[0].tags] == ["k"]
        assert [b.resource_id for b in client.list_endpoint_bindings(endpoint.endpoint_id)] == [
            "j1"
        ]
        with pytest.raises(RestException, match="RESOURCE_ALREADY_EXISTS") as info:
            client.create_gateway_endpoint("chat", [])
        assert info.value.error_code == "RESOURCE_ALREADY_EXISTS"
        with pytest.raises(RestException) as info:
            client.get_model_definition("d-nope")
        assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST"
        client.delete_gateway_endpoint(endpoint.endpoint_id)
        assert client.list_gateway_endpoints() == []

        # The MLflow deployments client carries the same methods.
        from mlflow.deployments import get_deploy_client

        deploy = get_deploy_client(url)
        created = deploy.create_gateway_endpoint("via-deploy-client", [])
        assert asyncio.run(deploy.aget_gateway_endpoint(created.endpoint_id)).name == (
            "via-deploy-client"
        )
