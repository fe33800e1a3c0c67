"""Instructions per request, counted by valgrind's callgrind: a steady figure beside the timed
benchmarks, whose wall and CPU times move by tens of percent between runs on a shared VM.

    python -m benchmarks.bench_instructions [--sections gateway,client] [--requests 1000]
                                            [--mlflow-venv /work/mlflow-venv]

Needs ``valgrind`` (``apt-get install valgrind``). Counts are of the process under test only (all
its threads), on the same loopback upstreams as ``bench_gateway`` and ``bench_paired``, so they
compare like for like within a run; they are a proxy for CPU time, not a measure of it (code
that spends its instructions in C, like uvloop or httptools, runs more of them per second than
the interpreter does).

- **gateway**: each gateway (ours with every layer, the bare aiohttp proxy, and MLflow's own
  gateway when ``--mlflow-venv`` has it) runs under callgrind in front of the fake OpenAI upstream
  of ``bench_gateway``. After a warm-up of 200 requests the counters are zeroed
  (``callgrind_control --zero``), ``--requests`` chat requests are sent at 32 concurrent, and the
  counters are dumped: instructions over requests. MLflow's gateway runs as the uvicorn worker
  ``mlflow gateway start`` runs under gunicorn (uvloop, httptools, no access log).
- **client**: the client process runs under callgrind twice per workload, with n and n + N
  requests after the same warm-up; the difference over N removes start-up. Bare aiohttp, our
  awaited ``ahttp_request`` and the blocking ``http_request`` against ``echo_server.py``.

Writes ``benchmarks/results/instructions.md`` and prints it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks.bench_gateway import (
    AUTH,
    CALLER_KEY,
    CALLER_KEYS_ENV,
    CHAT,
    FLOOR,
    RESULTS,
    _free_port,
    gateway_process,
    upstream_process,
    write_config,
)
from benchmarks.common import ROOT, upstream

CONCURRENCY = 32
WARM_UP = 200
START_TIMEOUT = 600.0  # start-up under valgrind is ~50x slower than native
# Both MLflow's and our hash seeds fixed: dict and set layouts, so the counts, repeat.
_SEED = {"PYTHONHASHSEED": "0"}
_SUMMARY = re.compile(rb"^summary:\s+(\d+)", re.MULTILINE)


def _callgrind(out_file: str) -> list[str]:
    return ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}"]


def _instructions(dump: Path) -> int:
    match = _SUMMARY.search(dump.read_bytes())
    if match is None:
        raise RuntimeError(f"{dump} has no 'summary:' line: not a callgrind dump")
    return int(match.group(1))


# --- gateways -------------------------------------------------------------------------------------
async def _load(url: str, requests: int) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        counter = iter(range(requests))

        async def worker() -> None:
            for _ in counter:
                async with session.post(url, json=CHAT, headers=AUTH) as r:
                    await r.read()
                    if r.status != 200:
                        raise RuntimeError(f"{url} answered {r.status}")

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


def _control(pid: int, option: str, health: str) -> None:
    """Run ``callgrind_control option pid``. Valgrind reads the command when the process next
    runs, so an idle server is woken with health requests until the command is answered."""
    control = subprocess.Popen(["callgrind_control", option, str(pid)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while control.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            urllib.request.urlopen(health, timeout=5).close()
        time.sleep(0.5)
    if control.poll() is None:
        control.kill()
    if control.wait() != 0:
        raise RuntimeError(f"callgrind_control {option} {pid} failed: {control.stderr.read()}")


def _count_gateway(pid: int, base: str, requests: int, out_dir: Path) -> int:
    url, health = f"{base}/endpoints/chat/invocations", f"{base}/health"
    asyncio.run(_load(url, WARM_UP))
    _control(pid, "--zero", health)
    asyncio.run(_load(url, requests))
    before = set(out_dir.iterdir())
    _control(pid, "--dump=load", health)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        dumps = [p for p in set(out_dir.iterdir()) - before if p.stat().st_size > 0]
        if dumps:
            time.sleep(1)  # let valgrind finish writing it
            return _instructions(dumps[0])
        time.sleep(0.2)
    raise RuntimeError(f"callgrind wrote no dump for pid {pid} within 120 s")


def gateway_section(requests: int, mlflow_venv: str | None) -> list[tuple[str, float]]:
    rows = []
    with contextlib.ExitStack() as stack:
        up, _ = stack.enter_context(upstream_process())
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        config = write_config(up, str(tmp))
        targets = []
        port = _free_port()
        targets.append(("mlflow-aio gateway", port, [
            sys.executable, "-m", "mlflow.cli", "gateway", "start", "--config-path", config,
            "--port", str(port), "--workers", "1", "--reload-interval", "0",
            "--api-keys-env", CALLER_KEYS_ENV,
        ], {**os.environ, "PYTHONPATH": str(ROOT), CALLER_KEYS_ENV: f"bench:{CALLER_KEY}"},
            str(ROOT)))
        port = _free_port()
        targets.append((FLOOR, port, [sys.executable, str(ROOT / "benchmarks" / "bare_proxy.py"),
                                      up, str(port)], dict(os.environ), str(ROOT)))
        python = Path(mlflow_venv or "", "bin", "python")
        if mlflow_venv and python.exists():
            port = _free_port()
            env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
            # The worker `mlflow gateway start` runs (mlflow/gateway/runner.py: gunicorn's
            # UvicornWorker, which keeps uvicorn's access log off), without gunicorn's master:
            # callgrind_control cannot reach a forked worker, and the master serves nothing.
            env.update(MLFLOW_GATEWAY_CONFIG=config,
                       MLFLOW_GATEWAY_RESOLVE_API_KEY_FROM_ENV="true",
                       MLFLOW_GATEWAY_RESOLVE_API_KEY_FROM_FILE="true")
            targets.append(("MLflow gateway", port, [
                str(python), "-m", "uvicorn", "--factory", "mlflow.gateway.app:create_app_from_env",
                "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
            ], env, str(tmp)))
        for name, port, command, env, cwd in targets:
            out_dir = tmp / re.sub(r"\W+", "-", name)
            out_dir.mkdir()
            print(f"gateway: {name} (start-up under valgrind takes a minute or two)", flush=True)
            wrapped = [*_callgrind(str(out_dir / "cg.%p")), *command]
            with gateway_process(wrapped, port, cwd, {**env, **_SEED}, START_TIMEOUT,
                                 60.0) as pid:
                base = f"http://127.0.0.1:{port}"
                rows.append((name, _count_gateway(pid, base, requests, out_dir) / requests))
    return rows


# --- clients --------------------------------------------------------------------------------------
_CLIENT = r"""
import asyncio, sys
url, kind, n, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
path, method = "/v1/chat/completions", "POST"
body = {"messages": [{"role": "user", "content": "hello"}], "temperature": 0.0}
if kind == "blocking":
    from mlflow.utils.rest_utils import MlflowHostCreds, http_request
    creds = MlflowHostCreds(url)
    for _ in range(n):
        http_request(creds, path, method, json=body)
    sys.exit(0)

