"""Injectable time: retry and throttle timing is tested with a fake clock instead of real sleeps."""

from __future__ import annotations

import asyncio
import time


class Clock:
    """The real clock. ``monotonic`` for deadlines, ``time`` for HTTP dates, ``sleep`` to wait."""

    __slots__ = ()

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


SYSTEM_CLOCK = Clock()
