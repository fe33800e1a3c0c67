"""The advertised-limit lookup (GET /api/2.0/endpoints/<name>) runs beside the first prediction,
never in front of it, and never at all when the client would not use the limit.

A loopback gateway records every request and holds the lookup open until the test releases it,
so "the prediction did not wait for the lookup" is an ordering fact, not a timing."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from aiohttp import web

from async_core import run_sync
from async_core.throttle import AdmissionTimeout, get_throttle
from mlflow.deployments import MlflowDeploymentClient, _provisional, get_deploy_client
from mlflow.gateway.config import Limit
from tests.limits.redis_server import RedisServer

from .helpers import max_in_any_window

CHAT = {"messages": [{"role": "user", "content": "hi"}]}
REPLY = {"object": "chat.completion", "choices": [{"message": {"content": "ok"}}]}
POST_PATH = "/endpoints/chat/invocations"
JITTER = 0.1  # the server stamps arrivals when it handles them (see test_client_throttle.py)


class HeldLookupGateway:
    """A gateway on its own thread whose ``chat`` endpoint advertises ``limit``. Each lookup is
    held open until :meth:`release` (or 10 s, so a failing test cannot hang); every request is
    recorded as ``(method, path, time.monotonic())``, and each lookup's answer time too."""

    def __init__(self, limit: dict | None) -> None:
        self.limit = limit
        self.requests: list[tuple[str, str, float]] = []
        self.lookups_answered: list[float] = []
        self._released = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = threading.Event()

    def release(self) -> None:
        self._released.set()

    def posts(self) -> list[float]:
        return [at for method, path, at in self.requests if method == "POST"]

    def gets(self) -> list[float]:
        return [at for method, path, at in self.requests if method == "GET"]

    async def _get(self, request: web.Request) -> web.Response:
        self.requests.append(("GET", request.path, time.monotonic()))
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._released.wait, 10)
        self.lookups_answered.append(time.monotonic())
        return web.json_response(
            {"name": "chat", "endpoint_type": "llm/v1/chat",
             "model": {"name": "m", "provider": "openai"},
             "endpoint_url": "/gateway/chat/invocations", "limit": self.limit}
        )

    async def _post(self, request: web.Request) -> web.Response:
        self.requests.append(("POST", request.path, time.monotonic()))
        return web.json_response(REPLY)

    def __enter__(self) -> HeldLookupGateway:
        def run() -> None:
            loop = self._loop = asyncio.new_event_loop()
            app = web.Application()
            app.router.add_get("/api/2.0/endpoints/chat", self._get)
            app.router.add_post(POST_PATH, self._post)
            self._runner = web.AppRunner(app, shutdown_timeout=0.1)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
            self._started.set()
            loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        assert self._started.wait(10)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()
        loop = self._loop
        assert loop is not None
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(10)


