"""Secrets at rest: nothing secret in the database file, tampering and wrong passphrases refused
with clear errors, the decrypted-value cache, and KEK rotation (atomic and idempotent)."""

from __future__ import annotations

import base64
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlflow.cli import cli
from mlflow.exceptions import MlflowException
from mlflow.store.gateway.rotation import rotate_kek
from mlflow.store.gateway.sqlalchemy_store import GatewayStore
from mlflow.utils import crypto
from tests.store.conftest import PASSPHRASE, TEST_ITERATIONS

API_KEY = "sk-live-abcdefghijklmnopqrstuvwxyz0123456789"
NEW_PASSPHRASE = "the-new-passphrase-9876543210-zyxwvutsrq"


def _db_path(uri: str) -> Path:
    return Path(uri.removeprefix("sqlite:///"))


def _raw_bytes(uri: str) -> bytes:
    path = _db_path(uri)
    # The write-ahead log holds recent pages too: search both files.
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


def _row(uri: str, secret_id: str) -> tuple[bytes, bytes]:
    with sqlite3.connect(_db_path(uri)) as conn:
        return conn.execute(
            "SELECT encrypted_value, wrapped_dek FROM gateway_secrets WHERE secret_id = ?",
            (secret_id,),
        ).fetchone()


def _write(uri: str, sql: str, *args) -> None:
    with sqlite3.connect(_db_path(uri)) as conn:
        conn.execute(sql, args)


async def test_database_file_holds_no_key_material(store, db_uri):
    info = await store.create_secret("k", {"api_key": API_KEY}, "openai")
    assert info.masked_values == {"api_key": "sk-...6789"}
    assert API_KEY not in repr(info) and API_KEY not in str(info.to_dict())
    value, _ = await store.get_secret_value(info.secret_id)
    assert value == {"api_key": API_KEY}

    kek = await store.kek()
    _, wrapped = _row(db_uri, info.secret_id)
    dek = kek.open(wrapped, crypto.dek_aad(info.secret_id))
    raw = _raw_bytes(db_uri)
    for needle in (API_KEY.encode(), API_KEY[8:24].encode(), PASSPHRASE.encode(), dek, kek._key):
        assert needle not in raw
        assert base64.b64encode(needle) not in raw
    assert repr(kek) == "KeyEncryptionKey(version=1)"


async def test_tampered_ciphertext_is_refused(store, db_uri):
    info = await store.create_secret("k", {"api_key": API_KEY})
    encrypted, wrapped = _row(db_uri, info.secret_id)
    flipped = bytes([encrypted[-1] ^ 1])
    _write(
        db_uri,
        "UPDATE gateway_secrets SET encrypted_value = ? WHERE secret_id = ?",
        encrypted[:-1] + flipped,
        info.secret_id,
    )
    with pytest.raises(MlflowException, match="Cannot decrypt secret 'k'.*failed authentication"):
        await store.get_secret_value(info.secret_id)
    # A wrapped data key that was altered.
    _write(
        db_uri,
        "UPDATE gateway_secrets SET encrypted_value = ?, wrapped_dek = ? WHERE secret_id = ?",
        encrypted,
        wrapped[:-1] + bytes([wrapped[-1] ^ 1]),
        info.secret_id,
    )
    with pytest.raises(MlflowException, match="data key does not open") as info_:
        await store.get_secret_value(info.secret_id)
    assert API_KEY not in info_.value.message


async def test_ciphertext_moved_between_secrets_is_refused(store, db_uri):
    first = await store.create_secret("a", {"api_key": API_KEY})
    second = await store.create_secret("b", {"api_key": "sk-other-0000000000000"})
    encrypted, wrapped = _row(db_uri, first.secret_id)
    _write(
        db_uri,
        "UPDATE gateway_secrets SET encrypted_value = ?, wrapped_dek = ? WHERE secret_id = ?",
        encrypted,
        wrapped,
        second.secret_id,
    )
    with pytest.raises(MlflowException, match="Cannot decrypt secret 'b'"):
        await store.get_secret_value(second.secret_id)


