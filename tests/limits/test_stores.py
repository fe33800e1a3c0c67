"""Every store, memory and a real redis-server (scripts, and scripts refused), on one table of
behaviour: atomic admission, pending starts, pauses, refusal figures, failure and URIs."""

from __future__ import annotations

import asyncio
import logging
import math
import socket
import time

import pytest

from async_core.limits import (
    MemoryStore,
    StoreUnavailable,
    Window,
    describe,
    open_store,
)
from async_core.limits.redis_store import RedisStore

from .redis_server import RedisServer

KINDS = ["memory", "redis", "redis-scriptless"]


@pytest.fixture(params=KINDS)
async def store(request, redis_uri, scriptless_redis: RedisServer):
    if request.param == "memory":
        made = MemoryStore()
    elif request.param == "redis":
        made = RedisStore(redis_uri)
    else:
        made = RedisStore(scriptless_redis.uri(db=request.node.name.__hash__() % 15 + 1))
        import redis

        client = redis.Redis(host="127.0.0.1", port=scriptless_redis.port)
        client.flushall()
        client.close()
    yield made
    await made.aclose()


def _window(scope: str = "api", calls: int = 3, period: float = 1.0, guard: float = 0.0):
    return Window(scope, calls, period, guard)


async def test_admits_calls_then_refuses_with_the_exact_wait(store) -> None:
    window = _window(calls=3, period=10.0, guard=0.5)
    t0 = 1000.0
    answers = [await store.admit(window, now=t0 + i) for i in range(3)]
    assert [a.admitted for a in answers] == [True, True, True]
    assert [a.remaining for a in answers] == [2, 1, 0]
    refused = await store.admit(window, now=t0 + 3)
    assert not refused.admitted and refused.token is None
    # The oldest start (t0) leaves at t0 + 10.5: 7.5 s after t0 + 3.
    assert refused.wait == pytest.approx(7.5, abs=1e-3)
    assert refused.reset == pytest.approx(7.5, abs=1e-3)
    assert refused.remaining == 0
    again = await store.admit(window, now=t0 + 10.5)
    assert again.admitted  # exactly one span after the oldest start


async def test_limits_of_one_scope_have_separate_windows_and_one_pause(store) -> None:
    a, b = _window(calls=1, period=5.0), _window(calls=2, period=5.0)
    assert (await store.admit(a, now=10.0)).admitted
    assert (await store.admit(b, now=10.0)).admitted
    assert not (await store.admit(a, now=10.1)).admitted
    if isinstance(store, MemoryStore):
        return  # its pause is on its own clock, checked in test_pause_blocks_every_limit
    other = _window(scope="other", calls=1, period=5.0)
    assert (await store.admit(other, now=10.2)).admitted


async def test_a_pending_start_holds_its_place_until_dated_or_released(store) -> None:
    window = _window(calls=1, period=2.0)
    now = store.clock()
    held = await store.admit(window, pending=True, now=now)
    assert held.admitted and held.token
    blocked = await store.admit(window, now=now + 5.0)  # pending counts at every instant
    assert not blocked.admitted
    await store.release(window, held.token)
    taken = await store.admit(window, pending=True, now=now + 5.0)
    assert taken.admitted
    await store.started(window, taken.token, at=now + 5.0)
    assert not (await store.admit(window, now=now + 6.9)).admitted
    assert (await store.admit(window, now=now + 7.0)).admitted  # 2 s after it was dated


async def test_a_given_back_start_frees_its_place(store) -> None:
    window = _window(calls=1, period=60.0)
    got = await store.admit(window, now=50.0)
    assert not (await store.admit(window, now=51.0)).admitted
    await store.release(window, got.token)
    assert (await store.admit(window, now=51.0)).admitted


async def test_pause_blocks_every_limit_of_the_scope(store) -> None:
    window = _window(calls=5, period=1.0)
    await store.pause("api", 0.3)
    refused = await store.admit(window)
    assert not refused.admitted
    assert 0.1 < refused.wait <= 0.31
    await asyncio.sleep(refused.wait + 0.02)
    assert (await store.admit(window)).admitted


async def test_concurrent_admissions_from_many_loops_admit_exactly_calls(store) -> None:
    """Atomicity: 4 threads with their own loops, 40 concurrent admissions each, one window."""
    window = _window(scope="race", calls=37, period=30.0)

    async def burst() -> int:
        answers = await asyncio.gather(*(store.admit(window) for _ in range(40)))
        if hasattr(store, "aclose"):
            await store.aclose()
        return sum(a.admitted for a in answers)

    results = await asyncio.gather(*(asyncio.to_thread(asyncio.run, burst()) for _ in range(4)))
    assert sum(results) == 37


