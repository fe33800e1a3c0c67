"""The plugin system, with the test plugin package (target ``faketarget``, blocking methods only)
installed from tests/plugins/deploy_plugin."""

from __future__ import annotations

import asyncio
import logging
import threading
import types

import pytest

from mlflow import deployments
from mlflow.deployments import (
    BaseDeploymentClient,
    DatabricksDeploymentClient,
    MlflowDeploymentClient,
    OpenAIDeploymentClient,
    get_deploy_client,
    set_deployments_target,
)
from mlflow.deployments.interface import plugin_store, run_local
from mlflow.deployments.plugin_manager import DeploymentPlugins, PluginLoadError
from mlflow.exceptions import RESOURCE_DOES_NOT_EXIST, MlflowException

fake_plugin = pytest.importorskip("mlflow_test_plugin.fake_deployment_plugin")

F_TARGET = "faketarget"


@pytest.fixture
def client():
    return get_deploy_client(F_TARGET)


@pytest.fixture(autouse=True)
def clear_plugin_calls():
    fake_plugin.calls.clear()


# --- get_deploy_client ------------------------------------------------------------------------
def test_no_target_returns_none_and_logs(caplog):
    with caplog.at_level(logging.INFO, logger="mlflow.deployments.interface"):
        assert get_deploy_client() is None
        assert get_deploy_client(None) is None
    assert "No deployments target has been set" in caplog.text


def test_target_from_set_deployments_target_and_env(monkeypatch):
    set_deployments_target("databricks")
    assert isinstance(get_deploy_client(), DatabricksDeploymentClient)
    deployments.utils._deployments_target = None
    monkeypatch.setenv("MLFLOW_DEPLOYMENTS_TARGET", "http://127.0.0.1:1")
    client = get_deploy_client()
    assert isinstance(client, MlflowDeploymentClient)
    assert client.target_uri == "http://127.0.0.1:1"


@pytest.mark.parametrize(
    ("uri", "cls"),
    [
        ("http://localhost:5000", MlflowDeploymentClient),
        ("https://gateway.example.com", MlflowDeploymentClient),
        ("databricks", DatabricksDeploymentClient),
        ("databricks://my-profile", DatabricksDeploymentClient),
        ("openai", OpenAIDeploymentClient),
    ],
)
def test_builtin_targets(uri, cls):
    client = get_deploy_client(uri)
    assert type(client) is cls
    assert client.target_uri == uri


@pytest.mark.parametrize("uri", [F_TARGET, f"{F_TARGET}:/somesuffix", f"{F_TARGET}://somesuffix"])
def test_plugin_target_uri_forms(uri):
    client = get_deploy_client(uri)
    assert type(client).__name__ == "PluginDeploymentClient"
    assert client.target_uri == uri


def test_unknown_target_lists_installed_targets():
    with pytest.raises(
        MlflowException, match='No plugin found for managing model deployments to "wrong_target"'
    ) as info:
        get_deploy_client("wrong_target")
    assert info.value.error_code == RESOURCE_DOES_NOT_EXIST
    for target in ("databricks", F_TARGET, "http", "https", "openai"):
        assert target in info.value.message


def test_repr_hides_password():
    client = get_deploy_client("http://user:s3cret@localhost:5000")
    assert "s3cret" not in repr(client) and "user" in repr(client)


# --- plugin manager ---------------------------------------------------------------------------
def test_plugin_is_cached_by_target_name():
    plugins = DeploymentPlugins()
    first = plugins[F_TARGET]
    assert plugins.registry[F_TARGET] is first  # the entry point was replaced by the module
    assert plugins[f"{F_TARGET}:/other"] is first


def test_plugin_missing_required_interfaces():
    plugins = DeploymentPlugins()
    plugins.registry["dummy"] = object()
    with pytest.raises(MlflowException, match="Plugin registered for the target dummy") as info:
        plugins["dummy"]
    assert "Missing interfaces" in info.value.message


def _module_with(*classes) -> types.ModuleType:
    module = types.ModuleType("fake")
    module.run_local = lambda *a: None
    module.target_help = lambda: "help"
    for cls in classes:
        setattr(module, cls.__name__, cls)
    return module


def test_plugin_with_no_client_class():
    plugins = DeploymentPlugins()
    plugins.registry["empty"] = _module_with()
    with pytest.raises(MlflowException, match="has no child class of BaseDeploymentClient"):
        plugins["empty"]


def test_plugin_with_two_client_classes():
    class A(fake_plugin.PluginDeploymentClient):
        pass

    class B(fake_plugin.PluginDeploymentClient):
        pass

    plugins = DeploymentPlugins()
    plugins.registry["two"] = _module_with(A, B)
    with pytest.raises(MlflowException, match="has more than one child class") as info:
        plugins["two"]
    assert "'A'" in info.value.message and "'B'" in info.value.message


def test_plugin_that_fails_to_load():
    plugins = DeploymentPlugins()
    plugins.register("broken", "no_such_module_for_mlflow_tests")
    with pytest.raises(PluginLoadError, match='Failed to load the plugin "broken"') as info:
        plugins["broken"]
    assert isinstance(info.value, RuntimeError) and isinstance(info.value, MlflowException)
    assert "ModuleNotFoundError" in str(info.value)


