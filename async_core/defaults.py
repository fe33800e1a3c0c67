"""The process's defaults, in one object: the blocking facade's runner and one ``AsyncClient``
for callers that do not hold their own. Created on first use, closed at interpreter exit, and
reset in a forked child (the only fork handler: the parent's loop thread, sessions and sockets
are not the child's)."""

from __future__ import annotations

import atexit
import os
import threading

from async_core.client import AsyncClient
from async_core.hooks import Hooks
from async_core.runner import LoopRunner
from async_core.sessions import SessionFactory, abandon_all_pools


class Defaults:
    __slots__ = ("_runner", "_client", "_hooks", "_factory", "_lock", "_orphans")

    def __init__(self) -> None:
        self._runner: LoopRunner | None = None
        self._client: AsyncClient | None = None
        self._hooks = Hooks()
        self._factory: SessionFactory | None = None
        self._lock = threading.Lock()
        self._orphans: list[object] = []

    def runner(self) -> LoopRunner:
        runner = self._runner
        if runner is None:
            with self._lock:
                if self._runner is None:
                    self._runner = LoopRunner()
                runner = self._runner
        return runner

    def client(self) -> AsyncClient:
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    self._client = AsyncClient(hooks=self._hooks)
                    if self._factory is not None:
                        self._client.set_session_factory(self._factory)
                client = self._client
        return client

    def set_hooks(self, hooks: Hooks) -> None:
        """The default client's hooks, now and after a fork."""
        self._hooks = hooks
        if self._client is not None:
            self._client.hooks = hooks

    def set_session_factory(self, factory: SessionFactory) -> None:
        """How the default client builds its sessions (limits, connector options), now and after
        a fork. Applies to sessions made later."""
        self._factory = factory
        self.client().set_session_factory(factory)

    def close(self) -> None:
        runner = self._runner
        if runner is not None:
            runner.close()  # its loop's shutdown closes every session made on it

    def after_fork_in_child(self) -> None:
        # Kept referenced, never closed: closing would act on the parent's sockets and threads.
        self._orphans.append((self._runner, self._client))
        self._runner = self._client = None
        self._lock = threading.Lock()
        abandon_all_pools()


DEFAULTS = Defaults()


def default_client() -> AsyncClient:
    return DEFAULTS.client()


atexit.register(DEFAULTS.close)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=DEFAULTS.after_fork_in_child)
