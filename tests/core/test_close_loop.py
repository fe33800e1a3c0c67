"""``close_loop``: a server thread's stopped loop is closed with nothing left pending on it."""

from __future__ import annotations

import asyncio
import gc
import logging

from async_core.runner import close_loop


def test_pending_tasks_are_cancelled_and_finished_before_the_loop_closes(caplog) -> None:
    loop = asyncio.new_event_loop()
    cleaned = []

    async def serve_forever(name: str) -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            cleaned.append(name)  # runs on the live loop, before close

    started = loop.create_task(serve_forever("started"))
    loop.run_until_complete(asyncio.sleep(0))  # "started" is now awaiting
    never_started = loop.create_task(serve_forever("never started"))  # like a late request

    with caplog.at_level(logging.ERROR, logger="asyncio"):
        close_loop(loop)
        del started, never_started
        gc.collect()

    assert loop.is_closed()
    assert cleaned == ["started"]  # the one that never ran is closed without running
    assert "Task was destroyed but it is pending" not in caplog.text


def test_an_idle_loop_just_closes() -> None:
    loop = asyncio.new_event_loop()
    close_loop(loop)
    assert loop.is_closed()


async def test_it_works_from_async_code_too() -> None:
    other = asyncio.new_event_loop()
    task = other.create_task(asyncio.sleep(3600))
    close_loop(other)  # this thread runs a loop already: the closing happens on another thread
    assert other.is_closed() and task.cancelled()
