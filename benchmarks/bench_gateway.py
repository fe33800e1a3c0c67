"""Our gateway against MLflow 3.17's gateway and against going direct, in one run.

    python -m benchmarks.bench_gateway [--mlflow-venv /work/mlflow-venv] [--requests 3000]

One fake OpenAI upstream runs in its own process (it counts the TCP connections it accepts); the
same YAML configures both gateways (one worker each); the same aiohttp load generator drives all
the targets. A fourth target, a bare aiohttp reverse proxy (``benchmarks/bare_proxy.py``: no
validation, translation or layers; ``--no-floor`` leaves it out), is the floor under any gateway
built on aiohttp on this Python. Our gateway runs with every layer installed: access log (INFO
lines), security (Host check, headers), caller API keys, rate limits (the endpoint has no
limit), metrics and health. Measured per target:

- throughput at 32 concurrent (requests/s);
- latency of sequential requests, p50 and p99, and what the gateway adds over direct;
- time to the first streamed chunk (the upstream sends its first chunk at once), p50;
- upstream connections opened during the concurrent phase;
- CPU microseconds per request of the gateway, the upstream and the load generator.

Processes are pinned when the machine has 2+ cores: the gateway on core 0, the upstream and the
load generator on core 1 (the same placement for every target). Writes
``benchmarks/results/gateway.md`` and ``benchmarks/results/gateway.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from benchmarks.common import ROOT, child_server

RESULTS = ROOT / "benchmarks" / "results"
API_KEY = "sk-bench-not-a-real-key"
CHAT = {"messages": [{"role": "user", "content": "hello"}]}
CONCURRENCY = 32
# Our gateway runs with every layer installed, caller keys included: every target gets the same
# Authorization header (direct and MLflow's gateway ignore it).
CALLER_KEYS_ENV = "BENCH_GATEWAY_CALLER_KEYS"
CALLER_KEY = "ck-bench-caller-not-a-real-key"
AUTH = {"Authorization": f"Bearer {CALLER_KEY}"}
# A bare aiohttp reverse proxy (benchmarks/bare_proxy.py): what no aiohttp gateway can beat.
FLOOR = "bare aiohttp proxy (floor)"
QUIET = "mlflow-aio gateway, --no-access-log"

# --------------------------------------------------------------------------------------------
# The upstream (run as `python -m benchmarks.bench_gateway --upstream`)

_CHAT_BODY = json.dumps({
    "id": "chatcmpl-bench", "object": "chat.completion", "created": 1700000000,
    "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                 "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}).encode()


def _chunk(content: str | None, finish: str | None) -> bytes:
    delta = {"role": "assistant", "content": content} if content is not None else {}
    body = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1700000000,
            "model": "gpt-4o-mini",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


async def _serve_upstream() -> None:
    from aiohttp import web

    stats = {"connections": 0, "requests": 0}

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        stats["requests"] += 1
        if not body.get("stream"):
            return web.Response(body=_CHAT_BODY, content_type="application/json")
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(_chunk("ok", None))  # the first chunk at once
        await asyncio.sleep(0.002)
        await response.write(_chunk(None, "stop"))
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def get_stats(request: web.Request) -> web.Response:
        # Not counting the connection this stats request came on (the harness opens a new one).
        return web.json_response({**stats, "connections": stats["connections"] - 1})

    async def reset(request: web.Request) -> web.Response:
        stats["connections"] = stats["requests"] = 0
        return web.json_response(stats)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_get("/__stats", get_stats)
    app.router.add_post("/__reset", reset)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    handler = runner.server

    def counting_factory():
        stats["connections"] += 1
        return handler()

    loop = asyncio.get_running_loop()
    server = await loop.create_server(counting_factory, "127.0.0.1", 0, backlog=2048)
    print(server.sockets[0].getsockname()[1], flush=True)
    await loop.run_in_executor(None, sys.stdin.read)  # exits when the harness closes stdin
    server.close()
    await runner.cleanup()


# --------------------------------------------------------------------------------------------
# Processes


_PIN = [True]


def _pin(pid: int, cores: set[int]) -> str:
    if not _PIN[0] or (os.cpu_count() or 1) < 2:
        return "any (unpinned)"
    os.sched_setaffinity(pid, cores)
    return ",".join(str(c) for c in sorted(cores))


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


def _tree_cpu(pid: int) -> float:
    total = _cpu_seconds(pid)
    with contextlib.suppress(OSError):
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            total += _tree_cpu(int(child))
    return total


def _runqueue_wait(pid: int) -> float:
    """Seconds this process was runnable but waiting for a CPU (other processes had it)."""
    try:
        total = int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0
    if pid != os.getpid():  # a gateway with its children (MLflow's gunicorn worker)
        with contextlib.suppress(OSError):
            for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
                total += _runqueue_wait(int(child))
    return total


def _cpu_of(pid: int) -> float:
    # The harness's own process alone (the servers are its children); a gateway with its
    # children (MLflow's CLI runs gunicorn and its worker).
    return _cpu_seconds(pid) if pid == os.getpid() else _tree_cpu(pid)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


@contextlib.contextmanager
def upstream_process() -> Iterator[tuple[str, int]]:
    command = [sys.executable, "-m", "benchmarks.bench_gateway", "--upstream"]
    with child_server(command, "the fake upstream") as (port, proc):
        yield f"http://127.0.0.1:{port}", proc.pid


@contextlib.contextmanager
def gateway_process(command: list[str], port: int, cwd: str, env: dict,
                    start_timeout: float = 60.0, stop_timeout: float = 15.0) -> Iterator[int]:
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_http(f"http://127.0.0.1:{port}/health", start_timeout)
        yield proc.pid
    finally:
        # The whole session: MLflow's CLI runs gunicorn as a child that outlives a lone SIGTERM.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(stop_timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def write_config(upstream: str, directory: str) -> str:
    path = Path(directory, "gateway.yaml")
    path.write_text(
        "endpoints:\n"
        "  - name: chat\n"
        "    endpoint_type: llm/v1/chat\n"
        "    model:\n"
        "      provider: openai\n"
        "      name: gpt-4o-mini\n"
        "      config:\n"
        f"        openai_api_key: {API_KEY}\n"
        f"        openai_api_base: {upstream}/v1\n"
    )
    return str(path)


# --------------------------------------------------------------------------------------------
# Load


async def _measure(url: str, path: str, requests: int, sequential: int, streams: int) -> dict:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=CONCURRENCY * 2)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def one(body) -> None:
            async with session.post(url + path, json=body, headers=AUTH) as r:
                await r.read()
                if r.status != 200:
                    raise RuntimeError(f"{url}{path} answered {r.status}")

        for _ in range(50):  # warm-up (connections, caches)
            await one(CHAT)
        # Sequential latency.
        latencies = []
        for _ in range(sequential):
            start = time.perf_counter()
            await one(CHAT)
            latencies.append(time.perf_counter() - start)
        # First streamed chunk.
        firsts = []
        for _ in range(streams):
            start = time.perf_counter()
            async with session.post(url + path, json={**CHAT, "stream": True},
                                    headers=AUTH) as r:
                async for line in r.content:
                    if line.startswith(b"data:"):
                        firsts.append(time.perf_counter() - start)
                        break
                await r.read()
        # Throughput at 32 concurrent.
        counter = iter(range(requests))

        async def worker() -> None:
            for _ in counter:
                await one(CHAT)

        await asyncio.to_thread(_upstream_stats, _UPSTREAM[0], True)
        cpu_before = {pid: _cpu_of(pid) for pid in _PIDS}
        wait_before = {pid: _runqueue_wait(pid) for pid in _PIDS}
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        seconds = time.perf_counter() - start
        cpu_after = {pid: _cpu_of(pid) for pid in _PIDS}
        wait_after = {pid: _runqueue_wait(pid) for pid in _PIDS}
    return {
        "throughput": requests / seconds,
        "p50": statistics.median(latencies),
        "p99": statistics.quantiles(latencies, n=100)[98],
        "first_chunk_p50": statistics.median(firsts),
        "cpu_us": {str(pid): (cpu_after[pid] - cpu_before[pid]) / requests * 1e6
                   for pid in _PIDS},
        "wait_share": {str(pid): (wait_after[pid] - wait_before[pid]) / seconds
                       for pid in _PIDS},
    }


_PIDS: list[int] = []
_ROUNDS: dict[str, list[dict]] = {}
_UPSTREAM: list[str] = [""]


def _upstream_stats(upstream: str, reset: bool = False) -> dict:
    request = urllib.request.Request(upstream + ("/__reset" if reset else "/__stats"),
                                     method="POST" if reset else "GET")
    with urllib.request.urlopen(request, timeout=5) as r:
        return json.loads(r.read())


def run_target(name: str, url: str, path: str, upstream: str, upstream_pid: int,
               gateway_pid: int | None, args) -> dict:
    _PIDS[:] = [os.getpid(), upstream_pid] + ([gateway_pid] if gateway_pid else [])
    _UPSTREAM[0] = upstream
    result = asyncio.run(_measure(url, path, args.requests, args.sequential, args.streams))
    stats = _upstream_stats(upstream)  # counted since the concurrent phase began
    result["upstream_connections"] = stats["connections"]
    result["upstream_requests"] = stats["requests"]
    cpu = result.pop("cpu_us")
    waits = result.pop("wait_share")
    result["gateway_runqueue_wait"] = waits[str(gateway_pid)] if gateway_pid else 0.0
    result["cpu_us_loadgen"] = cpu[str(os.getpid())]
    result["cpu_us_upstream"] = cpu[str(upstream_pid)]
    result["cpu_us_gateway"] = cpu[str(gateway_pid)] if gateway_pid else 0.0
    result["name"] = name
    print(f"  {name}: {result['throughput']:.0f} req/s, p50 {result['p50'] * 1e3:.2f} ms, "
          f"first chunk {result['first_chunk_p50'] * 1e3:.2f} ms, "
          f"{stats['connections']} upstream connections", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mlflow-venv", default=os.environ.get("MLFLOW_VENV",
                                                                "/work/mlflow-venv"))
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--sequential", type=int, default=500)
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quiet-variant", action="store_true",
                        help="also run our gateway with --no-access-log (MLflow's gateway, under "
                        "gunicorn's defaults, writes no access log)")
    parser.add_argument("--no-floor", action="store_true",
                        help="leave out the bare aiohttp proxy (the floor under any aiohttp "
                        "gateway)")
    parser.add_argument("--no-pin", action="store_true",
                        help="let the scheduler place every process (default: pinned)")
    args = parser.parse_args()
    if args.upstream:
        try:
            import uvloop

            uvloop.install()
        except ImportError:
            pass
        asyncio.run(_serve_upstream())
        return

    _PIN[0] = not args.no_pin
    placement = {"load generator": _pin(os.getpid(), {1})}
    rounds: dict[str, list[dict]] = {}
    with contextlib.ExitStack() as stack:
        upstream, upstream_pid = stack.enter_context(upstream_process())
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        placement["upstream"] = _pin(upstream_pid, {1})
        config = write_config(upstream, tmp)
        targets = [("direct", upstream, "/v1/chat/completions", None)]
        env = {**os.environ, "PYTHONPATH": str(ROOT), CALLER_KEYS_ENV: f"bench:{CALLER_KEY}"}
        port = _free_port()
        ours = [sys.executable, "-m", "mlflow.cli", "gateway", "start", "--config-path", config,
                "--port", str(port), "--workers", "1", "--reload-interval", "0",
                "--api-keys-env", CALLER_KEYS_ENV]
        pid = stack.enter_context(gateway_process(ours, port, str(ROOT), env))
        placement["gateways"] = _pin_tree(pid, {0})
        targets.append(("mlflow-aio gateway", f"http://127.0.0.1:{port}",
                        "/endpoints/chat/invocations", pid))
        if args.quiet_variant:
            port = _free_port()
            quiet = [*ours[:ours.index("--port") + 1], str(port),
                     *ours[ours.index("--port") + 2:], "--no-access-log"]
            pid = stack.enter_context(gateway_process(quiet, port, str(ROOT), env))
            _pin_tree(pid, {0})
            targets.append((QUIET, f"http://127.0.0.1:{port}", "/endpoints/chat/invocations",
                            pid))
        if not args.no_floor:
            port = _free_port()
            floor = [sys.executable, str(ROOT / "benchmarks" / "bare_proxy.py"), upstream,
                     str(port)]
            pid = stack.enter_context(gateway_process(floor, port, str(ROOT), env))
            _pin_tree(pid, {0})
            targets.append((FLOOR, f"http://127.0.0.1:{port}", "/endpoints/chat/invocations",
                            pid))
        mlflow_bin = Path(args.mlflow_venv, "bin", "mlflow")
        if mlflow_bin.exists():
            port = _free_port()
            peer_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
            peer = [str(mlflow_bin), "gateway", "start", "--config-path", config,
                    "--port", str(port), "--workers", "1"]
            pid = stack.enter_context(gateway_process(peer, port, tmp, peer_env))
            _pin_tree(pid, {0})
            targets.append(("MLflow gateway", f"http://127.0.0.1:{port}",
                            "/endpoints/chat/invocations", pid))
        # Rounds interleave the targets, so the machine's drift hits all of them alike.
        for round_index in range(args.rounds):
            print(f"round {round_index + 1}/{args.rounds}", flush=True)
            for name, url, path, pid in targets:
                rounds.setdefault(name, []).append(
                    run_target(name, url, path, upstream, upstream_pid, pid, args))
    results = [_best(runs) for runs in rounds.values()]
    _ROUNDS.update(rounds)
    write_report(results, placement, args)


def _pin_tree(pid: int, cores: set[int]) -> str:
    placed = _pin(pid, cores)
    with contextlib.suppress(OSError):
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            _pin_tree(int(child), cores)
    return placed


def _best(runs: list[dict]) -> dict:
    """Each figure's best round (throughput max; latencies and CPU min; connections max)."""
    best = dict(runs[0])
    best["throughput"] = max(r["throughput"] for r in runs)
    for key in ("p50", "p99", "first_chunk_p50", "cpu_us_gateway", "cpu_us_upstream",
                "cpu_us_loadgen", "gateway_runqueue_wait"):
        best[key] = min(r[key] for r in runs)
    best["upstream_connections"] = max(r["upstream_connections"] for r in runs)
    best["rounds"] = len(runs)
    return best


