"""Batch prediction on every client: one result or one error per input, in input order."""

from __future__ import annotations

import asyncio
import random
import sys

import pytest
import requests

from async_core import run_sync
from mlflow.deployments import BaseDeploymentClient, BatchResult, get_deploy_client
from mlflow.exceptions import INVALID_PARAMETER_VALUE, MlflowException

CHAT = {"messages": [{"role": "user", "content": "hi"}]}


class AsyncFake(BaseDeploymentClient):
    """A client whose apredict sleeps a random while, fails on inputs containing "fail",
    and counts predictions in flight."""

    def __init__(self, target_uri="fake://batch", delay=0.01):
        super().__init__(target_uri)
        self.delay = delay
        self.in_flight = 0
        self.most_in_flight = 0
        self.cancelled = 0
        self.finished: list[int] = []

    def create_deployment(self, name, model_uri, flavor=None, config=None, endpoint=None): ...
    def update_deployment(self, name, model_uri=None, flavor=None, config=None, endpoint=None): ...
    def delete_deployment(self, name, config=None, endpoint=None): ...
    def list_deployments(self, endpoint=None): ...
    def get_deployment(self, name, endpoint=None): ...
    def predict(self, deployment_name=None, inputs=None, endpoint=None): ...

    async def apredict(self, deployment_name=None, inputs=None, endpoint=None):
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(random.uniform(0, self.delay))
            if "fail" in str(inputs):
                raise MlflowException(f"cannot predict {inputs}")
            self.finished.append(inputs)
            return {"endpoint": endpoint, "echo": inputs}
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.in_flight -= 1


def test_every_input_gets_one_result_or_one_error_in_input_order():
    client = AsyncFake()
    inputs = [f"fail-{i}" if i % 7 == 3 else i for i in range(50)]
    completed: list[int] = []
    results = client.predict_batch(
        "e", inputs, concurrency=8, on_result=lambda r: completed.append(r.index)
    )
    assert [r.index for r in results] == list(range(50))
    for i, r in enumerate(results):
        if i % 7 == 3:
            assert not r.ok and r.result is None and isinstance(r.error, MlflowException)
            assert f"fail-{i}" in r.error.message
        else:
            assert r.ok and r.error is None and r.result == {"endpoint": "e", "echo": i}
    assert sorted(completed) == list(range(50))  # on_result saw each once...
    assert completed != list(range(50))  # ...as they finished, not in input order


def test_the_concurrency_cap_holds():
    client = AsyncFake(delay=0.02)
    client.predict_batch("e", range(40), concurrency=5)
    assert client.most_in_flight == 5
    client = AsyncFake(delay=0.02)
    client.predict_batch("e", range(3), concurrency=50)
    assert client.most_in_flight == 3


async def test_apredict_batch_on_a_user_loop_reads_a_generator_lazily():
    client = AsyncFake()
    pulled: list[int] = []

    def inputs():
        for i in range(10):
            pulled.append(i)
            yield i

    results = await client.apredict_batch("e", inputs(), concurrency=2)
    assert [r.result["echo"] for r in results] == list(range(10))
    assert pulled == list(range(10))
    assert await client.apredict_batch("e", []) == []


async def test_cancelling_the_batch_cancels_every_prediction_in_flight():
    client = AsyncFake(delay=10)
    batch = asyncio.ensure_future(client.apredict_batch("e", range(100), concurrency=4))
    await asyncio.sleep(0.1)
    assert client.in_flight == 4
    batch.cancel()
    with pytest.raises(asyncio.CancelledError):
        await batch
    assert client.cancelled == 4 and client.in_flight == 0
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert not [t for t in others if "worker" in repr(t)]


