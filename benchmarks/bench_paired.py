"""Paired before/after benchmark of the hot path: two source trees, the same workload, bare aiohttp
beside each in the same process.

    python benchmarks/bench_paired.py --before /tmp/engine-before --after . [--processes 3]

Every child process imports ONE tree (PYTHONPATH) and measures, in interleaved turns, bare
aiohttp and that tree's client against one upstream process: wall and CPU microseconds per
request (``time.process_time`` covers every thread, so the blocking call's background loop is
counted). Children alternate before/after/before/..., so a shared machine's drift hits both
trees alike; ratios against bare aiohttp in the same turn are what to compare. This file is
self-contained (it imports nothing of either tree but their public ``http_request`` /
``ahttp_request``), so it runs unchanged against an older tree.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

PAYLOAD = {"messages": [{"role": "user", "content": "hello"}], "temperature": 0.0}
HERE = Path(__file__).resolve().parent
WORKLOADS = ["get-seq", "get-64", "get-256", "get-1024", "post-seq", "post-64"]


# --- the child: one tree, one workload ------------------------------------------------------------
class _Loop:
    def __init__(self, make_call) -> None:
        self.loop = asyncio.new_event_loop()
        self.call = self.loop.run_until_complete(make_call())

    def turn(self, n: int, concurrency: int) -> None:
        async def worker(k: int) -> None:
            for _ in range(k):
                await self.call()

        async def all_workers() -> None:
            per, extra = divmod(n, concurrency)
            await asyncio.gather(*(worker(per + (i < extra)) for i in range(concurrency)))

        self.loop.run_until_complete(all_workers())


def _clients(url: str, method: str, concurrency: int) -> dict:
    import aiohttp

    from mlflow.utils.rest_utils import MlflowHostCreds, ahttp_request, http_request

    path = "/v1/chat/completions" if method == "POST" else "/v1/models"
    body = {"json": PAYLOAD} if method == "POST" else {}
    creds = MlflowHostCreds(url)

    async def bare():
        session = aiohttp.ClientSession()

        async def call():
            async with session.request(method, url + path, **body) as r:
                await r.read()

        return call

    async def twin():
        async def call():
            await ahttp_request(creds, path, method, **body)

        return call

    clients = {"bare": _Loop(bare)}
    if concurrency == 1:
        blocking = lambda: http_request(creds, path, method, **body)  # noqa: E731
        clients["blocking"] = type("B", (), {
            "turn": staticmethod(lambda n, c: [blocking() for _ in range(n)])
        })()
    else:
        clients["twin"] = _Loop(twin)
    return clients


def child(url: str, workload: str, rounds: int, turn: int) -> dict:
    method, _, level = workload.partition("-")
    concurrency = 1 if level == "seq" else int(level)
    clients = _clients(url, method.upper(), concurrency)
    n = max(turn, concurrency * 8)
    for client in clients.values():  # warm-up: connections opened, caches hot
        client.turn(max(concurrency, 200), concurrency)
    samples: dict[str, list] = {name: [] for name in clients}
    names = list(clients)
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            wall, cpu = time.perf_counter(), time.process_time()
            clients[name].turn(n, concurrency)
            samples[name].append(((time.perf_counter() - wall) / n * 1e6,
                                  (time.process_time() - cpu) / n * 1e6))
    return samples


# --- the driver -----------------------------------------------------------------------------------
def _pin(cpus: str | None) -> list[str]:
    return ["taskset", "-c", cpus] if cpus else []


def _upstream(python: str, cpus: str | None = None):
    proc = subprocess.Popen([*_pin(cpus), python, str(HERE / "echo_server.py")],
                            stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    return proc, f"http://127.0.0.1:{int(proc.stdout.readline())}"


def _run_child(tree: str, url: str, workload: str, args, env_extra: dict) -> dict:
    env = {**os.environ, "PYTHONPATH": tree, **env_extra}
    out = subprocess.run(
        [*_pin(args.client_cpus), sys.executable, __file__, "--child", url, workload,
         str(args.rounds), str(args.turn)],
        env=env, capture_output=True, text=True, timeout=600, cwd=tree,
    )
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout)


def _summary(results: list[dict], ours: str) -> dict:
    ratios, cpu_ours, cpu_bare, wall_ours, wall_bare = [], [], [], [], []
    for samples in results:
        for (bw, bc), (ow, oc) in zip(samples["bare"], samples[ours], strict=False):
            ratios.append(ow / bw)
            wall_ours.append(ow), wall_bare.append(bw), cpu_ours.append(oc), cpu_bare.append(bc)
    med = statistics.median
    return {"ratio": med(ratios), "wall_us": med(wall_ours), "bare_wall_us": med(wall_bare),
            "cpu_us": med(cpu_ours), "bare_cpu_us": med(cpu_bare), "turns": len(ratios)}


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        url, workload, rounds, turn = sys.argv[2:6]
        print(json.dumps(child(url, workload, int(rounds), int(turn))))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", required=True)
    parser.add_argument("--after", required=True)
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--turn", type=int, default=500)
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--variants", default="before,after,after-stock",
                        help="X-stock: tree X with ASYNC_CORE_NO_UVLOOP=1")
    parser.add_argument("--out", default=None)
    parser.add_argument("--client-cpus", default=None, help="taskset -c list for the client")
    parser.add_argument("--server-cpus", default=None, help="taskset -c list for the upstream")
    args = parser.parse_args()
    trees = {"before": (args.before, {}), "after": (args.after, {}),
             "before-stock": (args.before, {"ASYNC_CORE_NO_UVLOOP": "1"}),
             "after-stock": (args.after, {"ASYNC_CORE_NO_UVLOOP": "1"})}
    variants = args.variants.split(",")
    proc, url = _upstream(sys.executable, args.server_cpus)
    report: dict = {}
    try:
        for workload in args.workloads.split(","):
            ours = "blocking" if workload.endswith("seq") else "twin"
            runs: dict[str, list] = {v: [] for v in variants}
            for _ in range(args.processes):
                for variant in variants:  # alternating: drift hits every variant alike
                    tree, extra = trees[variant]
                    runs[variant].append(_run_child(tree, url, workload, args, extra))
            report[workload] = {v: _summary(runs[v], ours) for v in variants}
            line = "  ".join(
                f"{v}: {s['ratio']:.3f}x ({s['cpu_us']:.0f} vs {s['bare_cpu_us']:.0f} cpu us)"
                for v, s in report[workload].items()
            )
            print(f"{workload:9s} {ours:8s} {line}", flush=True)
    finally:
        proc.stdin.close()
        proc.wait(10)
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
