"""Fixtures for the gateway store tests: a store on a real SQLite file in a temp directory."""

from __future__ import annotations

import pytest

from mlflow.store.gateway.sqlalchemy_store import GatewayStore

PASSPHRASE = "test-passphrase-0123456789-abcdefghij"
# Fast key derivation for tests; production databases use 600,000 iterations.
TEST_ITERATIONS = 1000


@pytest.fixture
def db_uri(tmp_path):
    return f"sqlite:///{tmp_path / 'gateway.db'}"


@pytest.fixture
async def store(db_uri):
    store = await GatewayStore.open(db_uri, passphrase=PASSPHRASE, kdf_iterations=TEST_ITERATIONS)
    yield store
    await store.aclose()


@pytest.fixture
async def openai_definition(store):
    secret = await store.create_secret("openai-key", {"api_key": "sk-test-key-1234567890"})
    return await store.create_model_definition("gpt", secret.secret_id, "openai", "gpt-4o-mini")