async def test_scriptless_server_falls_back_to_transactions_with_a_warning(
    scriptless_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    store = RedisStore(scriptless_redis.uri(db=14))
    caplog.set_level(logging.WARNING, "async_core.limits.redis_store")
    window = _window(scope="fallback", calls=2, period=30.0)
    answers = [await store.admit(window) for _ in range(3)]
    assert [a.admitted for a in answers] == [True, True, False]
    assert not store.scripts
    assert any("refuses scripts" in r.getMessage() for r in caplog.records)
    assert "127.0.0.1" in repr(store) and "transaction" in repr(store)
    await store.aclose()


async def test_acl_user_without_scripting_falls_back_too(redis_server: RedisServer) -> None:
    import redis

    admin = redis.Redis(host="127.0.0.1", port=redis_server.port)
    admin.execute_command(
        "ACL", "SETUSER", "noscript", "on", ">s3cret-pass", "~*", "+@all", "-@scripting"
    )
    admin.close()
    store = RedisStore(redis_server.uri(db=13, user="noscript", password="s3cret-pass"))
    window = _window(scope="acl", calls=1, period=30.0)
    assert (await store.admit(window)).admitted
    assert not (await store.admit(window)).admitted
    assert not store.scripts
    assert "s3cret" not in repr(store)
    await store.aclose()


async def test_a_script_error_of_our_own_is_not_mistaken_for_refused_scripts(redis_uri) -> None:
    store = RedisStore(redis_uri)
    import redis.exceptions

    store._sha = "0" * 40  # unknown: NOSCRIPT, then EVAL of the real script
    assert (await store.admit(_window(scope="sha"))).admitted
    assert store.scripts and store._sha != "0" * 40
    bad = RedisStore(redis_uri)
    bad.pending_ttl = "not-a-number"  # type: ignore[assignment]  # the script fails
    with pytest.raises(redis.exceptions.ResponseError):
        await bad.admit(_window(scope="bad"))
    assert bad.scripts
    await store.aclose()
    await bad.aclose()


async def test_unreachable_store_raises_within_its_timeout() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed: connection refused
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts, never answers
    try:
        for uri in (
            f"redis://:hunter2@127.0.0.1:{port}/0",
            f"redis://:hunter2@127.0.0.1:{silent.getsockname()[1]}/0",
        ):
            store = RedisStore(uri, timeout=0.3)
            began = time.monotonic()
            with pytest.raises(StoreUnavailable) as info:
                await store.admit(_window())
            assert time.monotonic() - began < 2.0
            assert "hunter2" not in str(info.value) and "127.0.0.1" in str(info.value)
            with pytest.raises(StoreUnavailable):
                await store.ping()
            await store.aclose()
    finally:
        silent.close()


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("mysql://user:pw@host/db", "scheme 'mysql' is not supported"),
        ("redis://:pw@host:notaport/0", "does not parse"),
        ("redis://:pw@host:6379/zero", "database must be a number"),
        (42, "of type int"),
    ],
)
def test_bad_store_uris_are_refused_without_their_password(uri, message) -> None:
    with pytest.raises(ValueError, match="Invalid rate-limit storage URI") as info:
        open_store(uri)
    assert message in str(info.value)
    assert "pw" not in str(info.value)


def test_store_uris_choose_the_store_and_are_shared_per_uri(redis_uri) -> None:
    assert isinstance(open_store(None), MemoryStore)
    assert open_store("memory://") is open_store("memory://")
    shared = open_store(redis_uri)
    assert isinstance(shared, RedisStore) and shared is open_store(redis_uri)
    tls = open_store("rediss://:pw@cache.example.com:6380/2")
    assert isinstance(tls, RedisStore) and "pw" not in repr(tls)
    assert describe("rediss://:pw@cache.example.com:6380/2") == "rediss://cache.example.com:6380/2"


@pytest.mark.parametrize(
    ("calls", "period"),
    [(0, 1.0), (2.5, 1.0), (True, 1.0), (10**7, 1.0), (1, math.nan), (1, math.inf), (1, 1e308),
     (1, -1.0), (1, 0)],
)
def test_absurd_windows_are_refused_naming_the_value(calls, period) -> None:
    with pytest.raises(ValueError, match="Invalid rate limit") as info:
        Window("scope", calls, period)
    assert repr(calls) in str(info.value) or repr(period) in str(info.value)
