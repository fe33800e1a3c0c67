"""Shared rate limits, measured: ``python -m benchmarks.bench_limits [--runs 5] [--json PATH]``.

Starts its own redis-server (loopback, free port) and reports:

1. **Gateway workers.** N=4 gateway workers: with ``--cli`` the real ``mlflow gateway start
   --workers 4`` (calling a loopback OpenAI fake), else 4 processes of ``create_app`` with the
   rate-limit layer sharing one port (SO_REUSEPORT), an endpoint limited to
   ``calls`` = 5 per minute, a burst of 10 x ``calls`` at 16 concurrent: the 200s counted, per
   run, with the shared Redis store and with each worker's memory (the multiplication; the
   start-up warning is quoted).
2. **Client fleet.** 8 client processes, each ``apredict_batch`` at concurrency 16 sharing one
   Redis scope (``throttle_storage``), against a loopback gateway (its own process) that counts
   50/s in fixed windows: 800 requests in all; 429s and the makespan (first to last arrival)
   against the strict minimum ``(ceil(800/50) - 1)`` s = 15 s.
3. **Admission cost.** p50/p90 of one ``Limiter.try_acquire()``: memory, Redis (Lua script),
   Redis (WATCH/MULTI fallback on a server that refuses scripts).
4. **Retry-After accuracy.** The gateway's Retry-After on refusals against the true time until
   a slot frees (the oldest admitted start + the period, stamped by the client).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.limits.redis_server import RedisServer  # noqa: E402

GATEWAY_WORKERS = 4
GATEWAY_CALLS = 5
FLEET_PROCESSES, FLEET_EACH, FLEET_RATE = 8, 100, 50


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def _flush(server: RedisServer) -> None:
    import redis

    client = redis.Redis(host="127.0.0.1", port=server.port)
    client.flushall()
    client.close()


# --------------------------------------------------------------------------------------------
# 1. Gateway workers


def _gateway_config(runs: int):
    from mlflow.gateway.config import GatewayConfig

    model = {"provider": "openai", "name": "m", "config": {"openai_api_key": "sk-bench"}}
    limit = {"calls": GATEWAY_CALLS, "renewal_period": "minute"}
    return GatewayConfig.model_validate(
        {
            "endpoints": [
                {"name": f"run{i}", "endpoint_type": "llm/v1/chat", "model": model,
                 "limit": limit}
                for i in range(runs)
            ]
        }
    )


async def _gateway_worker(port: int, storage: str, runs: int) -> None:
    """One worker: the real app factory (rate-limit layer included) on a shared port."""
    from aiohttp import web

    from mlflow.gateway.server.app import create_app
    from mlflow.gateway.server.options import ServerOptions
    from tests.server.stub_provider import stub_factory

    options = ServerOptions(
        workers=GATEWAY_WORKERS, reload_interval=0, rate_limits_storage_uri=storage or None
    )
    app = create_app(options, _gateway_config(runs), provider_factory=stub_factory({}))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, reuse_port=True).start()
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await runner.cleanup()


async def _burst(port: int, endpoint: str, total: int, concurrency: int) -> dict[str, int]:
    import aiohttp

    body = {"messages": [{"role": "user", "content": "hi"}]}
    statuses: list[int] = []
    queue = list(range(total))

    # One connection per concurrent caller (force_close), so the kernel spreads them over the
    # workers as it spreads a real burst of clients.
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def caller() -> None:
            while queue:
                queue.pop()
                url = f"http://127.0.0.1:{port}/endpoints/{endpoint}/invocations"
                async with session.post(url, json=body) as response:
                    await response.read()
                    statuses.append(response.status)

        await asyncio.gather(*(caller() for _ in range(concurrency)))
    return {str(s): statuses.count(s) for s in sorted(set(statuses))}


def _own_workers(port: int, storage: str, runs: int) -> list[subprocess.Popen]:
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "benchmarks.bench_limits", "gateway-worker", str(port),
             storage, str(runs)],
            cwd=ROOT, env=_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )
        for _ in range(GATEWAY_WORKERS)
    ]
    for worker in workers:
        if worker.stdout.readline().strip() != "ready":
            raise RuntimeError(f"a gateway worker did not start: {worker.stderr.read()}")
    return workers


def _cli_gateway(port: int, storage: str, runs: int, upstream: str, tmp: Path) -> subprocess.Popen:
    """``mlflow gateway start --workers 4`` on a YAML config whose endpoints call ``upstream``."""
    import urllib.request

    lines = ["endpoints:"]
    for i in range(runs):
        lines += [
            f"  - name: run{i}", "    endpoint_type: llm/v1/chat", "    model:",
            "      provider: openai", "      name: gpt-4o-mini", "      config:",
            "        openai_api_key: sk-bench", f"        openai_api_base: {upstream}",
            "    limit:", f"      calls: {GATEWAY_CALLS}", "      renewal_period: minute",
        ]
    config = tmp / f"gateway-{port}.yaml"
    config.write_text("\n".join(lines) + "\n")
    env = _env(**({"MLFLOW_GATEWAY_RATE_LIMITS_STORAGE_URI": storage} if storage else {}))
    process = subprocess.Popen(
        [sys.executable, "-c", "from mlflow.cli import cli; cli()", "gateway", "start",
         "--config-path", str(config), "--port", str(port), "--workers", str(GATEWAY_WORKERS)],
        cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                break
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"the gateway did not start: {process.stderr.read()}") from None
            time.sleep(0.2)
    time.sleep(1.0)  # every worker up, not only the first to answer
    return process


def bench_gateway_workers(redis: RedisServer, runs: int, cli: bool) -> dict[str, Any]:
    """``cli``: the real ``mlflow gateway start --workers 4`` (needs the server's CLI) against
    a loopback OpenAI fake; else four processes of the app factory on one SO_REUSEPORT port."""
    import tempfile

    results: dict[str, Any] = {"how": "mlflow gateway start --workers" if cli else "own workers"}
    upstream = None
    if cli:
        from mlflow.testing.openai_server import OpenAIServer

        upstream = OpenAIServer(api_key="sk-bench")
        upstream.start_in_thread()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for mode, storage in (("redis", redis.uri(db=1)), ("memory", "")):
                _flush(redis)
                port = _free_port()
                if cli:
                    procs = [_cli_gateway(port, storage, runs, upstream.api_base, Path(tmp))]
                else:
                    procs = _own_workers(port, storage, runs)
                try:
                    admitted = []
                    for run in range(runs):
                        counts = asyncio.run(_burst(port, f"run{run}", 10 * GATEWAY_CALLS, 16))
                        admitted.append(counts.get("200", 0))
                finally:
                    errors = []
                    for proc in procs:
                        if proc.stdin is not None:
                            proc.stdin.close()
                        else:
                            proc.terminate()
                        proc.wait(30)
                        errors.append(proc.stderr.read())
                        proc.stderr.close()
                        if proc.stdout is not None:
                            proc.stdout.close()
                warning = next(
                    (line for text in errors for line in text.splitlines()
                     if "each worker" in line),
                    None,
                )
                results[mode] = {"admitted_per_run": admitted, "warning": warning}
    finally:
        if upstream is not None:
            upstream.stop_thread()
    results["calls"] = GATEWAY_CALLS
    results["workers"] = GATEWAY_WORKERS
    results["burst"] = 10 * GATEWAY_CALLS
    return results


# --------------------------------------------------------------------------------------------
# 2. Client fleet


async def _fleet_worker(url: str, count: int, tag: str, storage: str, start_at: float) -> None:
    from mlflow.deployments import get_deploy_client
    from mlflow.utils.throttling import throttle_storage

    client = get_deploy_client(url)
    await client.aget_endpoint("chat")  # the advertised limit, read before the start line
    inputs = [{"messages": [{"role": "user", "content": f"{tag}-{i}"}]} for i in range(count)]
    await asyncio.sleep(max(0.0, start_at - time.time()))
    with throttle_storage(storage):
        results = await client.apredict_batch("chat", inputs, concurrency=16, progress=False)
    print(json.dumps({"ok": sum(r.ok for r in results), "n": len(results)}), flush=True)


def bench_client_fleet(redis: RedisServer) -> dict[str, Any]:
    from tests.throttle.gateway_helpers import GatewayProcess
    from tests.throttle.helpers import max_in_any_window

    _flush(redis)
    limit = {"calls": FLEET_RATE, "renewal_period": "second"}
    gateway = GatewayProcess([{"name": "chat", "endpoint_type": "llm/v1/chat", "limit": limit}])
    try:
        start_at = time.time() + 4.0  # every process imported and ready by then
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "benchmarks.bench_limits", "fleet-worker",
                 gateway.base_url, str(FLEET_EACH), f"p{i}", redis.uri(db=2), str(start_at)],
                cwd=ROOT, env=_env(), stdout=subprocess.PIPE, text=True,
            )
            for i in range(FLEET_PROCESSES)
        ]
        summaries = [json.loads(p.communicate(timeout=180)[0]) for p in procs]
        arrivals = gateway.arrivals()
        rejected = gateway.rejected
    finally:
        gateway.close()
    total = FLEET_PROCESSES * FLEET_EACH
    minimum = (math.ceil(total / FLEET_RATE) - 1) * 1.0
    makespan = arrivals[-1] - arrivals[0]
    return {
        "processes": FLEET_PROCESSES,
        "requests": total,
        "ok": sum(s["ok"] for s in summaries),
        "rejections": rejected,
        "arrivals": len(arrivals),
        "makespan_s": round(makespan, 3),
        "strict_minimum_s": minimum,
        "ratio": round(makespan / minimum, 4),
        "max_in_any_1s": max_in_any_window(arrivals, 1.0),
        "max_in_any_0.95s": max_in_any_window(arrivals, 0.95),
    }


# --------------------------------------------------------------------------------------------
# 3. Admission cost


async def _admission_costs(uri: str, n: int) -> list[float]:
    from async_core.limits import Limiter, MemoryStore, Window
    from async_core.limits.redis_store import RedisStore

    store = MemoryStore() if uri == "memory://" else RedisStore(uri)
    limiter = Limiter(store, Window(f"cost-{os.getpid()}", 1_000_000, 1.0))
    for _ in range(200):  # warm: connection, script cache
        await limiter.try_acquire()
    times = []
    for _ in range(n):
        began = time.perf_counter()
        decision = await limiter.try_acquire()
        times.append(time.perf_counter() - began)
        assert decision.admitted
    await store.aclose()
    return times


def bench_admission_cost(redis: RedisServer, scriptless: RedisServer, n: int) -> dict[str, Any]:
    _flush(redis)
    out: dict[str, Any] = {}
    for name, uri in (
        ("memory", "memory://"),
        ("redis_script", redis.uri(db=3)),
        ("redis_transaction", scriptless.uri(db=3)),
    ):
        times = asyncio.run(_admission_costs(uri, n))
        cuts = statistics.quantiles(times, n=10)
        out[name] = {"p50_us": round(statistics.median(times) * 1e6, 1),
                     "p90_us": round(cuts[8] * 1e6, 1)}
    out["redis_over_memory_p50_ms"] = round(
        (out["redis_script"]["p50_us"] - out["memory"]["p50_us"]) / 1000, 3
    )
    return out


# --------------------------------------------------------------------------------------------
# 4. Retry-After accuracy


async def _retry_after_accuracy(storage: str, refusals: int) -> dict[str, Any]:
    import aiohttp
    from aiohttp import web

    from mlflow.gateway.config import GatewayConfig
    from mlflow.gateway.server.app import create_app
    from mlflow.gateway.server.options import ServerOptions
    from tests.server.stub_provider import stub_factory

    period = 3.0
    model = {"provider": "openai", "name": "m", "config": {"openai_api_key": "sk-bench"}}
    config = GatewayConfig.model_validate({"endpoints": [{
        "name": "chat", "endpoint_type": "llm/v1/chat", "model": model,
        "limit": {"calls": 2, "renewal_period": "3 seconds"}}]})
    options = ServerOptions(reload_interval=0, rate_limits_storage_uri=storage or None)
    app = create_app(options, config, provider_factory=stub_factory({}))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}/endpoints/chat/invocations"
    body = {"messages": [{"role": "user", "content": "hi"}]}
    admitted: list[float] = []
    errors: list[float] = []
    async with aiohttp.ClientSession() as session:
        while len(errors) < refusals:
            sent = time.monotonic()
            async with session.post(url, json=body) as response:
                await response.read()
                if response.status == 200:
                    admitted.append(sent)
                    await asyncio.sleep(0.7)
                    continue
                true_wait = admitted[-2] + period - sent  # the older of the two counted starts
                errors.append(int(response.headers["Retry-After"]) - true_wait)
                await asyncio.sleep(float(response.headers["Retry-After"]))
    await runner.cleanup()
    return {"refusals": refusals, "min_excess_s": round(min(errors), 3),
            "max_excess_s": round(max(errors), 3)}


# --------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--admissions", type=int, default=3000)
    parser.add_argument("--skip-fleet", action="store_true")
    parser.add_argument("--cli", action="store_true",
                        help="gateway workers through `mlflow gateway start --workers 4`")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--admission-only", action="store_true",
                        help="only section 3 (the admission cost of each store)")
    args = parser.parse_args()
    redis = RedisServer()
    scriptless = RedisServer('rename-command EVAL ""\nrename-command EVALSHA ""')
    try:
        report: dict[str, Any] = {}
        report["admission_cost"] = bench_admission_cost(redis, scriptless, args.admissions)
        print("admission cost:", json.dumps(report["admission_cost"]), flush=True)
        if args.admission_only:
            return
        report["retry_after"] = {
            "memory": asyncio.run(_retry_after_accuracy("", 4)),
            "redis": asyncio.run(_retry_after_accuracy(redis.uri(db=4), 4)),
        }
        print("retry-after:", json.dumps(report["retry_after"]), flush=True)
        report["gateway_workers"] = bench_gateway_workers(redis, args.runs, args.cli)
        print("gateway workers:", json.dumps(report["gateway_workers"]), flush=True)
        if not args.skip_fleet:
            report["client_fleet"] = bench_client_fleet(redis)
            print("client fleet:", json.dumps(report["client_fleet"]), flush=True)
    finally:
        redis.close()
        scriptless.close()
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "gateway-worker":
        asyncio.run(_gateway_worker(int(sys.argv[2]), sys.argv[3], int(sys.argv[4])))
    elif len(sys.argv) > 1 and sys.argv[1] == "fleet-worker":
        argv = sys.argv[2:]
        asyncio.run(_fleet_worker(argv[0], int(argv[1]), argv[2], argv[3], float(argv[4])))
    else:
        main()
