"""A KEK rotation killed (SIGKILL) in the middle of its transaction leaves every secret under the
old key; rerunning the command completes it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from click.testing import CliRunner

from mlflow.cli import cli
from mlflow.store.gateway.sqlalchemy_store import GatewayStore
from tests.store.conftest import PASSPHRASE, TEST_ITERATIONS

NEW = "the-next-passphrase-after-the-kill-0000"
ROOT = Path(__file__).resolve().parents[2]

# Rotates with a hook that, after the second data key, says so and then hangs (inside the
# transaction), so the test can kill the process at that exact point.
CHILD = textwrap.dedent(
    """
    import asyncio, sys, time
    from mlflow.store.gateway.rotation import rotate_kek
    from mlflow.store.gateway.sqlalchemy_store import GatewayStore

    uri, old, new, marker = sys.argv[1:5]

    def hook(index):
        if index == 1:
            open(marker, "w").close()
            time.sleep(60)

    async def main():
        store = await GatewayStore.open(uri, passphrase=old)
        await rotate_kek(store, old, new, on_secret=hook)

    asyncio.run(main())
    """
)


def _run(coro):
    return asyncio.run(coro)


async def _seed(uri: str) -> list[str]:
    store = await GatewayStore.open(uri, passphrase=PASSPHRASE, kdf_iterations=TEST_ITERATIONS)
    try:
        return [
            (await store.create_secret(f"s{i}", {"api_key": f"sk-kill-{i}-{'y' * 16}"})).secret_id
            for i in range(4)
        ]
    finally:
        await store.aclose()


async def _values(uri: str, passphrase: str, ids: list[str]) -> list[str]:
    store = await GatewayStore.open(uri, passphrase=passphrase)
    try:
        return [(await store.get_secret_value(i))[0]["api_key"] for i in ids]
    finally:
        await store.aclose()


def test_rotation_killed_midway_then_rerun(tmp_path, db_uri):
    ids = _run(_seed(db_uri))
    marker = tmp_path / "midway"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, db_uri, PASSPHRASE, NEW, str(marker)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert child.poll() is None, child.stderr.read().decode()
            assert time.monotonic() < deadline, "the rotation never reached its second key"
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(10)
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL

    # Killed inside the transaction: every secret still opens with the old passphrase.
    expected = [f"sk-kill-{i}-{'y' * 16}" for i in range(4)]
    assert _run(_values(db_uri, PASSPHRASE, ids)) == expected

    runner = CliRunner()
    result = runner.invoke(
        cli,
        ["crypto", "rotate-kek", "--backend-store-uri", db_uri],
        env={"MLFLOW_CRYPTO_KEK_PASSPHRASE": PASSPHRASE, "MLFLOW_CRYPTO_NEW_KEK_PASSPHRASE": NEW},
    )
    assert result.exit_code == 0, result.output
    assert "Re-wrapped 4 secret data key(s)" in result.output
    assert _run(_values(db_uri, NEW, ids)) == expected