async def main():
    if kind == "bare":
        import aiohttp
        session = aiohttp.ClientSession()
        async def call():
            async with session.post(url + path, json=body) as r:
                await r.read()
    else:
        from mlflow.utils.rest_utils import MlflowHostCreds, ahttp_request
        creds = MlflowHostCreds(url)
        async def call():
            await ahttp_request(creds, path, method, json=body)
    counter = iter(range(n))
    async def worker():
        for _ in counter:
            await call()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    if kind == "bare":
        await session.close()

asyncio.run(main())
"""


def _count_client(url: str, kind: str, n: int, concurrency: int, tmp: Path) -> int:
    out = tmp / f"{kind}-{concurrency}-{n}.out"
    subprocess.run(
        [*_callgrind(str(out)), sys.executable, "-c", _CLIENT, url, kind, str(n),
         str(concurrency)],
        check=True, capture_output=True, timeout=1800, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **_SEED},
    )
    return _instructions(out)


def client_section(requests: int) -> list[tuple[str, float]]:
    rows = []
    with upstream() as url, tempfile.TemporaryDirectory() as tmp:
        for label, kind, concurrency in [
            ("bare aiohttp, 64 in flight", "bare", 64),
            ("ahttp_request, 64 in flight", "twin", 64),
            ("bare aiohttp, sequential", "bare", 1),
            ("http_request (blocking), sequential", "blocking", 1),
        ]:
            print(f"client: {label}", flush=True)
            small = _count_client(url, kind, WARM_UP, concurrency, Path(tmp))
            large = _count_client(url, kind, WARM_UP + requests, concurrency, Path(tmp))
            rows.append((label, (large - small) / requests))
    return rows


# --- report ---------------------------------------------------------------------------------------
def report(gateway: list[tuple[str, float]], client: list[tuple[str, float]], requests: int) -> str:
    lines = ["# Instructions per request (callgrind)", "",
             f"{requests} counted requests per target after a warm-up of {WARM_UP}; "
             "PYTHONHASHSEED=0.", ""]
    if gateway:
        by_name = dict(gateway)
        mlflow = by_name.get("MLflow gateway")
        lines += ["## Gateways (the gateway process: chat at 32 concurrent)", "",
                  "| target | instructions per request | MLflow's / this | this / floor |",
                  "|---|---|---|---|"]
        for name, count in gateway:
            vs_mlflow = f"{mlflow / count:.2f}x" if mlflow else "-"
            lines.append(f"| {name} | {count / 1e6:.3f} M | {vs_mlflow} | "
                         f"{count / by_name[FLOOR]:.2f}x |")
        lines.append("")
    if client:
        lines += ["## Client (the client process, all threads: chat POSTs)", "",
                  "| workload | instructions per request | / bare aiohttp |", "|---|---|---|"]
        bare = {1: None, 64: None}
        for label, count in client:
            level = 64 if "64" in label else 1
            if label.startswith("bare"):
                bare[level] = count
            ratio = f"{count / bare[level]:.2f}x" if bare[level] else "-"
            lines.append(f"| {label} | {count / 1e3:.1f} K | {ratio} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sections", default="gateway,client")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--mlflow-venv", default=os.environ.get("MLFLOW_VENV",
                                                                "/work/mlflow-venv"))
    args = parser.parse_args()
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        sys.exit("bench_instructions needs valgrind: apt-get install valgrind")
    if args.requests < 1:
        sys.exit(f"--requests must be at least 1, got {args.requests}")
    sections = set(args.sections.split(","))
    gateway = gateway_section(args.requests, args.mlflow_venv) if "gateway" in sections else []
    client = client_section(args.requests) if "client" in sections else []
    text = report(gateway, client, args.requests)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "instructions.md").write_text(text + "\n")
    print(text)
    print(f"written: {RESULTS / 'instructions.md'}")


if __name__ == "__main__":
    main()
