"""One pooled aiohttp ``ClientSession`` per event loop, closed when that loop shuts down.

A ``ClientSession`` belongs to the loop it was created on, so the pool is keyed on the running loop.
Closing rides on ``loop.shutdown_asyncgens()`` (which ``asyncio.run`` and our runner both call):
each session is paired with a parked async generator whose ``finally`` closes it, so user loops
that come and go never leave an "Unclosed client session" behind.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncGenerator, Callable
from typing import Any

import aiohttp

SessionFactory = Callable[[], aiohttp.ClientSession]

# Seconds to let transports finish closing after session.close() (SSL needs a loop turn or two).
_CLOSE_GRACE = 0.01


def default_session_factory(
    trace_configs: list | None = None, auto_decompress: bool = True, **options: Any
) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=100, limit_per_host=0)
    # trust_env stays off: aiohttp would then make two thread hops per request (netrc, proxy
    # lookup). The transport resolves environment proxies itself, once per host.
    return aiohttp.ClientSession(
        connector=connector,
        trust_env=False,
        auto_decompress=auto_decompress,
        trace_configs=trace_configs,
        **options,
    )


async def _close_on_loop_shutdown(
    pool: SessionPool, loop: asyncio.AbstractEventLoop, session: aiohttp.ClientSession
) -> AsyncGenerator[None, None]:
    try:
        while True:
            yield
    finally:
        # The entry refers to the loop through its session, so it must be dropped explicitly,
        # or every short-lived loop (one asyncio.run per job) would stay in memory.
        pool._forget(loop, session)
        if not session.closed:
            await session.close()
            await asyncio.sleep(_CLOSE_GRACE)


class SessionPool:
    """Hands out the current loop's session, creating it on first use."""

    __slots__ = ("_factory", "_entries", "_last", "__weakref__")

    def __init__(self, factory: SessionFactory = default_session_factory) -> None:
        self._factory = factory
        _POOLS.add(self)
        # loop -> (session, closer generator). The closer removes its entry when the loop shuts
        # down; weak keys alone would not free it (the session refers to its loop).
        self._entries: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        # The last (loop, session) handed out: most calls come from the same loop as the last
        # one, and this spares the weak-key lookup. Replaced whole, so threads never see a mix.
        self._last: tuple = (None, None)

    def get(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        last_loop, last_session = self._last
        if last_loop is loop and not last_session.closed:
            return last_session
        entry = self._entries.get(loop)
        session = entry[0] if entry is not None and not entry[0].closed else self._create(loop)
        self._last = (loop, session)
        return session

    def set_factory(self, factory: SessionFactory) -> None:
        """Build this pool's later sessions with ``factory`` (connector limits, options)."""
        self._factory = factory

    def _create(self, loop: asyncio.AbstractEventLoop) -> aiohttp.ClientSession:
        # A loop closed without shutdown_asyncgens never ran its closer: drop its entry now.
        for stale in [other for other in self._entries if other.is_closed()]:
            self._entries.pop(stale, None)
        session = self._factory()
        closer = _close_on_loop_shutdown(self, loop, session)
        # Run the generator to its first yield now: this registers it with the loop (firstiter
        # hook), and the loop's weak set of generators needs our strong reference below.
        try:
            closer.asend(None).send(None)
        except StopIteration:
            pass
        self._entries[loop] = (session, closer)
        return session

    def _forget(self, loop: asyncio.AbstractEventLoop, session: aiohttp.ClientSession) -> None:
        if self._last[0] is loop:
            self._last = (None, None)
        entry = self._entries.get(loop)
        if entry is not None and entry[0] is session:
            del self._entries[loop]

    async def aclose(self) -> None:
        """Close the running loop's session now (for explicit cleanup)."""
        entry = self._entries.pop(asyncio.get_running_loop(), None)
        if entry is not None:
            await entry[1].aclose()

    def abandon(self) -> None:
        """Forget every session without touching it (after fork: they belong to the parent)."""
        _FORK_ORPHANS.append(list(self._entries.items()))
        self._entries = weakref.WeakKeyDictionary()
        self._last = (None, None)


# Sessions inherited across fork() are kept referenced, never closed: closing them would act on
# the parent's sockets and epoll set.
_FORK_ORPHANS: list = []
# Every pool, so a forked child can abandon them all (see async_core.lifecycle).
_POOLS: weakref.WeakSet[SessionPool] = weakref.WeakSet()


def abandon_all_pools() -> None:
    for pool in list(_POOLS):
        pool.abandon()
