"""Fixtures: an owner loop on a thread (standing in for the background runner) and throttles
owned by it; a loopback fixed-window server."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from async_core.throttle import Throttle

from .helpers import FixedWindowServer, LoopThread


@pytest.fixture
def owner() -> Iterator[LoopThread]:
    thread = LoopThread("throttle-owner")
    yield thread
    thread.close()


@pytest.fixture
def throttle(owner: LoopThread) -> Throttle:
    return Throttle(lambda: owner.loop)


@pytest.fixture
def make_throttle(owner: LoopThread) -> Callable[..., Throttle]:
    """A throttle owned by ``owner`` with a chosen guard."""

    def make(guard: float | None = None) -> Throttle:
        return Throttle(lambda: owner.loop, guard=guard)

    return make


@pytest.fixture
def fixed_window_server() -> Iterator[Callable[..., FixedWindowServer]]:
    servers: list[FixedWindowServer] = []

    def start(calls: int, period: float, anchor: str = "first-hit") -> FixedWindowServer:
        server = FixedWindowServer(calls, period, anchor)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()