def wait_for(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


def settled(client):
    """The client's admission for ``chat`` once its lookup has answered."""
    assert wait_for(
        lambda: not isinstance(
            run_sync(client._aendpoint_admission("chat")), _provisional.Provisional
        )
    )
    return run_sync(client._aendpoint_admission("chat"))


@pytest.fixture(autouse=True)
def throttling_on(monkeypatch):
    monkeypatch.delenv("MLFLOW_DEPLOYMENTS_CLIENT_THROTTLE", raising=False)


@pytest.mark.timeout(30)
def test_the_first_prediction_goes_out_while_the_lookup_is_held_open(monkeypatch):
    # However long others may wait for the lookup, the first prediction does not wait at all.
    monkeypatch.setattr(_provisional, "LOOKUP_WAIT", 20.0)
    with HeldLookupGateway({"calls": 50, "renewal_period": "second"}) as gateway:
        client = get_deploy_client(gateway.url)
        assert client.predict(endpoint="chat", inputs=CHAT) == REPLY
        # The prediction is answered while the lookup is still unanswered.
        assert gateway.lookups_answered == []
        assert len(gateway.posts()) == 1
        assert wait_for(lambda: len(gateway.gets()) == 1)  # the lookup was sent, beside it
        gateway.release()
        assert wait_for(lambda: len(gateway.lookups_answered) == 1)
        assert gateway.posts()[0] < gateway.lookups_answered[0]


@pytest.fixture(scope="module")
def redis_uri() -> Iterator[str]:
    server = RedisServer()
    yield server.uri()
    server.close()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("store", ["memory", "redis"])
def test_a_burst_before_the_limit_is_known_sends_one_request_and_counts_it(
    store, monkeypatch, request
):
    """calls=2 per second: one request goes at once; the other five wait for the lookup, and
    the early one takes one of the first window's two places (had it not been counted, two
    more would have gone with it: three in one second). With the window in Redis, no request
    goes before the lookup answers."""
    monkeypatch.setattr(_provisional, "LOOKUP_WAIT", 20.0)  # wait for the release, whatever
    if store == "redis":
        uri = request.getfixturevalue("redis_uri")
        monkeypatch.setenv("MLFLOW_DEPLOYMENTS_THROTTLE_STORAGE_URI", uri)
    n = 6
    with HeldLookupGateway({"calls": 2, "renewal_period": "second"}) as gateway:
        client = get_deploy_client(gateway.url)
        replies: list = []

        async def burst() -> None:
            replies.extend(
                await asyncio.gather(
                    *(client.apredict(endpoint="chat", inputs=CHAT) for _ in range(n))
                )
            )

        caller = threading.Thread(target=lambda: asyncio.run(burst()), daemon=True)
        caller.start()
        # With the window in Redis, other processes could not know of an early start: none.
        early = 0 if store == "redis" else 1
        assert wait_for(lambda: len(gateway.posts()) >= early and len(gateway.gets()) >= 1)
        time.sleep(0.3)  # a chance for a wrong further request to show up
        assert len(gateway.posts()) == early and gateway.lookups_answered == []
        gateway.release()
        caller.join(30)
        assert replies == [REPLY] * n
        arrivals = gateway.posts()
        assert len(arrivals) == n
        assert max_in_any_window(arrivals, 1.0 - JITTER) <= 2
        assert len(gateway.gets()) == 1  # one lookup, shared
        admission = settled(client)
        assert type(admission).__name__ == ("LoopLocal" if store == "redis" else "Admission")


@pytest.mark.timeout(30)
def test_callers_give_up_waiting_for_a_slow_lookup_and_are_counted_later(monkeypatch):
    monkeypatch.setattr(_provisional, "LOOKUP_WAIT", 0.2)
    with HeldLookupGateway({"calls": 3, "renewal_period": "minute"}) as gateway:
        client = get_deploy_client(gateway.url)
        for _ in range(3):  # the lookup is held: the 2nd and 3rd wait 0.2 s each, then go
            assert client.predict(endpoint="chat", inputs=CHAT) == REPLY
        assert gateway.lookups_answered == [] and len(gateway.posts()) == 3
        gateway.release()
        admission = settled(client)
        assert (admission.calls, admission.period) == (3, 60.0)
        # The three early starts fill the minute's window: a fourth would have to wait.
        with pytest.raises(AdmissionTimeout):
            run_sync(admission.acquire(timeout=0.2))


@pytest.mark.timeout(30)
def test_no_lookup_at_all_with_set_limit_or_throttling_off(monkeypatch):
    with HeldLookupGateway({"calls": 50, "renewal_period": "second"}) as gateway:
        mine = get_deploy_client(gateway.url)
        mine.set_limit("chat", Limit(calls=100, renewal_period="second"))
        off = MlflowDeploymentClient(gateway.url, throttle=False)

        async def bursts() -> None:
            await asyncio.gather(
                *(c.apredict(endpoint="chat", inputs=CHAT) for c in (mine, off) for _ in range(5))
            )

        asyncio.run(bursts())
        monkeypatch.setenv("MLFLOW_DEPLOYMENTS_CLIENT_THROTTLE", "false")
        for _ in range(3):
            get_deploy_client(gateway.url).predict(endpoint="chat", inputs=CHAT)
        # MLflow sends only the predictions; so do we whenever the limit would not be used.
        assert len(gateway.posts()) == 13
        assert gateway.gets() == []


@pytest.mark.timeout(30)
def test_a_new_client_uses_the_limit_another_client_learned_at_once():
    with HeldLookupGateway({"calls": 50, "renewal_period": "second"}) as gateway:
        gateway.release()
        first = get_deploy_client(gateway.url)
        first.predict(endpoint="chat", inputs=CHAT)
        known = settled(first)
        gateway._released.clear()  # the new client's own lookup is held
        second = get_deploy_client(gateway.url)
        assert run_sync(second._aendpoint_admission("chat")) is known
        assert second.predict(endpoint="chat", inputs=CHAT) == REPLY
        gateway.release()


# --- the provisional admission on its own ------------------------------------------------------
def _admission(calls: int, period: float = 60.0):
    return get_throttle().admission(f"provisional-{uuid.uuid4().hex}", calls, period)


async def _promoted(pending: _provisional.Provisional, admission) -> None:
    pending.promote(admission)
    await asyncio.wait_for(asyncio.wrap_future(pending._ready), 5)


def test_an_early_start_fills_its_place_in_the_window():
    pending = _provisional.Provisional(f"k-{uuid.uuid4().hex}")
    admission = _admission(1)

    async def go() -> None:
        early = await pending.reserve(None)
        early.started()
        early.release()
        await _promoted(pending, admission)
        with pytest.raises(AdmissionTimeout):  # calls=1: the early start is the minute's one
            await pending.reserve(0.1)

    run_sync(go())


def test_an_early_request_that_never_went_out_is_not_counted():
    pending = _provisional.Provisional(f"k-{uuid.uuid4().hex}")
    admission = _admission(1)

    async def go() -> None:
        early = await pending.reserve(None)
        early.release()  # failed before sending (e.g. connection refused)
        await _promoted(pending, admission)
        slot = await pending.reserve(0.5)
        slot.started()
        slot.release()

    run_sync(go())


def test_an_early_request_still_connecting_is_pending_in_the_window_until_sent():
    pending = _provisional.Provisional(f"k-{uuid.uuid4().hex}")
    admission = _admission(1)

    async def go() -> None:
        early = await pending.reserve(None)  # not sent yet when the limit arrives
        await _promoted(pending, admission)
        await asyncio.sleep(0.05)  # the carried slot is granted on the owner loop
        with pytest.raises(AdmissionTimeout):
            await pending.reserve(0.1)
        early.release()  # never sent: its place is given back
        slot = await pending.reserve(0.5)
        slot.release()

    run_sync(go())


def test_a_429_before_the_limit_is_known_pauses_the_limit_once_known():
    pending = _provisional.Provisional(f"k-{uuid.uuid4().hex}")
    admission = _admission(100, 1.0)

    async def go() -> float:
        early = await pending.reserve(None)
        early.started()
        early.release()
        pending.pause(0.5)  # the early request got 429 with Retry-After
        await _promoted(pending, admission)
        began = time.monotonic()
        slot = await pending.reserve(5)
        slot.release()
        return time.monotonic() - began

    assert run_sync(go()) >= 0.3


def test_no_limit_means_no_wait_and_no_count():
    pending = _provisional.Provisional(f"k-{uuid.uuid4().hex}")

    async def go() -> None:
        (await pending.reserve(None)).release()
        await _promoted(pending, None)
        for _ in range(3):
            slot = await pending.reserve(0)
            slot.started()
            slot.release()

    run_sync(go())
    assert pending.known and pending.admission is None
