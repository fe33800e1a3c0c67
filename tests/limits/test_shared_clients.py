"""Several client processes share one Redis window: against a loopback gateway that counts in
fixed windows (in its own process), together they are never refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlflow.deployments import get_deploy_client
from mlflow.exceptions import MlflowException
from mlflow.gateway.config import Limit
from mlflow.utils.throttling import throttle, throttle_storage
from tests.throttle.gateway_helpers import GatewayProcess
from tests.throttle.helpers import max_in_any_window

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("batch_worker.py")
MLFLOW_CLI = [sys.executable, "-c", "from mlflow.cli import cli; cli()"]


def _gateway(calls: int) -> GatewayProcess:
    limit = {"calls": calls, "renewal_period": "second"}
    return GatewayProcess([{"name": "chat", "endpoint_type": "llm/v1/chat", "limit": limit}])


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def test_four_processes_sharing_a_redis_scope_are_never_refused(redis_uri: str) -> None:
    """Two workers take the store from the environment variable, one from the CLI flag, one
    from ``throttle_storage``: 4 x 8 predictions at 10/s, 0 refused (small bursts: a loaded
    machine spreads a big one over more than the guard at the server)."""
    gateway = _gateway(10)
    try:
        procs = [
            subprocess.Popen(
                [sys.executable, str(WORKER), gateway.base_url, "chat", "8", f"env{i}"],
                env=_env(MLFLOW_DEPLOYMENTS_THROTTLE_STORAGE_URI=redis_uri),
                stdout=subprocess.PIPE,
                text=True,
            )
            for i in range(2)
        ]
        procs.append(
            subprocess.Popen(
                [sys.executable, str(WORKER), gateway.base_url, "chat", "8", "arg", redis_uri],
                env=_env(),
                stdout=subprocess.PIPE,
                text=True,
            )
        )
        inputs = ROOT / "build" / "limits-cli-inputs.jsonl"
        inputs.parent.mkdir(exist_ok=True)
        inputs.write_text(
            "".join(
                json.dumps({"messages": [{"role": "user", "content": f"cli-{i}"}]}) + "\n"
                for i in range(8)
            )
        )
        output = inputs.with_name(f"limits-cli-out-{os.getpid()}.jsonl")
        output.unlink(missing_ok=True)
        cli = subprocess.Popen(
            [*MLFLOW_CLI, "deployments", "predict-batch", "-t",
             gateway.base_url, "--endpoint", "chat", "-I", str(inputs), "-O", str(output),
             "--no-progress", "--throttle-storage", redis_uri],
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        summaries = [json.loads(p.communicate(timeout=60)[0]) for p in procs]
        _, err = cli.communicate(timeout=60)
        assert cli.returncode == 0, err
        assert [s["ok"] for s in summaries] == [8, 8, 8]
        assert len(output.read_text().splitlines()) == 8
        output.unlink()
        assert gateway.rejected == 0
        arrivals = gateway.arrivals()
        assert len(arrivals) == 32
        assert max_in_any_window(arrivals, 1.0) <= 10
        # Shared, not per process: 4 x 8 at 10/s needs at least 3 whole periods.
        assert arrivals[-1] - arrivals[0] >= 3.0
    finally:
        gateway.close()


def test_throttle_and_set_limit_take_a_storage_uri(redis_uri: str) -> None:
    with throttle(Limit(calls=5, renewal_period="second"), scope="api", storage_uri=redis_uri) as t:
        assert type(t.admission).__name__ == "LoopLocal"
        assert t.admission.store.kind == "redis"
    client = get_deploy_client("http://127.0.0.1:1")
    client.set_limit("chat", Limit(calls=5, renewal_period="second"), storage_uri=redis_uri)
    assert client._client_limits().get("chat")[1].store.kind == "redis"
    with throttle_storage(redis_uri):
        client.set_limit("other", {"calls": 3, "renewal_period": "minute"})
    assert client._client_limits().get("other")[1].store.kind == "redis"
    client.set_limit("local", {"calls": 3, "renewal_period": "minute"})
    assert type(client._client_limits().get("local")[1]).__name__ == "Admission"


@pytest.mark.parametrize(
    "uri", ["mysql://u:secret@h/0", "redis://:secret@h:port/0", "redis://:secret@h/x"]
)
def test_bad_storage_uris_are_refused_naming_them_without_the_password(uri: str) -> None:
    for attempt in (
        lambda: throttle({"calls": 1, "renewal_period": "second"}, scope="s", storage_uri=uri),
        lambda: get_deploy_client("http://127.0.0.1:1").set_limit(
            "chat", {"calls": 1, "renewal_period": "second"}, storage_uri=uri
        ),
        lambda: throttle_storage(uri),
    ):
        with pytest.raises(MlflowException, match="Invalid rate-limit storage URI") as info:
            attempt()
        assert "secret" not in str(info.value)
        assert info.value.error_code == "INVALID_PARAMETER_VALUE"


def test_the_cli_refuses_a_bad_storage_uri_before_reading_input(tmp_path: Path) -> None:
    result = subprocess.run(
        [*MLFLOW_CLI, "deployments", "predict-batch", "-t",
         "http://127.0.0.1:1", "--endpoint", "chat", "-I", str(tmp_path / "missing.jsonl"),
         "-O", str(tmp_path / "out.jsonl"), "--throttle-storage", "mysql://u:secret@h/0"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "Invalid rate-limit storage URI" in result.stderr and "secret" not in result.stderr


@pytest.mark.parametrize(
    ("limit", "named"),
    [
        ({"calls": 5, "renewal_period": 1e308}, "1e+308"),
        ({"calls": 5, "renewal_period": float("nan")}, "nan"),
        ({"calls": 5, "renewal_period": float("inf")}, "inf"),
        ({"calls": 5, "renewal_period": "999999 days"}, "86399913600"),
        ({"calls": 10**9, "renewal_period": "second"}, "1000000000"),
        ({"calls": float("nan"), "renewal_period": "second"}, "nan"),
    ],
)
def test_the_throttle_never_accepts_a_non_finite_or_absurd_limit(limit, named, redis_uri) -> None:
    for storage in (None, redis_uri):
        with pytest.raises(MlflowException, match="Invalid rate limit") as info:
            throttle(limit, scope="absurd", storage_uri=storage)
        assert named in str(info.value)
        assert info.value.error_code == "INVALID_PARAMETER_VALUE"
