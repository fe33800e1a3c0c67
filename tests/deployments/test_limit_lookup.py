"""Issue 12 items 3-5 and issue 13 on the client side of rate limits: a gateway that advertises
a garbage limit never breaks get_endpoint/list_endpoints (limit=None, one warning), the hidden
limit lookup is bounded, and set_limit refuses non-finite or absurd values."""

from __future__ import annotations

import asyncio
import json
import logging
import threading

import pytest
from aiohttp import web

from async_core import run_sync
from async_core.runner import close_loop
from mlflow.deployments import MlflowDeploymentClient, _provisional, get_deploy_client
from mlflow.exceptions import INVALID_PARAMETER_VALUE, MlflowException

CHAT = {"messages": [{"role": "user", "content": "hi"}]}
REPLY = {"object": "chat.completion", "choices": [{"message": {"content": "ok"}}]}


class OddGateway:
    """A loopback gateway on its own thread whose one endpoint advertises ``limit`` verbatim;
    ``lookup_delay`` holds GET /api/2.0/endpoints/odd; every request is recorded."""

    def __init__(self, limit, lookup_delay: float = 0.0) -> None:
        self.limit = limit
        self.lookup_delay = lookup_delay
        self.requests: list[tuple[str, str]] = []
        self._started = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def _endpoint(self) -> dict:
        return {"name": "odd", "endpoint_type": "llm/v1/chat",
                "model": {"name": "m", "provider": "openai"},
                "endpoint_url": "/gateway/odd/invocations", "limit": self.limit}

    async def _get(self, request: web.Request) -> web.Response:
        self.requests.append(("GET", request.path))
        if self.lookup_delay:
            await asyncio.sleep(self.lookup_delay)
        return web.json_response(self._endpoint())

    async def _list(self, request: web.Request) -> web.Response:
        self.requests.append(("GET", request.path))
        return web.json_response({"endpoints": [self._endpoint()]})

    async def _post(self, request: web.Request) -> web.Response:
        self.requests.append(("POST", request.path))
        return web.json_response(REPLY)

    def __enter__(self) -> str:
        def run() -> None:
            loop = self._loop = asyncio.new_event_loop()
            app = web.Application()
            app.router.add_get("/api/2.0/endpoints/", self._list)
            app.router.add_get("/api/2.0/endpoints/odd", self._get)
            app.router.add_post("/endpoints/odd/invocations", self._post)
            self._runner = web.AppRunner(app, shutdown_timeout=0.1)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]
            self._started.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            close_loop(loop)

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        assert self._started.wait(10)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


GARBAGE = [
    {"calls": "fifty", "renewal_period": "minute"},
    {"calls": None, "renewal_period": "minute"},
    {"calls": 2.5, "renewal_period": "minute"},
    {"calls": 5, "renewal_period": 1e308},
    {"calls": 5, "renewal_period": None},
    {"calls": 5, "renewal_period": "minute", "key": 7},
    "fifty per minute",
    [1, 2],
]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("limit", GARBAGE, ids=[json.dumps(g)[:30] for g in GARBAGE])
def test_a_garbage_advertised_limit_gives_limit_none_and_one_warning(limit, caplog):
    with OddGateway(limit) as url, caplog.at_level(logging.WARNING):
        client = get_deploy_client(url)
        for _ in range(2):
            assert client.get_endpoint("odd").limit is None
            assert [e.limit for e in client.list_endpoints()] == [None]
        assert client.predict(endpoint="odd", inputs=CHAT) == REPLY
        assert client.predict(endpoint="odd", inputs=CHAT) == REPLY
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    message = warnings[0].getMessage()
    assert "'odd'" in message and "limit=None" in message and len(message) < 400


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "period", ["999999999999 days", "100000 days", "fortnight", "0 seconds"]
)
def test_an_unusable_period_is_reported_but_never_reaches_the_throttle(period, caplog):
    with OddGateway({"calls": 5, "renewal_period": period}) as url:
        client = get_deploy_client(url)
        with caplog.at_level(logging.WARNING, logger="mlflow.deployments._limits"):
            for _ in range(3):
                assert client.predict(endpoint="odd", inputs=CHAT) == REPLY
        assert client.get_endpoint("odd").limit.renewal_period == period  # shown as reported
        assert run_sync(client._aendpoint_admission("odd")) is None
    assert len([r for r in caplog.records if r.name == "mlflow.deployments._limits"]) == 1


