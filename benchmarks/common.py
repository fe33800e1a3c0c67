"""Shared pieces of the benchmarks: the upstream process, bounded load loops, statistics, RSS and
a description of the machine."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAYLOAD = {"messages": [{"role": "user", "content": "hello"}], "temperature": 0.0}
# Every load loop stops at its request count or after this many seconds, whichever comes first.
DEFAULT_TIME_CAP = 30.0


# --- the upstream ---------------------------------------------------------------------------------
@contextlib.contextmanager
def child_server(
    command: list[str], what: str, timeout: float = 15.0
) -> Iterator[tuple[int, subprocess.Popen]]:
    """Run a server that prints its port on its first line and exits when its stdin closes;
    yield (port, process). ``what`` names it in the start-up error."""
    proc = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        yield int(_readline(proc, timeout, what)), proc
    finally:
        with contextlib.suppress(OSError):
            proc.stdin.close()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.terminate()
            proc.wait(5)
        proc.stdout.close()


@contextlib.contextmanager
def upstream(*args: str, timeout: float = 15.0) -> Iterator[str]:
    """Run ``benchmarks/echo_server.py`` in its own process; yield its base URL."""
    command = [sys.executable, str(ROOT / "benchmarks" / "echo_server.py"), *args]
    with child_server(command, "the benchmark upstream", timeout) as (port, _):
        yield f"http://127.0.0.1:{port}"


def _readline(proc: subprocess.Popen, timeout: float, what: str) -> str:
    result: list[str] = []

    def read() -> None:
        result.append(proc.stdout.readline())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    if not result or not result[0].strip():
        proc.kill()
        raise RuntimeError(f"{what} did not start within {timeout:.0f} s")
    return result[0]


def upstream_stats(url: str) -> dict[str, int]:
    with urllib.request.urlopen(url + "/__stats", timeout=5) as response:  # loopback only
        return json.loads(response.read())


# --- bounded load loops ---------------------------------------------------------------------------
@dataclass(slots=True)
class Run:
    """What one timed loop did: how many calls completed and in how many seconds."""

    count: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0

    @property
    def us_per_call(self) -> float:
        return self.seconds / self.count * 1e6 if self.count else float("inf")


async def in_flight(
    call: Callable[[], Awaitable[object]], n: int, concurrency: int, time_cap: float
) -> Run:
    """``n`` calls with ``concurrency`` in flight (fewer if ``time_cap`` seconds run out)."""
    remaining = n
    done = 0
    deadline = time.perf_counter() + time_cap

    async def worker() -> None:
        nonlocal remaining, done
        while remaining > 0 and time.perf_counter() < deadline:
            remaining -= 1
            await call()
            done += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(concurrency, n))))
    return Run(done, time.perf_counter() - start)


def sequential(call: Callable[[], object], n: int, time_cap: float) -> Run:
    """``n`` blocking calls one after another (fewer if ``time_cap`` seconds run out)."""
    deadline = time.perf_counter() + time_cap
    done = 0
    start = time.perf_counter()
    while done < n and time.perf_counter() < deadline:
        call()
        done += 1
    return Run(done, time.perf_counter() - start)


# --- statistics -----------------------------------------------------------------------------------
@dataclass(slots=True)
class Samples:
    """One figure measured over several interleaved rounds."""

    unit: str
    higher_is_better: bool
    values: list[float] = field(default_factory=list)

    def add(self, value: float) -> None:
        self.values.append(value)

    @property
    def best(self) -> float:
        return max(self.values) if self.higher_is_better else min(self.values)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def to_json(self) -> dict:
        return {
            "unit": self.unit,
            "best": self.best,
            "median": self.median,
            "rounds": self.values,
        }


def paired_ratio(ours: Samples, base: Samples) -> float:
    """Median over rounds of ours / base within the same round: robust to drift between rounds."""
    return statistics.median(a / b for a, b in zip(ours.values, base.values, strict=False) if b)


# --- memory ---------------------------------------------------------------------------------------
def rss_mb() -> float:
    """Resident set size of this process in MB (VmRSS; the peak from getrusage elsewhere)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


# --- the machine ----------------------------------------------------------------------------------
def machine() -> dict[str, object]:
    import aiohttp

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    from mlflow.version import VERSION as ours
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "aiohttp": aiohttp.__version__,
        "mlflow_aio": ours,
        "platform": platform.platform(),
        "load_average_at_start": load,
    }


def describe_machine(info: dict[str, object]) -> str:
    load = info.get("load_average_at_start")
    load_text = "" if not load else f", load {load[0]:.2f} at start"
    return (
        f"{info['cpu']}, {info['cores']} cores ({info['usable_cores']} usable), "
        f"{info['implementation']} {info['python']}, aiohttp {info['aiohttp']}, "
        f"mlflow-aio {info['mlflow_aio']}{load_text}"
    )
