"""How users apply the throttle: advertised limits on MlflowDeploymentClient, ``set_limit`` on
any client, and the ``mlflow.utils.throttling.throttle`` block around any http_request.

(Timing against a gateway in its own process: tests/throttle/test_client_throttle.py.)"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid

import pytest

from async_core import run_sync
from async_core.throttle import Admission, AdmissionTimeout, get_throttle
from mlflow.deployments import (
    BaseDeploymentClient,
    DatabricksDeploymentClient,
    MlflowDeploymentClient,
    get_deploy_client,
)
from mlflow.deployments._provisional import Provisional
from mlflow.exceptions import INVALID_PARAMETER_VALUE, MlflowException
from mlflow.gateway.config import Limit
from mlflow.testing import GatewayEndpoint, GatewayServer
from mlflow.utils.rest_utils import MlflowHostCreds, ahttp_request, http_request
from mlflow.utils.throttling import Throttled, combine, current_admission, throttle

CHAT = {"messages": [{"role": "user", "content": "hi"}]}
GET_CHAT = "/api/2.0/endpoints/chat"


def unique(prefix: str = "scope") -> str:
    """A throttle scope no other test shares (the registry is process-wide)."""
    return f"{prefix}-{uuid.uuid4().hex}"


def gateway(*endpoints: GatewayEndpoint) -> GatewayServer:
    return GatewayServer(
        list(endpoints)
        or [
            GatewayEndpoint(
                "chat", "llm/v1/chat", limit={"calls": 1000, "renewal_period": "second"}
            ),
            GatewayEndpoint("free", "llm/v1/chat"),
        ]
    )


@pytest.fixture
def server():
    server = gateway()
    server.start_in_thread()
    yield server
    server.stop_thread()


def settled(client, endpoint):
    """The client's admission for ``endpoint`` once its limit lookup has answered (predictions
    never wait for the lookup; until it answers they go through a provisional admission)."""
    deadline = time.monotonic() + 5
    while True:
        admission = run_sync(client._aendpoint_admission(endpoint))
        if not isinstance(admission, Provisional) or time.monotonic() > deadline:
            return admission
        time.sleep(0.01)


def parts(admission) -> list[Admission]:
    return list(admission.parts) if isinstance(admission, Throttled) else [admission]


# --- advertised limits ------------------------------------------------------------------------
def test_the_advertised_limit_is_read_once_and_shared_by_concurrent_predictions(server):
    client = get_deploy_client(server.base_url)

    async def many():
        return await asyncio.gather(
            *(client.apredict(endpoint="chat", inputs=CHAT) for _ in range(20))
        )

    assert len(run_sync(many())) == 20
    client.predict(endpoint="chat", inputs=CHAT)
    assert len(server.requests_to(GET_CHAT)) == 1  # one fetch for 21 predictions
    admission = settled(client, "chat")
    assert (admission.calls, admission.period) == (1000, 1.0)
    assert admission.scope == f"{server.base_url}/endpoints/chat"
    # Another client of the same gateway shares the same limiter.
    other = get_deploy_client(server.base_url)
    assert settled(other, "chat") is admission


def test_a_stale_limit_is_refreshed_in_the_background_and_then_applies(server):
    client = MlflowDeploymentClient(server.base_url, limit_refresh_interval=0.2)
    client.predict(endpoint="chat", inputs=CHAT)
    first = settled(client, "chat")
    server.endpoints["chat"].limit = {"calls": 500, "renewal_period": "minute"}
    time.sleep(0.3)
    # The stale limit serves this prediction at once while the refresh runs.
    assert settled(client, "chat") is first
    deadline = time.monotonic() + 5
    while len(server.requests_to(GET_CHAT)) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    refreshed = settled(client, "chat")
    assert (refreshed.calls, refreshed.period) == (500, 60.0)


def test_an_endpoint_without_a_limit_is_not_throttled(server):
    client = get_deploy_client(server.base_url)
    assert client.predict(endpoint="free", inputs=CHAT)["object"] == "chat.completion"
    assert settled(client, "free") is None
    assert run_sync(client._apredict_admission("free")) is None


def test_list_and_get_endpoint_answers_feed_the_limit_cache(server):
    client = get_deploy_client(server.base_url)
    client.list_endpoints()
    client.predict(endpoint="chat", inputs=CHAT)
    client.get_endpoint("free")
    client.predict(endpoint="free", inputs=CHAT)
    assert len(server.requests_to("/api/2.0/endpoints/*")) == 2  # the list and the get only


def test_a_failed_limit_fetch_does_not_fail_the_prediction(server, caplog):
    server.inject(500, times=1, path=GET_CHAT)
    client = get_deploy_client(server.base_url)
    with caplog.at_level(logging.DEBUG, logger="mlflow.deployments._limits"):
        assert client.predict(endpoint="chat", inputs=CHAT)["object"] == "chat.completion"
        assert settled(client, "chat") is None  # unthrottled for now
    record = next(r for r in caplog.records if r.name == "mlflow.deployments._limits")
    assert record.levelno == logging.DEBUG and "Could not read the rate limit" in record.message


def test_an_unreachable_gateway_still_gives_the_predict_error_not_a_limit_error():
    client = get_deploy_client("http://127.0.0.1:9")  # nothing listens on the discard port
    with pytest.raises(MlflowException, match="API request to"):
        client.predict(endpoint="chat", inputs=CHAT)


@pytest.mark.parametrize(
    "limit",
    [
        {"calls": 5, "renewal_period": "fortnight"},
        {"calls": 0, "renewal_period": "second"},
        {"calls": 5, "renewal_period": "0 seconds"},
    ],
)
def test_an_unusable_advertised_limit_warns_once_and_is_not_applied(limit, caplog):
    server = gateway(GatewayEndpoint("odd", "llm/v1/chat"))
    server.endpoints["odd"].limit = None  # the server itself must not enforce it
    server.start_in_thread()
    try:
        client = get_deploy_client(server.base_url)
        # What the client reads: the bad limit (the server does not enforce it).
        client._advertised_limits().note("odd", limit)
        with caplog.at_level(logging.WARNING, logger="mlflow.deployments._limits"):
            for _ in range(3):
                assert client.predict(endpoint="odd", inputs=CHAT)["object"] == "chat.completion"
                client._advertised_limits().note("odd", limit)
    finally:
        server.stop_thread()
    warnings = [r for r in caplog.records if r.name == "mlflow.deployments._limits"]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert "not throttled" in warnings[0].message and "'odd'" in warnings[0].message


def test_throttling_can_be_turned_off_by_flag_or_environment(server, monkeypatch):
    client = MlflowDeploymentClient(server.base_url, throttle=False)
    client.predict(endpoint="chat", inputs=CHAT)
    assert settled(client, "chat") is None
    monkeypatch.setenv("MLFLOW_DEPLOYMENTS_CLIENT_THROTTLE", "false")
    client = get_deploy_client(server.base_url)
    client.predict(endpoint="chat", inputs=CHAT)
    assert settled(client, "chat") is None
    assert server.requests_to(GET_CHAT) == []  # not even read
    # The flag wins over the environment.
    client = MlflowDeploymentClient(server.base_url, throttle=True)
    assert settled(client, "chat") is not None


def test_a_bad_throttle_setting_is_a_clear_error(server, monkeypatch):
    monkeypatch.setenv("MLFLOW_DEPLOYMENTS_CLIENT_THROTTLE", "sometimes")
    with pytest.raises(MlflowException, match="MLFLOW_DEPLOYMENTS_CLIENT_THROTTLE") as info:
        get_deploy_client(server.base_url).predict(endpoint="chat", inputs=CHAT)
    assert info.value.error_code == INVALID_PARAMETER_VALUE
    with pytest.raises(MlflowException, match="throttle=") as info:
        MlflowDeploymentClient(server.base_url, throttle="no")
    with pytest.raises(MlflowException, match="limit_refresh_interval") as info:
        MlflowDeploymentClient(server.base_url, limit_refresh_interval=0)


@pytest.mark.parametrize(
    ("key", "shared"),
    [(None, False), ("user", False), ("route", False), ("team-budget", True)],
)
def test_scope_is_the_endpoint_unless_the_key_names_a_shared_budget(key, shared):
    server = gateway(
        *(
            GatewayEndpoint(
                name, "llm/v1/chat", limit={"calls": 1000, "renewal_period": "second", "key": key}
            )
            for name in ("a", "b")
        )
    )
    server.start_in_thread()
    try:
        client = get_deploy_client(server.base_url)
        a = settled(client, "a")
        b = settled(client, "b")
    finally:
        server.stop_thread()
    assert (a is b) is shared
    expected = f"/limits/{key}" if shared else "/endpoints/a"
    assert a.scope == server.base_url + expected


def test_the_scope_never_holds_credentials():
    client = MlflowDeploymentClient("https://alice:s3cret@gateway.example.com:8443/base?token=t0k")
    client.set_limit("chat", Limit(calls=5, renewal_period="second"))
    admission = settled(client, "chat")
    assert admission.scope == "https://gateway.example.com:8443/base/endpoints/chat"
    assert "s3cret" not in repr(admission) and "t0k" not in repr(admission)


# --- set_limit on any client ------------------------------------------------------------------
def test_set_limit_overrides_the_advertised_limit_and_none_turns_it_off(server):
    client = get_deploy_client(server.base_url)
    client.set_limit("chat", Limit(calls=7, renewal_period="minute"))
    admission = settled(client, "chat")
    assert (admission.calls, admission.period) == (7, 60.0)
    client.set_limit("chat", None)
    assert settled(client, "chat") is None
    client.predict(endpoint="chat", inputs=CHAT)
    assert server.requests_to(GET_CHAT) == []  # an override needs no fetch
    client.clear_limit("chat")
    assert settled(client, "chat").calls == 1000  # advertised again


@pytest.mark.parametrize(
    ("endpoint", "limit", "names"),
    [
        ("chat", Limit(calls=0, renewal_period="second"), "calls=0"),
        ("chat", Limit(calls=5, renewal_period="fortnight"), "fortnight"),
        ("chat", {"calls": 5}, "period=None"),
        ("chat", "50/second", "Invalid limit '50/second'"),
        ("", Limit(calls=5, renewal_period="second"), "Invalid endpoint ''"),
        (None, Limit(calls=5, renewal_period="second"), "Invalid endpoint None"),
    ],
)
def test_set_limit_rejects_bad_input_with_a_clear_error(endpoint, limit, names):
    client = MlflowDeploymentClient("http://127.0.0.1:1")
    with pytest.raises(MlflowException) as info:
        client.set_limit(endpoint, limit)
    assert info.value.error_code == INVALID_PARAMETER_VALUE
    assert names in info.value.message


def test_set_limit_applies_to_the_openai_and_databricks_clients(
    openai_server, databricks_server, record_http
):
    for client, endpoint in (
        (get_deploy_client("openai"), "gpt-4o-mini"),
        (get_deploy_client("databricks"), "chat"),
    ):
        client.set_limit(endpoint, {"calls": 9, "renewal_period": "minute"})
        client.predict(endpoint=endpoint, inputs=CHAT)
        list(client.predict_stream(endpoint=endpoint, inputs=CHAT))
        client.list_endpoints()  # management calls are not predictions: not throttled
        sent = [c.get("_admission") for c in record_http[-3:]]
        assert [(a.calls, a.period) for a in sent[:2]] == [(9, 60.0), (9, 60.0)]
        assert sent[2] is None


def test_a_databricks_limit_paces_its_predictions(databricks_server):
    client = get_deploy_client("databricks")
    assert isinstance(client, DatabricksDeploymentClient)
    client.set_limit("chat", Limit(calls=1, renewal_period="second", key=unique()))
    for _ in range(2):
        client.predict(endpoint="chat", inputs=CHAT)
    first, second = databricks_server.requests_to("/serving-endpoints/chat/invocations")
    assert second.timestamp - first.timestamp >= 1.0


class BlockingPlugin(BaseDeploymentClient):
    """A third-party client: blocking methods only, its own transport."""

    def __init__(self, target_uri):
        super().__init__(target_uri)
        self.started: list[float] = []

    def create_deployment(self, name, model_uri, flavor=None, config=None, endpoint=None): ...
    def update_deployment(self, name, model_uri=None, flavor=None, config=None, endpoint=None): ...
    def delete_deployment(self, name, config=None, endpoint=None): ...
    def list_deployments(self, endpoint=None): ...
    def get_deployment(self, name, endpoint=None): ...

    def predict(self, deployment_name=None, inputs=None, endpoint=None):
        self.started.append(time.monotonic())
        return {"echo": inputs}


def test_a_plugin_batch_is_paced_by_set_limit():
    client = BlockingPlugin(f"fake://{unique()}")
    client.set_limit("e", Limit(calls=2, renewal_period="second"))
    results = client.predict_batch("e", list(range(5)), concurrency=5)
    assert [r.result for r in results] == [{"echo": i} for i in range(5)]
    started = sorted(client.started)
    assert started[2] - started[0] >= 1.0 and started[4] - started[2] >= 1.0


def test_set_limit_works_on_a_plugin_that_skips_our_init():
    class NoInit(BlockingPlugin):
        def __init__(self, target_uri):
            self.target_uri, self.started = target_uri, []

    client = NoInit("fake://x")
    client.set_limit("e", Limit(calls=3, renewal_period="minute"))
    assert settled(client, "e").calls == 3


# --- the throttle block -----------------------------------------------------------------------
def test_throttle_validates_its_limit_and_scope():
    with pytest.raises(MlflowException, match="scope") as info:
        throttle(Limit(calls=5, renewal_period="second"))
    assert info.value.error_code == INVALID_PARAMETER_VALUE
    with pytest.raises(MlflowException, match="fortnight"):
        throttle(Limit(calls=5, renewal_period="fortnight"), scope="x")
    with pytest.raises(MlflowException, match="Invalid limit"):
        throttle(42, scope="x")
    # The limit's key is the default scope.
    block = throttle(Limit(calls=5, renewal_period="second", key="my-key"))
    assert block.scope == "my-key" and block.admission.scope == "my-key"


def test_throttle_blocks_nest_combine_and_can_be_suspended():
    outer = throttle({"calls": 5, "renewal_period": "second"}, scope=unique())
    inner = throttle({"calls": 2, "renewal_period": "second"}, scope=unique())
    assert current_admission() is None
    with outer:
        assert current_admission() is outer.admission
        with inner:
            assert parts(current_admission()) == [outer.admission, inner.admission]
            with throttle(None):
                assert current_admission() is None
            assert parts(current_admission()) == [outer.admission, inner.admission]
        assert current_admission() is outer.admission
    assert current_admission() is None


def test_exiting_blocks_out_of_order_is_an_error():
    a = throttle({"calls": 5, "renewal_period": "second"}, scope=unique())
    b = throttle({"calls": 5, "renewal_period": "second"}, scope=unique())
    a.__enter__()
    b.__enter__()
    with pytest.raises(RuntimeError, match="out of order"):
        a.__exit__(None, None, None)
    b.__exit__(None, None, None)
    a.__exit__(None, None, None)
    assert current_admission() is None


async def test_one_block_object_can_be_entered_by_many_tasks_at_once():
    block = throttle({"calls": 100, "renewal_period": "second"}, scope=unique())
    seen = []

    async def task(delay: float):
        async with block:
            await asyncio.sleep(delay)
            seen.append(current_admission())
        assert current_admission() is None

    await asyncio.gather(task(0.02), task(0.01), task(0.0))
    assert seen == [block.admission] * 3


def test_a_block_reaches_blocking_calls_threads_and_predictions(server):
    """The runner starts blocking calls' work from the caller's context, so the block
    reaches code that runs on the background loop; asyncio.to_thread copies it too."""
    block = throttle({"calls": 50, "renewal_period": "second"}, scope=unique())

    async def seen_on_the_runner():
        return current_admission(), await asyncio.to_thread(current_admission)

    with block:
        assert run_sync(seen_on_the_runner()) == (block.admission, block.admission)
        client = get_deploy_client(server.base_url)
        settled(client, "chat")
        combined = run_sync(client._apredict_admission("chat"))
        assert [(p.calls, p.period) for p in parts(combined)] == [(1000, 1.0), (50, 1.0)]
    assert run_sync(seen_on_the_runner()) == (None, None)
    # Not another thread's: a new thread starts with an empty context.
    seen_by_thread = []
    with block:
        thread = threading.Thread(target=lambda: seen_by_thread.append(current_admission()))
        thread.start()
        thread.join(10)
    assert seen_by_thread == [None]


async def test_a_block_paces_ahttp_request():
    async with GatewayServer() as server:
        creds = MlflowHostCreds(server.base_url)
        async with throttle({"calls": 2, "renewal_period": "second"}, scope=unique()):
            for _ in range(3):
                response = await ahttp_request(creds, "/health", "GET")
                assert response.status_code == 200
        first, _, third = server.requests_to("/health")
        assert third.timestamp - first.timestamp >= 1.0


def test_a_block_paces_blocking_http_request(server):
    creds = MlflowHostCreds(server.base_url)
    with throttle({"calls": 1, "renewal_period": "second"}, scope=unique()):
        for _ in range(2):
            http_request(creds, "/health", "GET")
    first, second = server.requests_to("/health")
    assert second.timestamp - first.timestamp >= 1.0


def test_combine_flattens_skips_none_and_dedupes():
    a = get_throttle().admission(unique(), 5, 1.0)
    b = get_throttle().admission(unique(), 5, 1.0)
    assert combine() is None and combine(None, None) is None
    assert combine(None, a) is a and combine(a, a) is a
    both = combine(a, None, b)
    assert isinstance(both, Throttled) and both.parts == (a, b)
    assert combine(both, a).parts == (a, b)


async def test_a_joint_reservation_gives_back_what_it_took_when_a_part_times_out():
    free = get_throttle().admission(unique(), 5, 1.0)
    full = get_throttle().admission(unique(), 1, 60.0)
    await full.acquire()
    joint = combine(free, full)
    with pytest.raises(AdmissionTimeout):
        await joint.reserve(timeout=0.1)
    await asyncio.sleep(0.05)  # the give-back settles on the throttle's loop
    for _ in range(5):  # all 5 of `free`'s starts are still there
        await free.acquire(timeout=0)


def test_the_client_and_the_block_both_apply_to_a_prediction(server):
    client = get_deploy_client(server.base_url)
    client.set_limit("free", {"calls": 100, "renewal_period": "second"})
    with throttle({"calls": 1, "renewal_period": "second"}, scope=unique()):
        for _ in range(2):
            client.predict(endpoint="free", inputs=CHAT)
    first, second = server.requests_to("/endpoints/free/invocations")
    assert second.timestamp - first.timestamp >= 1.0


def test_the_client_does_not_spend_the_blocks_budget_on_reading_limits(server):
    client = get_deploy_client(server.base_url)
    block = throttle({"calls": 1, "renewal_period": "minute"}, scope=unique())

    def predict_in_block():
        with block:
            client.predict(endpoint="chat", inputs=CHAT)  # reads the limit, then predicts

    # Had the read taken the block's one start, the prediction would wait a minute.
    thread = threading.Thread(target=predict_in_block, daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive()
    settled(client, "chat")  # the read runs beside the prediction: let it answer
    assert len(server.requests_to(GET_CHAT)) == 1
    assert len(server.requests_to("/endpoints/chat/invocations")) == 1


def test_predictions_and_streams_go_through_the_advertised_limit(server, record_http):
    client = get_deploy_client(server.base_url)
    client.predict(endpoint="chat", inputs=CHAT)
    list(client.predict_stream(endpoint="chat", inputs=CHAT))

    async def stream():
        return [chunk async for chunk in client.apredict_stream(endpoint="chat", inputs=CHAT)]

    assert run_sync(stream())
    sent = [c["_admission"] for c in record_http]  # the limit's own read is not a prediction
    # The first went through the provisional admission (the read ran beside it), which
    # hands over to the advertised limit once it is known.
    assert len(sent) == 3 and isinstance(sent[0], Provisional)
    advertised = settled(client, "chat")
    assert (advertised.calls, advertised.scope) == (1000, f"{server.base_url}/endpoints/chat")
    assert all(s is advertised or (isinstance(s, Provisional) and s.admission is advertised)
               for s in sent)
