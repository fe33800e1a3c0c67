"""The store against a real PostgreSQL (asyncpg), when the server binaries are installed:
initdb into a temp dir, start on a free loopback port (as the ``postgres`` user when we are
root: PostgreSQL refuses to run as root), run the store's scenario, stop. Skipped only when
pg_ctl is absent."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from mlflow.exceptions import MlflowException
from mlflow.store.gateway.rotation import rotate_kek
from mlflow.store.gateway.sqlalchemy_store import GatewayStore
from tests.store.conftest import PASSPHRASE, TEST_ITERATIONS

PG_BIN = Path(os.environ.get("MLFLOW_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(args: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return args
    if shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: cannot start PostgreSQL")
    return ["runuser", "-u", "postgres", "--", *args]


@pytest.fixture(scope="module")
def postgres_uri():
    pg_ctl = PG_BIN / "pg_ctl"
    if not pg_ctl.exists():
        pytest.skip(f"PostgreSQL is not installed ({pg_ctl} is absent)")
    pytest.importorskip("asyncpg")
    started = time.monotonic()
    data = Path(tempfile.mkdtemp(prefix="mlflow-pg-"))
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
    port = _free_port()
    run = dict(check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
    try:
        subprocess.run(
            _as_postgres(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(data / "db"),
                    "-A",
                    "trust",
                    "-U",
                    "gateway",
                    "--no-sync",
                ]
            ),
            **run,
        )
        options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            _as_postgres(
                [
                    str(pg_ctl),
                    "-D",
                    str(data / "db"),
                    "-o",
                    options,
                    "-w",
                    "-l",
                    str(data / "log"),
                    "start",
                ]
            ),
            **run,
        )
        print(f"\nPostgreSQL initdb + start took {time.monotonic() - started:.2f} s")
        yield f"postgresql://gateway@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_postgres([str(pg_ctl), "-D", str(data / "db"), "-m", "immediate", "stop"]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )
        shutil.rmtree(data, ignore_errors=True)


async def test_store_on_postgres(postgres_uri):
    started = time.monotonic()
    store = await GatewayStore.open(
        postgres_uri, passphrase=PASSPHRASE, kdf_iterations=TEST_ITERATIONS
    )
    try:
        secret = await store.create_secret("k", {"api_key": "sk-postgres-000000000000"})
        definition = await store.create_model_definition("m", secret.secret_id, "openai", "gpt")
        endpoint = await store.create_endpoint(
            "chat",
            [{"model_definition_id": definition.model_definition_id, "weight": 0.3}],
            tags=[{"key": "k", "value": "v"}],
        )
        await store.create_endpoint_binding(endpoint.endpoint_id, "scorer_job", "job")
        assert (await store.get_endpoint(name="chat")) == endpoint
        with pytest.raises(MlflowException) as info:
            await store.create_endpoint("chat", [])
        assert info.value.error_code == "RESOURCE_ALREADY_EXISTS"
        with pytest.raises(MlflowException, match="5001 characters"):
            await store.set_endpoint_tag(endpoint.endpoint_id, "k", "v" * 5001)
        version = await store.config_version()
        await store.delete_endpoint(endpoint.endpoint_id)
        assert await store.config_version() == version + 1
        assert await store.list_endpoint_bindings() == []
        resolved_value, _ = await store.get_secret_value(secret.secret_id)
        assert resolved_value == {"api_key": "sk-postgres-000000000000"}
        result = await rotate_kek(store, PASSPHRASE, PASSPHRASE + "-new")
        assert (result.rotated, result.new_version) == (1, 2)
    finally:
        await store.aclose()
    reopened = await GatewayStore.open(postgres_uri, passphrase=PASSPHRASE + "-new")
    try:
        assert (await reopened.get_secret_value(secret.secret_id))[0]["api_key"].startswith("sk-")
    finally:
        await reopened.aclose()
    print(f"store scenario on PostgreSQL took {time.monotonic() - started:.2f} s")