async def test_wrong_and_missing_passphrase(store, db_uri, monkeypatch):
    await store.create_secret("k", {"api_key": API_KEY})
    wrong = await GatewayStore.open(db_uri, passphrase="not-the-passphrase")
    try:
        with pytest.raises(MlflowException, match="MLFLOW_CRYPTO_KEK_PASSPHRASE does not match"):
            await wrong.list_secret_infos() and await wrong.kek()
        with pytest.raises(MlflowException, match="does not match"):
            await wrong.create_secret("k2", {"api_key": "x"})
    finally:
        await wrong.aclose()
    monkeypatch.delenv(crypto.CRYPTO_KEK_PASSPHRASE_ENV_VAR, raising=False)
    unset = await GatewayStore.open(db_uri)
    try:
        with pytest.raises(MlflowException, match="MLFLOW_CRYPTO_KEK_PASSPHRASE is not set"):
            await unset.create_secret("k3", {"api_key": "x"})
        # Reading metadata needs no passphrase.
        assert [s.secret_name for s in await unset.list_secret_infos()] == ["k"]
    finally:
        await unset.aclose()


def test_cache_ttl_and_size():
    now = [0.0]
    cache = crypto.SecretsCache(ttl=60, max_size=2, clock=lambda: now[0])
    cache.put("a", {"v": 1})
    cache.put("b", {"v": 2})
    assert cache.get("a") == {"v": 1}  # a is now the most recently used
    cache.put("c", {"v": 3})
    assert cache.get("b") is None and cache.get("a") is not None and len(cache) == 2
    now[0] = 60.0
    assert cache.get("a") is None
    assert "v" not in repr(cache)


def test_cache_settings_come_from_the_seed_variables(monkeypatch):
    assert crypto.secrets_cache_ttl() == 60 and crypto.secrets_cache_max_size() == 1000
    monkeypatch.setenv("MLFLOW_SERVER_SECRETS_CACHE_TTL", "5")
    with pytest.raises(MlflowException, match="between 10 and 300, got '5'"):
        crypto.secrets_cache_ttl()
    monkeypatch.setenv("MLFLOW_SERVER_SECRETS_CACHE_TTL", "120")
    monkeypatch.setenv("MLFLOW_SERVER_SECRETS_CACHE_MAX_SIZE", "7")
    cache = crypto.SecretsCache()
    assert (cache.ttl, cache.max_size) == (120, 7)


async def test_decrypted_values_are_cached_until_the_secret_changes(store):
    info = await store.create_secret("k", {"api_key": API_KEY})
    await store.get_secret_value(info.secret_id)
    assert len(store.secrets_cache) == 1
    await store.update_secret(info.secret_id, {"api_key": "sk-rotated-000000000000"})
    value, _ = await store.get_secret_value(info.secret_id)
    assert value == {"api_key": "sk-rotated-000000000000"}


async def _secrets(store, count=3):
    return [
        await store.create_secret(f"s{i}", {"api_key": f"sk-key-{i}-{'x' * 20}"})
        for i in range(count)
    ]


async def test_rotation_interrupted_midway_then_rerun(store, db_uri):
    secrets = await _secrets(store)
    before = {s.secret_id: _row(db_uri, s.secret_id) for s in secrets}

    def crash(index):
        if index == 1:
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError, match="power cut"):
        await rotate_kek(store, PASSPHRASE, NEW_PASSPHRASE, on_secret=crash)
    # Nothing changed: every data key still under the old KEK, which still opens them.
    assert {s.secret_id: _row(db_uri, s.secret_id) for s in secrets} == before
    old = await GatewayStore.open(db_uri, passphrase=PASSPHRASE)
    try:
        assert (await old.get_secret_value(secrets[2].secret_id))[0]["api_key"].startswith("sk-")
    finally:
        await old.aclose()

    result = await rotate_kek(store, PASSPHRASE, NEW_PASSPHRASE)
    assert (result.rotated, result.old_version, result.new_version) == (3, 1, 2)
    again = await rotate_kek(store, PASSPHRASE, NEW_PASSPHRASE)
    assert again.already_done and again.rotated == 0

    with sqlite3.connect(_db_path(db_uri)) as conn:
        assert conn.execute("SELECT DISTINCT kek_version FROM gateway_secrets").fetchall() == [(2,)]
    for secret in secrets:  # values untouched, data keys re-wrapped
        encrypted, wrapped = _row(db_uri, secret.secret_id)
        assert encrypted == before[secret.secret_id][0] and wrapped != before[secret.secret_id][1]

    new = await GatewayStore.open(db_uri, passphrase=NEW_PASSPHRASE)
    stale = await GatewayStore.open(db_uri, passphrase=PASSPHRASE)
    try:
        value, _ = await new.get_secret_value(secrets[0].secret_id)
        assert value == {"api_key": f"sk-key-0-{'x' * 20}"}
        with pytest.raises(
            MlflowException, match=r"does not match the key-encryption key \(version 2"
        ):
            await stale.get_secret_value(secrets[0].secret_id)
    finally:
        await new.aclose()
        await stale.aclose()


