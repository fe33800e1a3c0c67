"""Fixtures for the gateway store tests: a store on a real SQLite file in a temp directory."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import threading

import pytest
from aiohttp import web

from mlflow.store.gateway.sqlalchemy_store import GatewayStore

PASSPHRASE = "test-passphrase-0123456789-abcdefghij"
# Fast key derivation for tests; production databases use 600,000 iterations.
TEST_ITERATIONS = 1000


@pytest.fixture(scope="session")
def template_db(tmp_path_factory):
    """A migrated database with its KDF settings and check token, built once: each test copies
    it instead of running the migrations again."""
    path = tmp_path_factory.mktemp("template") / "gateway.db"

    async def build():
        store = await GatewayStore.open(
            f"sqlite:///{path}", passphrase=PASSPHRASE, kdf_iterations=TEST_ITERATIONS
        )
        try:
            await store.kek()
        finally:
            await store.aclose()

    # Its own thread and loop: a session fixture may be set up while a test's loop runs.
    thread = threading.Thread(target=asyncio.run, args=(build(),))
    thread.start()
    thread.join(60)
    return path


@pytest.fixture
def db_uri(tmp_path, template_db):
    target = tmp_path / "gateway.db"
    shutil.copyfile(template_db, target)
    return f"sqlite:///{target}"


@pytest.fixture
async def store(db_uri):
    store = await GatewayStore.open(db_uri, passphrase=PASSPHRASE, kdf_iterations=TEST_ITERATIONS)
    yield store
    await store.aclose()


@pytest.fixture
def passphrase_env(monkeypatch):
    monkeypatch.setenv("MLFLOW_CRYPTO_KEK_PASSPHRASE", PASSPHRASE)


@pytest.fixture
async def openai_definition(store):
    secret = await store.create_secret("openai-key", {"api_key": "sk-test-key-1234567890"})
    return await store.create_model_definition("gpt", secret.secret_id, "openai", "gpt-4o-mini")


@contextlib.contextmanager
def serve_in_thread(make_app):
    """Run ``make_app()`` on its own event loop in a thread (so blocking clients can call it);
    yields the base URL."""
    started = threading.Event()
    box: dict = {}

    def main():
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)

        async def start():
            runner = web.AppRunner(make_app())
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            box["runner"] = runner
            box["url"] = f"http://127.0.0.1:{runner.addresses[0][1]}"

        try:
            loop.run_until_complete(start())
        except BaseException as e:  # noqa: BLE001 - reported to the test thread
            box["error"] = e
            started.set()
            return
        box["loop"] = loop
        started.set()
        loop.run_forever()
        loop.run_until_complete(box["runner"].cleanup())
        loop.close()

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    assert started.wait(20), "server did not start"
    if "error" in box:
        raise box["error"]
    try:
        yield box["url"]
    finally:
        box["loop"].call_soon_threadsafe(box["loop"].stop)
        thread.join(20)
