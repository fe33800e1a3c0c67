"""A store URI is shown one way (``async_core.limits.uri.describe``) in every message and repr:
no user-info, no query (it may carry a password), nothing added."""

from __future__ import annotations

import pytest

from async_core.limits.redis_store import RedisStore
from async_core.limits.uri import describe


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("redis://alice:pw-SECRET-1@cache.example/2?password=Q-SECRET-2", "redis://cache.example/2"),
        ("rediss://:pw-SECRET-1@cache.example:6380/0", "rediss://cache.example:6380/0"),
        ("redis://TOKEN-SECRET-3@10.0.0.5:6379", "redis://10.0.0.5:6379"),
    ],
)
def test_redis_store_shows_its_uri_like_every_store(uri, shown):
    store = RedisStore(uri)
    assert store.where == describe(uri) == shown
    assert repr(store).startswith(f"<RedisStore {shown} ")
    assert "SECRET" not in repr(store)