def test_run_local_and_target_help(capsys):
    run_local(F_TARGET, "name", "runs:/x/model", "pyfunc", {"k": "v"})
    assert "Deployed locally at the key name" in capsys.readouterr().out
    assert plugin_store[F_TARGET].target_help() == "Target help is called"


# --- MLflow's plugin behaviours, blocking -----------------------------------------------------
def test_blocking_methods(client):
    assert client.create_deployment("fake_deployment_name", "uri", "flavor", config={}) == {
        "name": "fake_deployment_name",
        "flavor": "flavor",
    }
    assert client.create_deployment("fake_deployment_name", "uri")["flavor"] is None
    assert client.update_deployment("d", "uri", "flavor")["flavor"] == "flavor"
    assert client.delete_deployment("d") is None
    assert client.list_deployments()[0]["name"] == "fake_deployment_name"
    assert client.get_deployment("d")["key1"] == "val1"
    assert client.predict("d", {"x": 1}) == "1"
    assert client.explain(F_TARGET, "test") == "1"
    assert client.create_endpoint("e")["name"] == "fake_endpoint_name"
    assert client.update_endpoint("e") is None
    assert client.delete_endpoint("e") is None
    assert client.list_endpoints()[0]["name"] == "fake_endpoint_name"
    assert client.get_endpoint("e")["name"] == "fake_endpoint_name"
    assert list(client.predict_stream(inputs={"chunks": 2})) == [
        {"index": 0, "thread": "MainThread"},
        {"index": 1, "thread": "MainThread"},
    ]


def test_plugin_raising_error(client, monkeypatch):
    monkeypatch.setenv("raiseError", "True")
    with pytest.raises(RuntimeError, match="Error requested"):
        client.list_deployments()


# --- the thread-backed awaitable twins --------------------------------------------------------
async def test_async_twins_of_a_blocking_plugin(client):
    assert await client.acreate_deployment("d", "uri", "flavor", config={}) == {
        "name": "fake_deployment_name",
        "flavor": "flavor",
    }
    assert (await client.aupdate_deployment("d", "uri", "f"))["flavor"] == "f"
    assert await client.adelete_deployment("d") is None
    assert (await client.alist_deployments())[0]["name"] == "fake_deployment_name"
    assert (await client.aget_deployment("d"))["key2"] == "val2"
    assert await client.apredict("d", {"x": 1}) == "1"
    assert await client.aexplain("d", None) == "1"
    assert (await client.acreate_endpoint("e"))["name"] == "fake_endpoint_name"
    assert await client.aupdate_endpoint("e", {}) is None
    assert await client.adelete_endpoint("e") is None
    assert (await client.alist_endpoints())[0]["name"] == "fake_endpoint_name"
    assert (await client.aget_endpoint("e"))["name"] == "fake_endpoint_name"
    # Every blocking method ran in a worker thread, never on the loop's own thread.
    loop_thread = threading.current_thread().name
    assert len(fake_plugin.calls) == 12
    assert all(thread != loop_thread for _, thread in fake_plugin.calls)


async def test_async_twin_propagates_plugin_errors(client, monkeypatch):
    monkeypatch.setenv("raiseError", "True")
    with pytest.raises(RuntimeError, match="Error requested"):
        await client.alist_deployments()


async def test_apredict_stream_of_a_blocking_plugin(client):
    chunks = [c async for c in client.apredict_stream(None, {"chunks": 3})]
    assert [c["index"] for c in chunks] == [0, 1, 2]
    assert all(c["thread"] != threading.current_thread().name for c in chunks)


async def test_apredict_stream_closed_early_closes_the_blocking_generator(client):
    stream = client.apredict_stream(None, {"chunks": 100})
    assert (await stream.__anext__())["index"] == 0
    await stream.aclose()
    assert [name for name, _ in fake_plugin.calls] == ["predict_stream"]


async def test_thread_backed_twin_does_not_block_the_loop(client, monkeypatch):
    monkeypatch.setenv("FAKETARGET_PREDICT_DELAY", "0.3")
    ticks = 0
    predict = asyncio.create_task(client.apredict("d", {}))
    while not predict.done():
        ticks += 1
        await asyncio.sleep(0.01)
    assert await predict == "1"
    assert ticks > 1  # the loop kept running other work while predict blocked its thread


# --- a plugin that implements only awaitable twins --------------------------------------------
class AsyncOnlyClient(BaseDeploymentClient):
    create_deployment = update_deployment = delete_deployment = None
    list_deployments = get_deployment = predict = None

    async def alist_endpoints(self):
        return [{"name": "async", "loop": threading.current_thread().name}]

    async def aget_endpoint(self, endpoint):
        return {"name": endpoint}

    async def apredict_stream(self, deployment_name=None, inputs=None, endpoint=None):
        for i in range(2):
            yield {"i": i}


def test_blocking_methods_run_async_only_twins_on_the_background_loop():
    client = AsyncOnlyClient("asynconly")
    endpoints = client.list_endpoints()
    assert endpoints[0]["name"] == "async"
    assert endpoints[0]["loop"] != threading.current_thread().name
    assert client.get_endpoint("x") == {"name": "x"}
    assert list(client.predict_stream()) == [{"i": 0}, {"i": 1}]
    with pytest.raises(MlflowException, match="Method is unimplemented in base client"):
        client.delete_endpoint("x")
    with pytest.raises(MlflowException, match="model explanations is not yet supported"):
        client.explain()
