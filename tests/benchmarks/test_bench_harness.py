"""Smoke tests of the benchmark harness and the demo, in tiny configurations.

They check that every output is written and holds real measurements, never how fast anything is.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.common import ROOT, upstream, upstream_stats

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _run(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done


@pytest.mark.timeout(180)
def test_harness_writes_table_json_and_chart(tmp_path: Path) -> None:
    done = _run([
        "-m", "benchmarks.run", "--quick", "--sections", "a,b,c,e", "--rounds", "1",
        "--requests", "30", "--concurrency", "1,4", "--memory-requests", "300",
        "--memory-blocking-requests", "60", "--out", str(tmp_path),
    ])
    md, js, png = tmp_path / "bench.md", tmp_path / "bench.json", tmp_path / "throughput.png"
    assert md.exists() and js.exists() and png.exists()
    assert png.read_bytes()[:8] == PNG_MAGIC
    for path in (md, js, png):
        assert str(path) in done.stdout  # the paths are printed

    results = json.loads(js.read_text())
    assert results["machine"]["cores"] >= 1 and results["machine"]["aiohttp"]
    seq = results["sequential"]["clients"]
    assert set(seq) == {"bare aiohttp", "async twin (ahttp_request)", "blocking http_request",
                        "requests.Session"}
    assert all(c["best"] > 0 and c["rounds"] for c in seq.values())
    assert seq["bare aiohttp"]["vs_bare"] == pytest.approx(1.0)
    flight = results["in_flight"]["clients"]
    assert set(flight["async twin (ahttp_request)"]) == {"1", "4"}
    assert all(level["best"] > 0 for c in flight.values() for level in c.values())
    # The upstream answered every first attempt 503: each client really made two attempts.
    rows = results["retry"]["rows"]
    assert {r["client"] for r in rows} >= {"bare aiohttp", "async twin (ahttp_request)"}
    assert all(r["attempts_per_request"] == pytest.approx(2.0) for r in rows)
    memory = {r["client"]: r for r in results["memory"]["rows"]}
    assert set(memory) == {"twin", "bare", "blocking"}
    assert memory["twin"]["requests"] == 300 and memory["blocking"]["requests"] == 60
    assert all(r["final_mb"] > 0 for r in memory.values())
    # The RSS bar is not judged on a shortened run.
    rss_bar = next(b for b in results["bars"] if b["bar"].startswith("RSS"))
    assert rss_bar["passed"] is None

    text = md.read_text()
    for heading in ("## Bars (issue 7)", "## (a) Sequential", "## (b) Requests in flight",
                    "## (c) Retry path", "## (e) Memory"):
        assert heading in text
    assert "| blocking http_request |" in text


@pytest.mark.timeout(120)
def test_mlflow_peer_plumbing(tmp_path: Path) -> None:
    """The peer runs any interpreter with an ``mlflow`` on its path; here a stand-in venv whose
    python sees this checkout, so the plumbing is tested without the real package."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text(f'#!/bin/sh\nPYTHONPATH="{ROOT}" exec "{sys.executable}" "$@"\n')
    python.chmod(python.stat().st_mode | stat.S_IXUSR)

    from benchmarks.peer import check_peer, peer_python, run_peer

    found, why = peer_python(str(venv))
    assert found == python and why is None
    version, why = check_peer(found)
    assert version and why is None
    with upstream() as url, upstream("--fail-first", "503") as retry_url:
        out = run_peer(found, {"url": url, "requests": 20, "concurrency": [2],
                               "retry_url": retry_url, "retry_requests": 10}, timeout=90)
    assert out["sequential"]["count"] == 20
    assert out["in_flight"]["2"]["count"] == 20
    assert out["retry_sequential"]["count"] == 10
    assert out["retry_sequential"]["attempts"] == 20


def test_peer_skipped_without_a_venv(tmp_path: Path) -> None:
    from benchmarks.peer import peer_python

    assert peer_python(None) == (None, "no --mlflow-venv given")
    found, why = peer_python(str(tmp_path / "nowhere"))
    assert found is None and "no interpreter" in why


def test_echo_server_fails_each_request_once() -> None:
    import requests

    with upstream("--fail-first", "503") as url:
        first = requests.post(url + "/x", json={}, headers={"X-Bench-Id": "a"}, timeout=10)
        second = requests.post(url + "/x", json={}, headers={"X-Bench-Id": "a"}, timeout=10)
        other = requests.post(url + "/x", json={}, headers={"X-Bench-Id": "b"}, timeout=10)
        plain = requests.post(url + "/x", json={}, timeout=10)
        assert [first.status_code, second.status_code, other.status_code, plain.status_code] == [
            503, 200, 503, 200]
        assert upstream_stats(url) == {"attempts": 4, "failed": 2}


@pytest.mark.timeout(120)
def test_clients_take_turns_and_each_sends_its_count() -> None:
    from benchmarks import bench_http

    order: list[str] = []

    def tracked(name: str, make):
        def build(url: str):
            client = make(url)
            batch = client.batch

            def counted(n: int, concurrency: int, cap: float):
                order.append(name)
                return batch(n, concurrency, cap)

            client.batch = counted
            return client

        return build

    makers = {
        "bare": tracked("bare", bench_http.SEQUENTIAL["bare aiohttp"]),
        "blocking": tracked("blocking", bench_http.SEQUENTIAL["blocking http_request"]),
    }
    with upstream() as url:
        runs = bench_http.interleaved(makers, url, 120, 1, 50, 60.0, first=1)
        warmups = 20  # max(concurrency, min(n // 10, 200), 20) per client
        assert upstream_stats(url)["attempts"] == 2 * (120 + warmups)
    assert {name: run.count for name, run in runs.items()} == {"bare": 120, "blocking": 120}
    assert all(run.seconds > 0 for run in runs.values())
    # Warm-ups, then turns of 50, 50, 20, each turn led by the next client in rotation.
    assert order == ["bare", "blocking", "blocking", "bare", "bare", "blocking", "blocking", "bare"]


def test_the_floor_proxy_forwards_answers_and_streams_unchanged() -> None:
    import urllib.request

    from benchmarks import bench_gateway as bg

    def post(url: str, body: dict) -> bytes:
        request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.read()

    with bg.upstream_process() as (upstream, _):
        port = bg._free_port()
        command = [sys.executable, str(ROOT / "benchmarks" / "bare_proxy.py"), upstream, str(port)]
        with bg.gateway_process(command, port, str(ROOT), dict(os.environ)):
            proxy = f"http://127.0.0.1:{port}/endpoints/chat/invocations"
            direct = f"{upstream}/v1/chat/completions"
            assert post(proxy, bg.CHAT) == post(direct, bg.CHAT)
            streamed = post(proxy, {**bg.CHAT, "stream": True})
            assert streamed == post(direct, {**bg.CHAT, "stream": True})
            assert streamed.endswith(b"data: [DONE]\n\n")
