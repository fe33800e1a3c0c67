"""Fakes for engine tests: a clock whose sleep only advances time, and a scripted transport."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from multidict import CIMultiDict

from async_core import Request, Response


class FakeClock:
    """``sleep`` advances both clocks and records the wait; nothing really sleeps."""

    __slots__ = ("now", "wall", "sleeps", "log")

    def __init__(self, now: float = 1000.0, wall: float = 1_700_000_000.0, log=None) -> None:
        self.now = now
        self.wall = wall
        self.sleeps: list[float] = []
        self.log: list[tuple] = log if log is not None else []

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.wall

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.wall += seconds

    async def sleep(self, seconds: float) -> None:
        assert seconds >= 0, seconds
        self.sleeps.append(seconds)
        self.log.append(("sleep", self.now, seconds))
        self.advance(seconds)


class FakeRaw:
    """Stands in for an aiohttp response held open (a stream): counts release/close."""

    def __init__(self, log: list[tuple], index: int, clock: FakeClock) -> None:
        self.log, self.index, self.clock = log, index, clock
        self.released = 0
        self.closed = 0

    def release(self) -> None:
        self.released += 1
        self.log.append(("release", self.clock.now, self.index))

    def close(self) -> None:
        self.closed += 1
        self.log.append(("close", self.clock.now, self.index))


Outcome = int | tuple[int, dict[str, str]] | BaseException | Callable[[], Any]


class ScriptedTransport:
    """Answers attempt ``i`` with ``script[i]`` (the last entry repeats): a status, a
    ``(status, headers)`` pair, or an exception to raise. Each attempt takes ``duration`` seconds
    of fake time. Every response holds a FakeRaw so releases can be checked."""

    def __init__(
        self, script: Iterable[Outcome], clock: FakeClock, duration: float = 0.0
    ) -> None:
        self.script = list(script)
        self.clock = clock
        self.duration = duration
        self.starts: list[float] = []
        self.total_timeouts: list[float | None] = []
        self.requests: list[Request] = []
        self.responses: list[Response] = []
        self.raws: list[FakeRaw] = []

    async def send(
        self,
        request: Request,
        total_timeout: float | None,
        on_sent: Callable[[], None] | None = None,
    ) -> Response:
        index = len(self.starts)
        self.starts.append(self.clock.now)
        if on_sent is not None:
            on_sent()
        self.total_timeouts.append(total_timeout)
        self.requests.append(request)
        self.clock.log.append(("attempt", self.clock.now, index))
        self.clock.advance(self.duration)
        outcome = self.script[min(index, len(self.script) - 1)]
        if isinstance(outcome, BaseException):
            raise outcome
        status, headers = outcome if isinstance(outcome, tuple) else (outcome, {})
        raw = FakeRaw(self.clock.log, index, self.clock)
        self.raws.append(raw)
        response = Response(
            status, CIMultiDict(headers), None, url=request.url, method=request.method, raw=raw
        )
        self.responses.append(response)
        return response

    @property
    def attempts(self) -> int:
        return len(self.starts)