@pytest.mark.timeout(30)
def test_the_limit_lookup_is_bounded_and_never_outlasts_the_prediction(monkeypatch):
    monkeypatch.setattr(_provisional, "LOOKUP_WAIT", 0.3)
    with OddGateway({"calls": 5, "renewal_period": "minute"}, lookup_delay=8) as gateway_url:
        client = get_deploy_client(gateway_url)
        # The lookup hangs for 8 s; the first prediction does not wait for it at all, the
        # second waits at most 0.3 s, then goes (counted once the limit is known).
        done = threading.Event()
        threading.Thread(
            target=lambda: (
                client.predict(endpoint="odd", inputs=CHAT),
                client.predict(endpoint="odd", inputs=CHAT),
                done.set(),
            ),
            daemon=True,
        ).start()
        assert done.wait(6), "a prediction waited for the whole lookup"
        admission = run_sync(client._aendpoint_admission("odd"))
        assert isinstance(admission, _provisional.Provisional) and not admission.known


@pytest.mark.timeout(30)
def test_no_lookup_when_the_user_set_a_limit_or_turned_throttling_off(monkeypatch):
    gateway = OddGateway({"calls": 500, "renewal_period": "minute"})
    with gateway as url:
        client = get_deploy_client(url)
        client.set_limit("odd", {"calls": 100, "renewal_period": "second"})
        client.predict(endpoint="odd", inputs=CHAT)
        MlflowDeploymentClient(url, throttle=False).predict(endpoint="odd", inputs=CHAT)
        monkeypatch.setenv("MLFLOW_DEPLOYMENTS_CLIENT_THROTTLE", "false")
        get_deploy_client(url).predict(endpoint="odd", inputs=CHAT)
    # MLflow sends only the POST; so do we whenever the advertised limit would not be used.
    assert gateway.requests == [("POST", "/endpoints/odd/invocations")] * 3


@pytest.mark.parametrize(
    ("limit", "named"),
    [
        ({"calls": float("inf"), "renewal_period": "second"}, "calls=inf"),
        ({"calls": float("nan"), "renewal_period": "second"}, "calls=nan"),
        ({"calls": 5, "renewal_period": float("inf")}, "renewal_period=inf"),
        ({"calls": 5, "renewal_period": float("nan")}, "renewal_period=nan"),
        ({"calls": 5, "renewal_period": 1e308}, "renewal_period=1e+308"),
        ({"calls": 5, "renewal_period": "999999999999 days"}, "'999999999999 days'"),
        ({"calls": 10**12, "renewal_period": "second"}, "calls=1000000000000"),
        ({"calls": 5, "renewal_period": -1}, "renewal_period=-1"),
    ],
)
def test_set_limit_refuses_non_finite_and_absurd_values(limit, named):
    client = MlflowDeploymentClient("http://127.0.0.1:9")
    with pytest.raises(MlflowException) as info:
        client.set_limit("chat", limit)
    assert info.value.error_code == INVALID_PARAMETER_VALUE
    assert named in info.value.message


@pytest.mark.timeout(30)
def test_a_get_endpoint_timeout_names_the_variable_that_applied(monkeypatch):
    monkeypatch.setenv("MLFLOW_DEPLOYMENT_CLIENT_HTTP_REQUEST_TIMEOUT", "1")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with OddGateway(None, lookup_delay=5) as url, pytest.raises(MlflowException) as info:
        get_deploy_client(url).get_endpoint("odd")
    message = info.value.message
    assert (
        "set the environment variable MLFLOW_DEPLOYMENT_CLIENT_HTTP_REQUEST_TIMEOUT (default: 300) "
        "to a larger value." in message
    )
    assert "MLFLOW_HTTP_REQUEST_TIMEOUT" not in message
