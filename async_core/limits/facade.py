"""What the limiters shared by many loops and threads add around ``acquire`` and
``acquire_blocking``: the limit's fields, and ``async with limit:`` / ``with limit:`` to take one
start (recorded when granted)."""

from __future__ import annotations

from async_core.limits.store import Window

__all__ = ["SharedLimit"]


class SharedLimit:
    __slots__ = ()
    window: Window

    scope = property(lambda self: self.window.scope)
    calls = property(lambda self: self.window.calls)
    period = property(lambda self: self.window.period)
    guard = property(lambda self: self.window.guard)

    async def __aenter__(self) -> None:
        await self.acquire()  # type: ignore[attr-defined]

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    def __enter__(self) -> None:
        self.acquire_blocking()  # type: ignore[attr-defined]

    def __exit__(self, *exc_info: object) -> None:
        return None