async def test_rotation_with_wrong_old_passphrase_changes_nothing(store, db_uri):
    (secret,) = await _secrets(store, 1)
    before = _row(db_uri, secret.secret_id)
    with pytest.raises(MlflowException, match="does not match"):
        await rotate_kek(store, "wrong-old", NEW_PASSPHRASE)
    with pytest.raises(MlflowException, match="same as the current one"):
        await rotate_kek(store, PASSPHRASE, PASSPHRASE)
    assert _row(db_uri, secret.secret_id) == before


def test_cli_rotate_kek(db_uri, monkeypatch):
    import asyncio

    async def seed():
        store = await GatewayStore.open(
            db_uri, passphrase=PASSPHRASE, kdf_iterations=TEST_ITERATIONS
        )
        try:
            await _secrets(store, 2)
        finally:
            await store.aclose()

    asyncio.run(seed())
    runner = CliRunner()
    args = ["crypto", "rotate-kek", "--backend-store-uri", db_uri]
    refused = runner.invoke(cli, [*args, "--new-passphrase", "visible-in-ps-123"])
    assert refused.exit_code == 2
    assert "not accepted on the command line" in refused.output
    assert "visible-in-ps-123" not in refused.output

    env = {"MLFLOW_CRYPTO_KEK_PASSPHRASE": PASSPHRASE}
    prompted = runner.invoke(cli, args, env=env, input=f"{NEW_PASSPHRASE}\n{NEW_PASSPHRASE}\n")
    assert prompted.exit_code == 0, prompted.output
    assert "Re-wrapped 2 secret data key(s): KEK version 1 -> 2" in prompted.output
    assert NEW_PASSPHRASE not in prompted.output

    rerun = runner.invoke(
        cli, args, env={**env, "MLFLOW_CRYPTO_NEW_KEK_PASSPHRASE": NEW_PASSPHRASE}
    )
    assert rerun.exit_code == 0 and "Already rotated" in rerun.output

    wrong = runner.invoke(
        cli,
        args,
        env={"MLFLOW_CRYPTO_KEK_PASSPHRASE": "nope", "MLFLOW_CRYPTO_NEW_KEK_PASSPHRASE": "x2"},
    )
    assert wrong.exit_code == 1 and "does not match" in wrong.output
    missing = runner.invoke(cli, args, env={"MLFLOW_CRYPTO_KEK_PASSPHRASE": ""})
    assert missing.exit_code == 1 and "MLFLOW_CRYPTO_KEK_PASSPHRASE is not set" in missing.output


async def test_server_refuses_to_start_with_a_wrong_passphrase(store, db_uri, monkeypatch):
    from aiohttp.test_utils import TestServer

    from mlflow.gateway.server.app import create_app
    from mlflow.gateway.server.options import ServerOptions

    await store.create_secret("k", {"api_key": API_KEY})
    monkeypatch.setenv("MLFLOW_CRYPTO_KEK_PASSPHRASE", "not-the-right-one")
    server = TestServer(create_app(ServerOptions(backend_store_uri=db_uri)))
    with pytest.raises(MlflowException, match="does not match the key-encryption key"):
        await server.start_server()
    await server.close()
