"""Fixtures: real redis-server processes (a missing binary fails the run, never skips it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .redis_server import RedisServer


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def scriptless_redis() -> Iterator[RedisServer]:
    """A server that refuses every script command, as a locked-down proxy or ACL would."""
    server = RedisServer(
        'rename-command EVAL ""\nrename-command EVALSHA ""\nrename-command SCRIPT ""'
    )
    yield server
    server.close()


@pytest.fixture
def redis_uri(redis_server: RedisServer, request: pytest.FixtureRequest) -> str:
    """A fresh database-0 key space per test: keys are prefixed by the store, so flush it."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=redis_server.port)
    client.flushall()
    client.close()
    return redis_server.uri()
