"""The loop runner behind every blocking call."""

from __future__ import annotations

import asyncio
import gc
import threading
import warnings

import pytest

from async_core import (
    BlockingCallInRunnerThread,
    LoopRunner,
    get_runner,
    get_session_pool,
    iter_sync,
    run_sync,
)


@pytest.fixture
def runner():
    runner = LoopRunner()
    yield runner
    runner.close()


async def whoami() -> str:
    await asyncio.sleep(0)
    return threading.current_thread().name


def test_run_returns_the_result_from_the_background_thread(runner):
    assert runner.run(whoami()) == "async-core-runner"
    assert runner.run(whoami()) == "async-core-runner"
    assert not runner.in_runner_thread()


def test_run_reraises_the_coroutines_exception(runner):
    class Boom(Exception):
        pass

    async def fail():
        raise Boom("inside")

    with pytest.raises(Boom, match="inside"):
        runner.run(fail())
    assert runner.run(whoami()) == "async-core-runner"  # still usable


async def test_run_sync_works_while_this_thread_runs_a_loop():
    # Jupyter / async web handler situation: a loop is already running here.
    assert asyncio.get_running_loop().is_running()
    assert run_sync(whoami()) == "async-core-runner"


def test_blocking_call_on_the_runner_thread_raises_instead_of_deadlocking(runner):
    async def inner():
        return 1

    async def outer():
        return runner.run(inner())  # a blocking call made on the runner's own loop

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(BlockingCallInRunnerThread) as info:
            runner.run(outer())
        gc.collect()
    message = str(info.value)
    assert "deadlock" in message and "await" in message
    assert isinstance(info.value, RuntimeError)
    # The refused coroutine was closed, not leaked ("coroutine ... was never awaited").
    assert not [w for w in caught if "never awaited" in str(w.message)]


def test_shared_runner_refuses_http_request_on_its_own_thread(recording_server):
    from mlflow.utils.rest_utils import MlflowHostCreds, http_request

    async def misuse():
        return http_request(MlflowHostCreds(recording_server.url), "/x", "GET")

    with pytest.raises(BlockingCallInRunnerThread):
        run_sync(misuse())
    assert recording_server.attempts == []
    # The shared runner is still healthy afterwards.
    assert http_request(MlflowHostCreds(recording_server.url), "/y", "GET").status_code == 200


def test_get_runner_is_a_singleton():
    assert get_runner() is get_runner()


def test_iter_sync_steps_through_an_async_generator_and_closes_it_early():
    closed = threading.Event()

    async def numbers():
        try:
            for i in range(100):
                await asyncio.sleep(0)
                yield i
        finally:
            closed.set()

    got = []
    for value in iter_sync(numbers()):
        got.append(value)
        if value == 3:
            break
    assert got == [0, 1, 2, 3]
    assert closed.is_set()
    assert list(iter_sync(numbers())) == list(range(100))


def test_close_shuts_the_loop_and_closes_its_sessions():
    runner = LoopRunner()

    async def session():
        return get_session_pool().get()

    pooled = runner.run(session())
    loop = runner.loop
    assert not pooled.closed
    runner.close()
    assert pooled.closed
    assert loop.is_closed()
    # A closed runner restarts lazily on next use.
    assert runner.run(whoami()) == "async-core-runner"
    runner.close()


def test_concurrent_blocking_callers_share_the_runner(runner):
    results: list[str] = []
    errors: list[BaseException] = []

    async def slow(i):
        await asyncio.sleep(0.01)
        return f"{i}:{threading.current_thread().name}"

    def worker(i):
        try:
            for _ in range(20):
                results.append(runner.run(slow(i)))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert len(results) == 160
    assert {r.split(":")[1] for r in results} == {"async-core-runner"}