def _machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{cpu}, {os.cpu_count()} cores, Python {sys.version.split()[0]}"


def write_report(results: list[dict], placement: dict, args) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    by = {r["name"]: r for r in results}
    direct = by["direct"]
    ours = by.get("mlflow-aio gateway")
    theirs = by.get("MLflow gateway")
    lines = [
        "# Gateway benchmark",
        "",
        f"{_machine()}. One run of {args.rounds} interleaved rounds, best round per figure; "
        f"per round {args.requests} requests at {CONCURRENCY} concurrent, "
        f"{args.sequential} sequential, {args.streams} streams; upstream connections are those "
        "accepted during the concurrent phase (worst round). Placement: "
        + ", ".join(f"{k} on core {v}" for k, v in placement.items()) + ".",
        "",
        "Throughput per round (req/s): "
        + "; ".join(f"{name} " + ", ".join(f"{r['throughput']:.0f}" for r in runs)
                    for name, runs in _ROUNDS.items()) + ".",
        "",
        "Gateway CPU per request, per round (us): "
        + "; ".join(f"{name} " + ", ".join(f"{r['cpu_us_gateway']:.0f}" for r in runs)
                    for name, runs in _ROUNDS.items() if name != "direct") + ".",
        "",
        "| target | req/s at 32 | p50 ms | p99 ms | added p50 ms | added p99 ms "
        "| first chunk p50 ms | first chunk added ms | upstream conns | CPU us/req gateway "
        "| upstream | load gen | gateway waiting for a CPU |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        added = r["p50"] - direct["p50"]
        added99 = r["p99"] - direct["p99"]
        first_added = r["first_chunk_p50"] - direct["first_chunk_p50"]
        lines.append(
            f"| {r['name']} | {r['throughput']:.0f} | {r['p50'] * 1e3:.2f} | "
            f"{r['p99'] * 1e3:.2f} | {added * 1e3:.2f} | {added99 * 1e3:.2f} | "
            f"{r['first_chunk_p50'] * 1e3:.2f} | {first_added * 1e3:.2f} | "
            f"{r['upstream_connections']} | {r['cpu_us_gateway']:.0f} | "
            f"{r['cpu_us_upstream']:.0f} | {r['cpu_us_loadgen']:.0f} | "
            f"{r['gateway_runqueue_wait']:.0%} |"
        )
    if ours is not None:
        lines += ["", "| bar | target | measured | met |", "|---|---|---|---|"]
        ours_added = ours["p50"] - direct["p50"]
        share = ours["throughput"] / direct["throughput"]
        first = ours["first_chunk_p50"] - direct["first_chunk_p50"]
        if theirs is not None:
            paired = sorted(
                a["throughput"] / b["throughput"]
                for a, b in zip(
                    _ROUNDS["mlflow-aio gateway"], _ROUNDS["MLflow gateway"], strict=True
                )
            )
            lines.insert(6, "Throughput ratio to MLflow's gateway within each round: "
                         + ", ".join(f"{r:.2f}x" for r in paired)
                         + f" (median {statistics.median(paired):.2f}x).")
            lines.insert(7, "")
            ratio = ours["throughput"] / theirs["throughput"]
            lines.append(f"| throughput vs MLflow's gateway | >= 3x | {ratio:.2f}x | "
                         f"{'yes' if ratio >= 3 else 'no'} |")
            theirs_added = theirs["p50"] - direct["p50"]
            lat = ours_added / theirs_added if theirs_added > 0 else float("nan")
            cpu_ratio = theirs["cpu_us_gateway"] / ours["cpu_us_gateway"]
            lines.append(f"| (steadiest figure) gateway CPU per request | - | "
                         f"{cpu_ratio:.2f}x less than MLflow's | - |")
            lines.append(f"| added p50 vs MLflow's | <= 0.35x | {lat:.2f}x "
                         f"({ours_added * 1e3:.2f} vs {theirs_added * 1e3:.2f} ms) | "
                         f"{'yes' if lat <= 0.35 else 'no'} |")
            quiet = by.get(QUIET)
            if quiet is not None:
                quiet_ratio = statistics.median(
                    a["throughput"] / b["throughput"]
                    for a, b in zip(_ROUNDS[QUIET], _ROUNDS["MLflow gateway"], strict=True)
                )
                lines.append(f"| (like MLflow's, no access log) throughput vs MLflow's | - | "
                             f"{quiet['throughput'] / theirs['throughput']:.2f}x best rounds, "
                             f"median of rounds {quiet_ratio:.2f}x; added p50 "
                             f"{(quiet['p50'] - direct['p50']) / theirs_added:.2f}x | - |")
            floor = by.get(FLOOR)
            if floor is not None and theirs_added > 0:
                floor_added = floor["p50"] - direct["p50"]
                lines.append(f"| (the floor) bare aiohttp proxy's added p50 vs MLflow's | - | "
                             f"{floor_added / theirs_added:.2f}x ({floor_added * 1e3:.2f} ms); "
                             f"throughput {floor['throughput'] / theirs['throughput']:.2f}x "
                             "MLflow's; first chunk added "
                             f"{(floor['first_chunk_p50'] - direct['first_chunk_p50']) * 1e3:.2f}"
                             " ms | - |")
        lines.append(f"| throughput vs direct | >= 40% | {share:.0%} | "
                     f"{'yes' if share >= 0.4 else 'no'} |")
        lines.append(f"| first chunk added, p50 | <= 1 ms | {first * 1e3:.2f} ms | "
                     f"{'yes' if first <= 0.001 else 'no'} |")
        lines.append(f"| upstream connections | <= {CONCURRENCY} | "
                     f"{ours['upstream_connections']} | "
                     f"{'yes' if ours['upstream_connections'] <= CONCURRENCY else 'no'} |")
    text = "\n".join(lines) + "\n"
    (RESULTS / "gateway.md").write_text(text)
    (RESULTS / "gateway.json").write_text(json.dumps(
        {"results": results, "rounds": _ROUNDS, "placement": placement}, indent=2))
    print(text)
    _chart(results)


def _chart(results: list[dict]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no chart")
        return
    names = [r["name"] for r in results]
    colors = ["#888", "#2a7", "#57b", "#c55"]
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(13, 4))
    left.bar(names, [r["throughput"] for r in results], color=colors[: len(names)])
    left.set_title(f"requests/s at {CONCURRENCY} concurrent")
    direct = results[0]
    added = [(r["p50"] - direct["p50"]) * 1e3 for r in results[1:]]
    middle.bar(names[1:], added, color=colors[1: len(names)])
    middle.set_title("added latency, p50 ms (sequential)")
    right.bar(names[1:], [r["cpu_us_gateway"] for r in results[1:]], color=colors[1: len(names)])
    right.set_title("gateway CPU, us per request")
    for axis in (left, middle, right):
        axis.tick_params(axis="x", labelsize=8, labelrotation=15)
    fig.tight_layout()
    fig.savefig(RESULTS / "gateway.png", dpi=110)
    print(f"chart: {RESULTS / 'gateway.png'}")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
