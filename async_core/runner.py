"""The blocking facade's engine room: one background event-loop thread, started lazily.

Blocking APIs submit coroutines here and wait. This works whether or not the caller's thread
already runs a loop (Jupyter, an async web handler), because the work runs on *our* loop. That
loop is ours, not the user's, so it runs on uvloop when uvloop is installed (``loop_factory``).
The process's default runner is held by ``async_core.defaults``.
"""

from __future__ import annotations

import _thread
import asyncio
import concurrent.futures
import os
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, TypeVar

from async_core.errors import BlockingCallInRunnerThread

T = TypeVar("T")

_SHUTDOWN_TIMEOUT = 5.0


class _Call:
    """One blocking call: a lighter hand-off than run_coroutine_threadsafe (no chained futures,
    no Condition), which matters when a loopback request itself takes ~300 us."""

    __slots__ = ("coro", "task", "done", "result", "error", "cancelled")

    def __init__(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.coro = coro
        self.task: asyncio.Task | None = None
        self.done = _thread.allocate_lock()
        self.done.acquire()
        self.result: Any = None
        self.error: BaseException | None = None
        self.cancelled = False

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.cancelled:
            self.coro.close()
            self.error = asyncio.CancelledError()
            self.done.release()
            return
        self.task = loop.create_task(self._run())

    async def _run(self) -> None:
        # The caller is released from inside the task's last step, not from a done callback,
        # which would cost the loop one more turn before the caller could even be woken.
        try:
            self.result = await self.coro
        except asyncio.CancelledError:
            self.error = asyncio.CancelledError()
        except BaseException as e:  # KeyboardInterrupt too: the caller gets it, not the loop
            self.error = e
        finally:
            self.done.release()

    def cancel(self) -> None:
        self.cancelled = True
        if self.task is not None:
            self.task.cancel()


class LoopRunner:
    """Owns one event loop running forever in a daemon thread."""

    __slots__ = ("_loop", "_thread", "_lock", "_thread_id", "_loop_factory")

    def __init__(self, loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None) -> None:
        self._loop_factory = loop_factory or default_loop_factory()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._thread_id: int | None = None
        self._lock = threading.Lock()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is None or loop.is_closed():
            loop = self._start()
        return loop

    def in_runner_thread(self) -> bool:
        return self._thread_id is not None and threading.get_ident() == self._thread_id

    def _start(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is not None and not self._loop.is_closed():
                return self._loop
            loop = self._loop_factory()
            ready = threading.Event()
            thread = threading.Thread(
                target=self._serve, args=(loop, ready), name="async-core-runner", daemon=True
            )
            thread.start()
            ready.wait()
            self._loop, self._thread = loop, thread
            return loop

    def _serve(self, loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        self._thread_id = threading.get_ident()
        loop.call_soon(ready.set)
        try:
            loop.run_forever()
        finally:
            self._thread_id = None

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the runner loop and block until it finishes.

        KeyboardInterrupt (or any BaseException) while waiting cancels the in-flight coroutine.
        """
        if self.in_runner_thread():
            coro.close()
            raise BlockingCallInRunnerThread(
                "A blocking call was made from the async_core runner's own event-loop thread, "
                "which would deadlock. From async code, await the async twin instead (for "
                "example `await ahttp_request(...)` or `await client.apredict(...)`)."
            )
        call = _Call(coro)
        self.loop.call_soon_threadsafe(call.start, self.loop)
        try:
            call.done.acquire()
        except BaseException:
            # Ctrl-C or similar while waiting: cancel the request on the loop, then re-raise.
            self.loop.call_soon_threadsafe(call.cancel)
            call.done.acquire(timeout=_SHUTDOWN_TIMEOUT)
            raise
        if call.error is not None:
            raise call.error
        return call.result

    def close(self) -> None:
        """Close every session of the runner loop (via shutdown_asyncgens), then stop it."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or loop.is_closed() or thread is None:
            return
        if thread.is_alive():
            try:
                asyncio.run_coroutine_threadsafe(loop.shutdown_asyncgens(), loop).result(
                    _SHUTDOWN_TIMEOUT
                )
            except (concurrent.futures.TimeoutError, RuntimeError):
                pass
            loop.call_soon_threadsafe(loop.stop)
            thread.join(_SHUTDOWN_TIMEOUT)
        if not thread.is_alive():
            close_loop(loop)


def close_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Close a stopped loop (not running in any thread) after cancelling what is still pending
    on it, such as a request a server accepted while it shut down. A task left pending on a
    closed loop is destroyed later by the garbage collector, which then reports it from
    whatever code happens to be running."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        _finish_and_close(loop)
        return
    # Called from async code: this thread cannot run a second loop, a short-lived one can.
    closer = threading.Thread(target=_finish_and_close, args=(loop,), name="close-loop")
    closer.start()
    closer.join()


def _finish_and_close(loop: asyncio.AbstractEventLoop) -> None:
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()


def default_loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """uvloop's loop when it is installed (and not disabled with ASYNC_CORE_NO_UVLOOP=1),
    else asyncio's."""
    if os.environ.get("ASYNC_CORE_NO_UVLOOP", "") not in ("", "0"):
        return asyncio.new_event_loop
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def get_runner() -> LoopRunner:
    """The process's default runner (the blocking facade's loop)."""
    from async_core.defaults import DEFAULTS

    return DEFAULTS.runner()


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on the shared background loop and return its result (blocking)."""
    return get_runner().run(coro)


async def _next(iterator: AsyncIterator[T]) -> T:
    return await iterator.__anext__()


def iter_sync(iterable: Any) -> Iterator[Any]:
    """A blocking iterator over an async iterable, each step run on the shared loop."""
    iterator = iterable.__aiter__()
    runner = get_runner()
    try:
        while True:
            try:
                item = runner.run(_next(iterator))
            except StopAsyncIteration:
                return
            yield item
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            runner.run(aclose())
