"""GET /metrics scraped and parsed with prometheus_client's own parser."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from mlflow.gateway.server.options import ServerOptions

from .conftest import fetch, serve

CHAT = {"messages": [{"role": "user", "content": "hi"}]}
ROOT = Path(__file__).resolve().parents[2]


def samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(parsed, name: str, **labels) -> float | None:
    return parsed.get((name, tuple(sorted(labels.items()))))


async def test_scrape_reports_requests_latency_attempts_refusals_and_streams():
    async with serve() as s:
        await fetch(s, "POST", "/endpoints/chat/invocations", json=CHAT)
        await fetch(s, "POST", "/endpoints/chat/invocations", json=CHAT)
        await fetch(s, "POST", "/endpoints/limited/invocations", json=CHAT)
        await fetch(s, "POST", "/v1/chat/completions", json={**CHAT, "model": "chat-stream"})
        await fetch(s, "GET", "/no/such/path")
        r = await fetch(s, "GET", "/metrics")
    assert r.status == 200
    assert r.headers["Content-Type"].startswith("text/plain; version=")
    m = samples(r.text)
    ep = {"endpoint": "chat", "provider": "openai"}
    assert value(m, "mlflow_gateway_requests_total", **ep, status="200") == 2
    assert value(m, "mlflow_gateway_upstream_attempts_total", **ep) == 4
    assert value(m, "mlflow_gateway_upstream_retries_total", **ep) == 2
    assert value(m, "mlflow_gateway_request_duration_seconds_count", **ep) == 2
    limited = {"endpoint": "limited", "provider": "openai"}
    assert value(m, "mlflow_gateway_requests_total", **limited, status="429") == 1
    assert value(m, "mlflow_gateway_rate_limit_refusals_total", **limited) == 1
    assert value(m, "mlflow_gateway_rate_limit_refusals_total", **ep) == 0
    stream = {"endpoint": "chat-stream", "provider": "anthropic"}
    assert value(m, "mlflow_gateway_time_to_first_byte_seconds_count", **stream) == 1
    assert value(m, "mlflow_gateway_time_to_first_byte_seconds_sum", **stream) == 0.002
    assert value(m, "mlflow_gateway_time_to_first_byte_seconds_count", **ep) == 0
    unrouted = {"endpoint": "", "provider": ""}
    assert value(m, "mlflow_gateway_requests_total", **unrouted, status="404") == 1


async def test_in_flight_follows_the_request_to_its_endpoint():
    async with serve() as s:
        task = asyncio.create_task(fetch(s, "POST", "/endpoints/slow/run", json=CHAT))
        slow = {"endpoint": "slow-ep", "provider": "openai"}
        deadline = time.monotonic() + 5
        during = None
        while time.monotonic() < deadline:
            during = value(samples((await fetch(s, "GET", "/metrics")).text),
                           "mlflow_gateway_in_flight_requests", **slow)
            if during:
                break
            await asyncio.sleep(0.01)
        s.release.set()
        assert (await task).status == 200
        after = samples((await fetch(s, "GET", "/metrics")).text)
    assert during == 1
    assert value(after, "mlflow_gateway_in_flight_requests", **slow) == 0
    # The scrape itself is in flight under no endpoint while it is being answered.
    assert value(after, "mlflow_gateway_in_flight_requests", endpoint="", provider="") == 1


async def test_metrics_off():
    async with serve(ServerOptions(metrics=False)) as s:
        r = await fetch(s, "GET", "/metrics")
    assert r.status == 404


_WORKER = textwrap.dedent(
    """
    import asyncio, os, sys
    import prometheus_client  # imported before the directory is known, as in a forking parent
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = sys.argv[1]
    from tests.security.conftest import fetch, serve
    CHAT = {"messages": [{"role": "user", "content": "hi"}]}

    async def main():
        async with serve() as s:
            for _ in range(int(sys.argv[2])):
                await fetch(s, "POST", "/endpoints/chat/invocations", json=CHAT)
            if sys.argv[3] == "scrape":
                print((await fetch(s, "GET", "/metrics")).text)

    asyncio.run(main())
    """
)


def _run_worker(directory: str, count: int, action: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    done = subprocess.run(
        [sys.executable, "-c", _WORKER, directory, str(count), action],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_multiprocess_mode_sums_every_worker(tmp_path):
    directory = str(tmp_path)
    _run_worker(directory, 3, "none")
    _run_worker(directory, 2, "none")
    text = _run_worker(directory, 1, "scrape")
    m = samples(text)
    ep = {"endpoint": "chat", "provider": "openai"}
    assert value(m, "mlflow_gateway_requests_total", **ep, status="200") == 6
    assert value(m, "mlflow_gateway_upstream_attempts_total", **ep) == 12
    assert value(m, "mlflow_gateway_request_duration_seconds_count", **ep) == 6
    # The scrape is in flight in the scraping worker when it publishes its counts.
    assert value(m, "mlflow_gateway_in_flight_requests", endpoint="", provider="") == 1
    assert any(name.startswith("gauge_livesum_") for name in os.listdir(directory))


def test_multiprocess_dir_lifecycle(monkeypatch):
    from mlflow.gateway.server import metrics

    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    path = metrics.prepare_multiprocess_dir()
    try:
        assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == path and os.listdir(path) == []
        live = Path(path, "gauge_livesum_4242.db")
        kept = Path(path, "counter_4242.db")
        live.write_bytes(b"")
        kept.write_bytes(b"")
        metrics.mark_worker_dead(4242)
        assert not live.exists() and kept.exists()  # counts of a dead worker stay summed
    finally:
        metrics.cleanup_multiprocess_dir(path)
    assert not os.path.exists(path) and "PROMETHEUS_MULTIPROC_DIR" not in os.environ
