"""Run ``benchmarks/mlflow_peer.py`` with the interpreter of a separate virtualenv that holds the
real ``mlflow`` package (``benchmarks.run --mlflow-venv PATH``)."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT

SCRIPT = ROOT / "benchmarks" / "mlflow_peer.py"


def peer_python(venv: str | None) -> tuple[Path | None, str | None]:
    """The venv's interpreter, or None and the reason the peer is skipped."""
    if not venv:
        return None, "no --mlflow-venv given"
    for candidate in ("bin/python", "Scripts/python.exe"):
        python = Path(venv).expanduser() / candidate
        if python.exists():
            return python, None
    return None, f"--mlflow-venv {venv}: no interpreter at {venv}/bin/python"


def check_peer(python: Path) -> tuple[str | None, str | None]:
    """MLflow's version in that venv, or None and why it cannot be used."""
    probe = "import mlflow, mlflow.utils.rest_utils, mlflow.deployments; print(mlflow.__version__)"
    try:
        done = subprocess.run(
            [str(python), "-c", probe],
            capture_output=True, text=True, timeout=120, cwd=tempfile.gettempdir(), env=_env(),
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, f"cannot run {python}: {e}"
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        return None, f"{python} cannot import mlflow ({tail[0]}); pip install mlflow-skinny there"
    return done.stdout.strip(), None


def run_peer(python: Path, job: dict[str, Any], timeout: float) -> dict[str, Any]:
    """One peer run; its JSON, or ``{"error": ...}``."""
    try:
        done = subprocess.run(
            [str(python), str(SCRIPT), "--job", json.dumps(job)],
            capture_output=True, text=True, timeout=timeout,
            cwd=tempfile.gettempdir(), env=_env(),
        )
    except subprocess.TimeoutExpired:
        return {"error": f"the MLflow peer did not finish within {timeout:.0f} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        return {"error": f"the MLflow peer failed (exit {done.returncode}): {tail}"}
    return json.loads(lines[-1])


def _env() -> dict[str, str]:
    # Nothing from this checkout may shadow the real mlflow in the peer's interpreter.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.pop("VIRTUAL_ENV", None)
    return env