async def test_an_on_result_failure_stops_the_batch_and_is_raised():
    client = AsyncFake(delay=0.05)

    def boom(result: BatchResult) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        await client.apredict_batch("e", range(20), concurrency=4, on_result=boom)
    assert client.in_flight == 0


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"concurrency": 0}, "concurrency=0"),
        ({"concurrency": True}, "concurrency=True"),
        ({"concurrency": 2.5}, "concurrency=2.5"),
        ({"progress": "yes"}, "progress='yes'"),
    ],
)
def test_bad_batch_arguments_are_clear_errors(kwargs, names):
    with pytest.raises(MlflowException) as info:
        AsyncFake().predict_batch("e", [1], **kwargs)
    assert info.value.error_code == INVALID_PARAMETER_VALUE and names in info.value.message


def test_a_progress_bar_when_asked(capsys):
    pytest.importorskip("tqdm")
    AsyncFake().predict_batch("e", range(12), progress=True)
    err = capsys.readouterr().err
    assert "12/12" in err and "predict e" in err


def test_no_progress_bar_off_a_terminal_or_without_tqdm(capsys, monkeypatch):
    AsyncFake().predict_batch("e", range(5))  # stderr is not a terminal under pytest
    assert capsys.readouterr().err == ""
    monkeypatch.setitem(sys.modules, "tqdm", None)  # as if tqdm were not installed
    assert len(AsyncFake().predict_batch("e", range(5), progress=True)) == 5
    assert capsys.readouterr().err == ""


def test_batch_result_shapes():
    ok = BatchResult(0, {"a": 1})
    assert ok.ok and ok.unwrap() == {"a": 1}
    assert ok.to_dict() == {"index": 0, "result": {"a": 1}}
    failed = BatchResult(1, error=MlflowException("bad", error_code=INVALID_PARAMETER_VALUE))
    assert not failed.ok
    with pytest.raises(MlflowException, match="bad"):
        failed.unwrap()
    assert failed.to_dict() == {
        "index": 1,
        "error": {
            "type": "MlflowException",
            "message": "bad",
            "error_code": INVALID_PARAMETER_VALUE,
        },
    }


# --- against the loopback gateway --------------------------------------------------------------
def test_a_gateway_batch_with_failing_inputs_loses_nothing(gateway_server):
    client = get_deploy_client(gateway_server.base_url)
    bad = {3, 8, 9}
    inputs = [
        {"prompt": "wrong shape"}
        if i in bad
        else {"messages": [{"role": "user", "content": str(i)}]}
        for i in range(12)
    ]
    gateway_server.inject(504, times=1, path="/endpoints/chat/invocations")  # one more failure
    results = client.predict_batch("chat", inputs, concurrency=4)
    assert [r.index for r in results] == list(range(12))
    failed = {r.index for r in results if not r.ok}
    assert bad <= failed and len(failed) == len(bad) + 1
    for r in results:
        if r.ok:
            assert r.result["choices"][0]["message"]["content"] == f"Echo: {r.index}"
        else:
            assert isinstance(r.error, requests.HTTPError)
            assert r.to_dict()["error"]["status_code"] in (422, 504)
    assert len(gateway_server.requests_to("/endpoints/chat/invocations")) == 12


async def test_apredict_batch_against_the_gateway(agateway_server):
    client = get_deploy_client(agateway_server.base_url)
    results = await client.apredict_batch("embeddings", [{"input": f"t{i}"} for i in range(6)])
    assert [r.result["object"] for r in results] == ["list"] * 6


def test_a_blocking_plugin_batches_in_worker_threads(monkeypatch):
    fake_plugin = pytest.importorskip("mlflow_test_plugin.fake_deployment_plugin")
    fake_plugin.calls.clear()
    monkeypatch.setenv("FAKETARGET_PREDICT_DELAY", "0.2")
    client = get_deploy_client("faketarget")
    results = client.predict_batch("e", [{"x": i} for i in range(4)], concurrency=4)
    assert [r.result for r in results] == ["1"] * 4
    # Side by side: one after another would have reused one worker thread.
    threads = {thread for method, thread in fake_plugin.calls if method == "predict"}
    assert len(threads) == 4


def test_predict_batch_runs_on_the_background_loop_from_blocking_code():
    client = AsyncFake()

    async def inner():
        return await client.apredict_batch("e", range(3))

    assert [r.result["echo"] for r in run_sync(inner())] == [0, 1, 2]
